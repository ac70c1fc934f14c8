"""Compare classifier settings (n-gram count transform, USE weight, C) on dev splits only (issue 15).

    python scripts/compare_feature_weights.py [--model models/X.tar.gz] [--configs raw:1:1 log:3:1 ...]

Parses every training example and every dev example once through the trained model, keeping the
features the classifier receives before WeightedLogisticRegression transforms them (raw n-gram
counts and the 512 USE values) and the in-scope detector's similarities. Then, for each setting
``counts:weight:C`` (counts ``raw`` or ``log``), it fits the same liblinear logistic regression as
the component on the training rows and applies the detector (0.55), the fallback (0.4, ambiguity
0.02) and the consent threshold of config.yml as the pipeline does, and prints per setting:
written dev accuracy (as written, with typos, without punctuation: eval_perturbations.py), real
in-scope dev accuracy, and the real out-of-scope dev questions taken as a domain intent and as an
acting intent without asking. The held-out splits are not read. ``raw:1:1`` is Rasa's own
LogisticRegressionClassifier. The keyword components (CancelPhrases, ScamVictimNow) are not
simulated; the setting the model was trained with reproduces eval_real.py's dev figures.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import eval_perturbations  # noqa: E402
from eval_nlu import latest_model, load_examples  # noqa: E402
from eval_real import ACTING, HARMLESS, consent_config  # noqa: E402

DEFAULT_CONFIGS = ("raw:1:1", "raw:3:1", "log:1:1", "log:2:1", "log:3:1", "log:4:1", "log:3:2", "log:4:2", "log:6:1")
DETECTOR, FALLBACK, AMBIGUITY = 0.55, 0.4, 0.02


def dev_sets() -> dict[str, list[tuple[str, str]]]:
    sets: dict[str, list[tuple[str, str]]] = {}
    for lang in ("zh", "en"):
        written = load_examples(ROOT / "tests" / "nlu_holdout" / f"{lang}.yml")
        sets[f"{lang} written"] = written
        sets[f"{lang} written, typos"] = [(eval_perturbations.typo(t), g) for t, g in written]
        sets[f"{lang} written, no punctuation"] = [(eval_perturbations.no_punctuation(t), g) for t, g in written]
        sets[f"{lang} real in-scope"] = load_examples(ROOT / "tests" / "nlu_real" / f"{lang}_inscope_dev.yml")
        sets[f"{lang} real out-of-scope"] = load_examples(ROOT / "tests" / "nlu_real" / f"{lang}_oos_dev.yml")
    return sets


def capture(model: Path, texts: list[str]) -> tuple[dict[str, Any], dict[str, tuple[float | None, float]]]:
    """Each text's untransformed classifier row and (nearest, best clause) detector similarity."""
    from rasa.core.agent import Agent
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier

    from bot.rasa_ext import nlu

    rows: dict[str, Any] = {}
    similarities: dict[str, tuple[float | None, float]] = {}
    transform = nlu.WeightedLogisticRegression._create_X
    detect = nlu.InScopeDetector.process

    def keep_rows(self: Any, messages: list[Any]) -> Any:
        raw = LogisticRegressionClassifier._create_X(self, messages)
        for index, message in enumerate(messages):
            rows[message.get("text")] = raw.getrow(index)
        return transform(self, messages)

    def keep_similarities(self: Any, messages: list[Any]) -> Any:
        for message in messages:
            nearest = self.similarity(message)
            clause = -1.0
            if nearest is not None and nearest < self.threshold:
                clause = self.clause_similarity(str(message.get("text") or ""))
            similarities[message.get("text")] = (nearest, clause)
        return detect(self, messages)

    nlu.WeightedLogisticRegression._create_X = keep_rows  # type: ignore[method-assign]
    nlu.InScopeDetector.process = keep_similarities  # type: ignore[method-assign]

    async def parse() -> None:
        agent = Agent.load(str(model))
        for text in texts:
            await agent.parse_message(text)

    asyncio.run(parse())
    return rows, similarities


def matrix(rows: dict[str, Any], texts: list[str], counts: str, weight: float) -> Any:
    from scipy.sparse import vstack

    from bot.rasa_ext.nlu import weigh_features

    return weigh_features(vstack([rows[t] for t in texts]), 512, sublinear_counts=counts == "log", dense_weight=weight)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--configs", nargs="*", default=list(DEFAULT_CONFIGS))
    args = parser.parse_args()
    from sklearn.linear_model import LogisticRegression

    from bot.rasa_ext.consent import asks_first
    from bot.rasa_ext.nlu import NOT_TOPICS

    train = [e for f in sorted((ROOT / "data").glob("nlu*/*.yml")) for e in load_examples(f)]
    sets = dev_sets()
    texts = list(dict.fromkeys([t for t, _ in train] + [t for ex in sets.values() for t, _ in ex]))
    rows, similarities = capture(args.model or latest_model(), texts)
    train = [(t, g) for t, g in train if t in rows]
    threshold, asked_about = consent_config()
    print(f"| counts, USE weight, C | {' | '.join(sets)} |")
    print("|" + " --- |" * (len(sets) + 1))
    for config in args.configs:
        counts, weight, c = config.split(":")
        clf = LogisticRegression(
            solver="liblinear", C=float(c), class_weight="balanced", max_iter=1000, random_state=42
        ).fit(matrix(rows, [t for t, _ in train], counts, float(weight)), [g for _, g in train])
        cells = []
        for name, examples in sets.items():
            probabilities = clf.predict_proba(matrix(rows, [t for t, _ in examples], counts, float(weight)))
            picked = []
            for (text, _), p in zip(examples, probabilities, strict=True):
                order = np.argsort(-p)
                intent, confidence = str(clf.classes_[order[0]]), float(p[order[0]])
                nearest, clause = similarities[text]
                if intent not in NOT_TOPICS and nearest is not None and max(nearest, clause) < DETECTOR:
                    intent = "out_of_scope"
                if confidence < FALLBACK or confidence - p[order[1]] < AMBIGUITY:
                    intent = "nlu_fallback"
                picked.append((text, intent, confidence))
            if name.endswith("out-of-scope"):
                domain = np.mean([i not in HARMLESS for _, i, _ in picked])
                acting = np.mean(
                    [i in ACTING and not asks_first(i, conf, t, threshold, asked_about) for t, i, conf in picked]
                )
                cells.append(f"{domain:.1%} / {acting:.1%}")
            else:
                cells.append(f"{np.mean([i == g for (_, g), (_, i, _) in zip(examples, picked, strict=True)]):.3f}")
        print(f"| {counts}, {weight}, {c} | {' | '.join(cells)} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
