"""Precision and recall of the SMS checker on the labelled corpus (tests/sms_corpus/corpus.yml).

    python scripts/eval_sms_checker.py

"Flagged" means the checker warned (likely_scam or suspicious). Scam is the positive class.
The corpus test asserts the part that matters most: no scam is ever left unflagged.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import yaml

from bot.domain.sms_check import check_sms, default_channels

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "sms_corpus" / "corpus.yml"


def main() -> int:
    messages = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))["messages"]
    channels = default_channels()
    counts: Counter[tuple[str, str, str]] = Counter()
    misses = []
    for m in messages:
        verdict = check_sms(m["text"], channels, m.get("sender", "")).verdict
        flagged = verdict in ("likely_scam", "suspicious")
        counts[(m["lang"], m["label"], "flagged" if flagged else "clear")] += 1
        if flagged != (m["label"] == "scam"):
            misses.append((m["id"], m["label"], verdict, m["text"]))

    def n(label: str, outcome: str, lang: str) -> int:
        return sum(v for (lg, lb, oc), v in counts.items() if lb == label and oc == outcome and lang in ("all", lg))

    for lang in ("zh", "en", "all"):
        tp, fn, fp, tn = (
            n("scam", "flagged", lang),
            n("scam", "clear", lang),
            n("genuine", "flagged", lang),
            n("genuine", "clear", lang),
        )
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        print(
            f"{lang:3}: scams {tp + fn:3} genuine {fp + tn:3} | precision {precision:.3f} recall {recall:.3f} "
            f"| scams called clear: {fn} | genuine flagged: {fp}"
        )
    for mid, label, verdict, text in misses:
        print(f"  {mid} ({label} -> {verdict}): {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
