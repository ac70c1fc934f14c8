"""The NLU on questions real people wrote (tests/nlu_real/, sources and licences in its README).

    python scripts/eval_real.py [--split dev|heldout|both] [--model models/X.tar.gz] [--errors]

For each language:
- in-scope: intent accuracy after the fallback (a fallback counts as wrong, it is a question back);
- out-of-scope: the share mapped to a domain intent (anything but out_of_scope, the fallback and
  small talk), the share mapped to an intent that acts (opens a form, a case or a ticket) with the
  confidence to act at once (``oos_to_acting``: not asked about first by ActingConsentPolicy,
  config.yml; an intent the policy does not ask about counts at any confidence), and the share mapped to an acting intent at any
  confidence (``oos_to_acting_any``).

Tune on ``dev`` only; ``heldout`` is for the figure quoted in the README (and the CI gate,
tests/integration/test_nlu_real_gate.py, which compares it with tests/nlu_real/gate.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from eval_nlu import latest_model, load_examples  # noqa: E402

sys.path.insert(0, str(ROOT))
from bot.rasa_ext.consent import asks_first  # noqa: E402

#: Not a domain answer: the assistant asks again or makes small talk, and nothing happens.
HARMLESS = frozenset(
    {"out_of_scope", "nlu_fallback", "greet", "goodbye", "thank", "affirm", "deny", "inform", "bot_challenge", "cancel"}
)
#: Intents whose rule opens a form, a case or a ticket (data/rules/).
ACTING = frozenset({"complain", "request_human", "report_scam", "never_borrowed", "request_extension", "verify_sms"})


def consent_config() -> tuple[float, frozenset[str]]:
    """The confidence an acting intent needs to act without asking, and the intents asked about
    (config.yml over ActingConsentPolicy's defaults, bot/rasa_ext/consent.py)."""
    import yaml

    from bot.rasa_ext.consent import ActingConsentPolicy

    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    policies = [p for p in config.get("policies") or [] if str(p.get("name", "")).endswith("ActingConsentPolicy")]
    if not policies:
        return 0.0, frozenset()
    merged = {**ActingConsentPolicy.get_default_config(), **policies[0]}
    return float(merged["threshold"]), frozenset(merged["intents"])


async def parse_all(model: Path, texts: list[str]) -> list[dict[str, Any]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    return [await agent.parse_message(t) for t in texts]


def evaluate(model: Path, split: str, show_errors: bool = False) -> dict[str, dict[str, float]]:
    """The four figures per language for one split of tests/nlu_real/."""
    folder = ROOT / "tests" / "nlu_real"
    sets = {
        (lang, kind): load_examples(folder / f"{lang}_{kind}_{split}.yml")
        for lang in ("zh", "en")
        for kind in ("inscope", "oos")
    }
    texts = [t for examples in sets.values() for t, _ in examples]
    parsed = iter(asyncio.run(parse_all(model, texts)))
    threshold, asked_about = consent_config()
    report: dict[str, dict[str, float]] = {}
    for (lang, kind), examples in sets.items():
        intents = [next(parsed)["intent"] for _ in examples]
        got = [i["name"] for i in intents]
        figures = report.setdefault(lang, {})
        if kind == "inscope":
            right = sum(g == p for (_, g), p in zip(examples, got, strict=True))
            figures["inscope_examples"] = len(examples)
            figures["inscope_accuracy"] = round(right / len(examples), 4)
        else:
            figures["oos_examples"] = len(examples)
            figures["oos_to_domain"] = round(sum(p not in HARMLESS for p in got) / len(got), 4)
            acts = sum(
                i["name"] in ACTING and not asks_first(i["name"], i["confidence"], text, threshold, asked_about)
                for i, (text, _) in zip(intents, examples, strict=True)
            )
            figures["oos_to_acting"] = round(acts / len(got), 4)
            figures["oos_to_acting_any"] = round(sum(p in ACTING for p in got) / len(got), 4)
        if show_errors:
            for (text, gold), p in zip(examples, got, strict=True):
                wrong = p != gold if kind == "inscope" else p not in HARMLESS
                if wrong:
                    print(f"  {lang} {kind} {gold:>18} -> {p}: {text}")
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--split", choices=("dev", "heldout", "both"), default="both")
    parser.add_argument("--errors", action="store_true", help="print the misclassified questions")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "nlu_real.json")
    args = parser.parse_args()
    model = args.model or latest_model()
    splits = ("dev", "heldout") if args.split == "both" else (args.split,)
    results = {"model": model.name}
    for split in splits:
        report = evaluate(model, split, args.errors)
        results[split] = report  # type: ignore[assignment]
        for lang, f in report.items():
            print(
                f"real {split}/{lang}: in-scope accuracy {f['inscope_accuracy']:.1%} (n={f['inscope_examples']:.0f}); "
                f"out-of-scope to a domain intent {f['oos_to_domain']:.1%}, acting without asking "
                f"{f['oos_to_acting']:.1%} (to an acting intent at all {f['oos_to_acting_any']:.1%}) "
                f"(n={f['oos_examples']:.0f})"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
