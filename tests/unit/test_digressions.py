"""Digressions: the generated rules and stories are current, and no form takes a question as an answer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from bot.rasa_ext.action_server import load_domain

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import generate_digressions as gen  # noqa: E402


def test_the_generated_digression_rules_and_stories_are_up_to_date() -> None:
    done = subprocess.run([sys.executable, "scripts/generate_digressions.py", "--check"], cwd=ROOT, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()


def test_no_form_takes_an_in_scope_question_as_the_answer_to_its_question() -> None:
    domain = load_domain(ROOT / "domain")
    for form, spec in gen.FORMS.items():
        assert domain["forms"][form]["required_slots"] == [
            s for s in spec["steps"] if s in domain["forms"][form]["required_slots"]
        ]
        for slot in domain["forms"][form]["required_slots"]:
            for mapping in domain["slots"][slot]["mappings"]:
                if mapping["type"] == "from_text":
                    asked = set(gen.digressions(form)) - gen.ALSO_ANSWERS.get(slot, set())
                    assert asked <= set(mapping.get("not_intent", [])), (form, slot)
                    assert gen.FORMS[form]["task"] not in mapping.get("not_intent", [])  # its own task is an answer


def test_a_digression_is_answered_as_the_same_question_is_outside_any_form() -> None:
    answers: dict[str, str] = {}
    for path in (ROOT / "data" / "rules").glob("*.yml"):
        if path.name == "digressions.yml":
            continue
        for rule in yaml.safe_load(path.read_text(encoding="utf-8")).get("rules", []):
            steps = rule.get("steps", [])
            if not rule.get("condition") and len(steps) == 2 and "intent" in steps[0] and "action" in steps[1]:
                answers[steps[0]["intent"]] = steps[1]["action"]
    assert {intent: answers.get(intent) for intent in gen.QUESTIONS} == gen.QUESTIONS
