"""Intent precision/recall/F1 per language on data that training never reads.

    python scripts/eval_nlu.py [--model models/X.tar.gz] [--out results/nlu_eval.json]

Two sets, both kept out of data/:
- dev  (tests/nlu_holdout/): 252 examples per language; its errors guided data and config work.
- test (tests/nlu_test/):    170 examples per language, written blind to the training data and
  never used for any decision; the figure to quote.
"final" is the intent the bot acts on
(after the FallbackClassifier, so a low-confidence answer counts as wrong); "raw" is the
classifier's top intent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
import unicodedata
from pathlib import Path

import yaml
from sklearn.metrics import classification_report, f1_score

ROOT = Path(__file__).resolve().parent.parent


def load_examples(path: Path) -> list[tuple[str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    pairs = []
    for block in data["nlu"]:
        for line in block["examples"].splitlines():
            line = line.strip()
            if line.startswith("- "):
                pairs.append((line[2:].strip(), block["intent"]))
    return pairs


def fingerprint(text: str) -> str:
    """Case, width, punctuation and spacing folded: how exact duplicates are recognised."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text).lower())


def training_fingerprints() -> set[str]:
    return {fingerprint(t) for path in (ROOT / "data" / "nlu").glob("*.yml") for t, _ in load_examples(path)}


def latest_model() -> Path:
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        sys.exit("no trained model in models/; run `make train` first")
    return models[-1]


async def predict(model: Path, texts: list[str]) -> list[tuple[str, str, float]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    out = []
    for text in texts:
        parsed = await agent.parse_message(text)
        ranking = [r for r in parsed.get("intent_ranking", []) if r["name"] != "nlu_fallback"]
        raw = ranking[0]["name"] if ranking else parsed["intent"]["name"]
        out.append((parsed["intent"]["name"], raw, float(parsed["intent"].get("confidence") or 0.0)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path)
    parser.add_argument(
        "--sets", nargs="*", default=["dev=tests/nlu_holdout", "test=tests/nlu_test"], help="NAME=DIR pairs"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "nlu_eval.json")
    parser.add_argument("--errors", action="store_true", help="print misclassified examples")
    args = parser.parse_args()
    model = args.model or latest_model()

    report: dict[str, object] = {"model": model.name}
    paths = []
    for spec in args.sets:
        name, _, folder = spec.partition("=")
        paths += [(f"{name}/{p.stem}", p) for p in sorted((ROOT / folder).glob("*.yml"))]
    seen_in_training = training_fingerprints()
    for language, path in paths:
        all_examples = load_examples(path)
        # An example that also appears in training (e.g. "你好", "hi") says nothing about generalisation.
        examples = [(t, g) for t, g in all_examples if fingerprint(t) not in seen_in_training]
        started = time.perf_counter()
        predictions = asyncio.run(predict(model, [t for t, _ in examples]))
        elapsed = time.perf_counter() - started
        gold = [g for _, g in examples]
        final = [p[0] for p in predictions]
        raw = [p[1] for p in predictions]
        labels = sorted(set(gold))
        report[language] = {
            "examples": len(examples),
            "skipped_as_in_training": len(all_examples) - len(examples),
            "macro_f1_final": round(f1_score(gold, final, labels=labels, average="macro", zero_division=0), 4),
            "macro_f1_raw": round(f1_score(gold, raw, labels=labels, average="macro", zero_division=0), 4),
            "accuracy_final": round(sum(g == p for g, p in zip(gold, final, strict=True)) / len(gold), 4),
            "fallback_rate": round(final.count("nlu_fallback") / len(final), 4),
            "ms_per_message": round(1000 * elapsed / len(examples), 2),
            "per_intent": classification_report(gold, final, labels=labels, output_dict=True, zero_division=0),
        }
        r = report[language]
        print(
            f"{language}: n={r['examples']} (skipped {r['skipped_as_in_training']} also in training) macro-F1 final={r['macro_f1_final']:.4f} raw={r['macro_f1_raw']:.4f} "  # type: ignore[index]
            f"accuracy={r['accuracy_final']:.4f} fallback={r['fallback_rate']:.2%} {r['ms_per_message']} ms/msg"
        )  # type: ignore[index]
        print(classification_report(gold, final, labels=labels, digits=3, zero_division=0))
        if args.errors:
            for (text, g), (f, rw, conf) in zip(examples, predictions, strict=True):
                if f != g:
                    print(f"  MISS {g:>18} -> {f} ({rw} {conf:.2f}): {text}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
