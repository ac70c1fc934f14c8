"""Fit time and dev-set macro-F1 of logistic-regression solvers on the pipeline's features.

    python scripts/compare_lr_solvers.py

The features are rebuilt as the pipeline builds them (MixedTextTokenizer words and char_wb 1-4
n-gram counts, the multilingual USE), on data/nlu/; the scores are on the dev set
(tests/nlu_holdout/) only, never the test set. "final" applies the FallbackClassifier's thresholds
(0.4, ambiguity 0.02) as the bot does. Used to choose the solver in config.yml (README, "NLU").
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from eval_nlu import load_examples  # noqa: E402

from bot.language import normalise  # noqa: E402
from bot.rasa_ext.nlu import _encoder, cut  # noqa: E402

SOLVERS = (
    {"solver": "lbfgs", "max_iter": 1000},
    {"solver": "lbfgs", "max_iter": 100},
    {"solver": "saga", "max_iter": 1000, "tol": 1e-3},
    {"solver": "liblinear", "max_iter": 1000},
)


def words(text: str) -> list[str]:
    return [w for w, _ in cut(normalise(text))]


def main() -> None:
    train = [p for f in sorted((ROOT / "data" / "nlu").glob("*.yml")) for p in load_examples(f)]
    dev = [p for lang in ("zh", "en") for p in load_examples(ROOT / "tests" / "nlu_holdout" / f"{lang}.yml")]
    texts, labels = [t for t, _ in train], [i for _, i in train]
    dev_texts, dev_labels = [t for t, _ in dev], [i for _, i in dev]
    word_counts = CountVectorizer(analyzer=words)
    char_counts = CountVectorizer(analyzer="char_wb", ngram_range=(1, 4))
    encoder = _encoder()
    x = hstack(
        [
            word_counts.fit_transform(texts),
            char_counts.fit_transform(texts),
            csr_matrix(np.atleast_2d(encoder.encode([normalise(t) for t in texts]))),
        ]
    ).tocsr()
    d = hstack(
        [
            word_counts.transform(dev_texts),
            char_counts.transform(dev_texts),
            csr_matrix(np.atleast_2d(encoder.encode([normalise(t) for t in dev_texts]))),
        ]
    ).tocsr()
    print(f"{x.shape[0]} examples, {x.shape[1]} features, {len(set(labels))} intents, dev {len(dev)}")
    for config in SOLVERS:
        clf = LogisticRegression(class_weight="balanced", random_state=42, **config)  # as Rasa's component
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(x, labels)
        seconds = time.perf_counter() - start
        proba = np.sort(clf.predict_proba(d), axis=1)
        raw = clf.predict(d)
        final = [
            p if s[-1] >= 0.4 and s[-1] - s[-2] >= 0.02 else "nlu_fallback" for p, s in zip(raw, proba, strict=True)
        ]
        f1 = f1_score(dev_labels, final, average="macro", labels=sorted(set(dev_labels)))
        fallback = sum(f == "nlu_fallback" for f in final) / len(final)
        print(
            f"{config}: fit {seconds:.1f} s, {int(np.max(clf.n_iter_))} iterations, "
            f"dev macro-F1 final {f1:.3f}, fallback {fallback:.1%}"
        )


if __name__ == "__main__":
    main()
