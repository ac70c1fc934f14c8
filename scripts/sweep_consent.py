"""Choose the confidence an acting intent needs to act without asking (issue 15), on dev splits only.

    python scripts/sweep_consent.py [--model models/X.tar.gz]

An intent that opens a form, a case or a ticket (eval_real.ACTING) acts at once only at or above
the threshold; below it the assistant asks first ("您是想投诉吗？"). For each threshold this prints,
per language, on the dev splits of tests/nlu_real/ and the written dev set (tests/nlu_holdout/):
- the real out-of-scope questions that would act without asking (target at most 1 %);
- the wrong acting predictions on in-scope questions caught by the question;
- the right acting predictions that would be asked first (the cost: one extra tap).
The held-out splits are not read.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from eval_nlu import latest_model, load_examples  # noqa: E402
from eval_real import ACTING, parse_all  # noqa: E402

THRESHOLDS = (0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    args = parser.parse_args()
    model = args.model or latest_model()
    sets = {}
    for lang in ("zh", "en"):
        sets[(lang, "real in-scope")] = load_examples(ROOT / "tests" / "nlu_real" / f"{lang}_inscope_dev.yml")
        sets[(lang, "real out-of-scope")] = load_examples(ROOT / "tests" / "nlu_real" / f"{lang}_oos_dev.yml")
        sets[(lang, "written dev")] = load_examples(ROOT / "tests" / "nlu_holdout" / f"{lang}.yml")
    texts = [t for examples in sets.values() for t, _ in examples]
    parsed = iter(asyncio.run(parse_all(model, texts)))
    rows: dict[str, list[tuple[str, str, float, str]]] = {"zh": [], "en": []}
    for (lang, kind), examples in sets.items():
        for _, gold in examples:
            intent = next(parsed)["intent"]
            expected = "out_of_scope" if kind == "real out-of-scope" else gold
            rows[lang].append((kind, expected, intent["confidence"] or 0.0, intent["name"]))
    print(f"model {model.name}")
    print(
        "| lang | threshold | real OOS acting without asking | wrong acting caught (in-scope) | right acting asked first |"
    )
    print("| --- | --- | --- | --- | --- |")
    for lang, items in rows.items():
        oos = [(c, p) for k, _, c, p in items if k == "real out-of-scope"]
        inscope = [(g, c, p) for k, g, c, p in items if k != "real out-of-scope" and p in ACTING]
        right = [c for g, c, p in inscope if g == p]
        wrong = [c for g, c, p in inscope if g != p]
        for t in THRESHOLDS:
            acts = sum(p in ACTING and c >= t for c, p in oos)
            caught = sum(c < t for c in wrong)
            asked = sum(c < t for c in right)
            print(
                f"| {lang} | {t:.2f} | {acts}/{len(oos)} = {acts / len(oos):.1%} | {caught}/{len(wrong)} | "
                f"{asked}/{len(right)} = {asked / max(len(right), 1):.1%} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
