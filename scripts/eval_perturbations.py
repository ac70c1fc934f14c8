"""Intent macro-F1 on clean vs perturbed held-out messages, per language.

    python scripts/eval_perturbations.py [--model models/X.tar.gz]

Perturbations (deterministic, seed 7), applied to the dev and test sets together:
typos (one swapped/dropped/doubled character per word-ish chunk), Traditional<->Simplified swap,
full-width characters, emoji appended, casing (upper/title), code-mixing (a Chinese or English
keyword swapped in), missing punctuation. Writes results/perturbations.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
from pathlib import Path

from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_nlu import ROOT, fingerprint, latest_model, load_examples, training_fingerprints  # noqa: E402

rng = random.Random(7)
EN_TO_ZH = {
    "overdue": "逾期",
    "loan": "贷款",
    "repay": "还款",
    "text": "短信",
    "sms": "短信",
    "credit": "征信",
    "human": "人工",
    "extension": "延期",
}
ZH_TO_EN = {
    "逾期": "overdue",
    "贷款": "loan",
    "还款": "repay",
    "短信": "sms",
    "征信": "credit report",
    "人工": "human",
    "延期": "delay",
}


def typo(text: str) -> str:
    chars = list(text)
    if len(chars) < 4:
        return text
    for _ in range(max(1, len(chars) // 12)):
        i = rng.randrange(1, len(chars) - 1)
        op = rng.choice(("swap", "drop", "double"))
        if op == "swap":
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        elif op == "drop":
            del chars[i]
        else:
            chars.insert(i, chars[i])
        if len(chars) < 4:
            break
    return "".join(chars)


def script_swap(text: str) -> str:
    from opencc import OpenCC

    if re.search(r"[\u4e00-\u9fff]", text):
        converter = OpenCC("s2t")
        traditional = converter.convert(text)
        return traditional if traditional != text else OpenCC("t2s").convert(text)
    return text


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in text)


def emoji(text: str) -> str:
    return text + rng.choice([" 😡", " 🙏", "😭😭", " 🤔", " 👍"])


def casing(text: str) -> str:
    return text.upper() if rng.random() < 0.5 else text.title()


def code_mix(text: str) -> str:
    """Swap one domain word for the other language's; a message without one stays as it is
    (appending a word such as "谢谢" would change what it means)."""
    for source, target in (EN_TO_ZH | ZH_TO_EN).items():
        if re.search(rf"\b{re.escape(source)}\b" if source.isascii() else re.escape(source), text, re.I):
            return re.sub(
                rf"\b{re.escape(source)}\b" if source.isascii() else re.escape(source),
                target,
                text,
                count=1,
                flags=re.I,
            )
    return text


def no_punctuation(text: str) -> str:
    return re.sub(r"[^\w\s\u4e00-\u9fff]", "", text).strip() or text


PERTURBATIONS = {
    "typos": typo,
    "traditional_simplified": script_swap,
    "full_width": full_width,
    "emoji": emoji,
    "casing": casing,
    "code_mixing": code_mix,
    "no_punctuation": no_punctuation,
}


async def predict(agent, texts: list[str]) -> list[str]:
    return [(await agent.parse_message(t))["intent"]["name"] for t in texts]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "perturbations.json")
    args = parser.parse_args()
    from rasa.core.agent import Agent

    agent = Agent.load(str(args.model or latest_model()))
    seen = training_fingerprints()
    report: dict[str, dict[str, float]] = {}
    for language in ("zh", "en"):
        examples = [
            e
            for folder in ("nlu_holdout", "nlu_test")
            for e in load_examples(ROOT / "tests" / folder / f"{language}.yml")
            if fingerprint(e[0]) not in seen
        ]
        gold = [g for _, g in examples]
        labels = sorted(set(gold))
        clean = asyncio.run(predict(agent, [t for t, _ in examples]))
        row = {"clean": round(f1_score(gold, clean, labels=labels, average="macro", zero_division=0), 4)}
        for name, perturb in PERTURBATIONS.items():
            predicted = asyncio.run(predict(agent, [perturb(t) for t, _ in examples]))
            row[name] = round(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0), 4)
        row["worst_drop_points"] = round(100 * (row["clean"] - min(v for k, v in row.items() if k != "clean")), 1)
        report[language] = row
        print(language, json.dumps(row))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
