"""Every domain file reads the same in every YAML reader, and every response renders in both languages.

tests/unit/test_domain_responses.py checks the merged domain (one zh and one en variation per
response, the same variables in their texts, matching buttons); this file checks each file as
written (buttons, language conditions) and renders every response the two ways the assistant
does: Rasa's response generator, and ``str.format`` in ``actions.common.render``.
"""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.utils.io import read_yaml_file

from bot.rasa_ext.action_server import domain_files

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_DIR = ROOT / "domain"
FILES = [path for path in domain_files(DOMAIN_DIR) if "responses" in read_yaml_file(path)]
# PyYAML implements YAML 1.1 (an unquoted Yes, No, On or Off is a boolean), as many tools reading
# the domain do; Rasa reads YAML 1.2 (only true/false are).
READERS: dict[str, Callable[[Path], Any]] = {
    "pyyaml": lambda path: yaml.safe_load(path.read_text(encoding="utf-8")),
    "rasa": lambda path: read_yaml_file(path),
}
DOMAIN = Domain.load(str(DOMAIN_DIR))
NLG = TemplatedNaturalLanguageGenerator(DOMAIN.responses)
LANGUAGES = ("zh", "en")
# A placeholder as Rasa's interpolator finds one (rasa.core.nlg.interpolator): anything in braces.
PLACEHOLDER = re.compile(r"\{([^\n{}]+?)\}")


def bad_buttons(part: dict[str, Any]) -> list[str]:
    """'response: key=value' for each button title or payload that is not a non-empty string."""
    return [
        f"{name}: {key}={button.get(key)!r}"
        for name, variations in (part.get("responses") or {}).items()
        for variation in variations
        for button in variation.get("buttons") or []
        for key in ("title", "payload")
        if not isinstance(button.get(key), str) or not button[key].strip()
    ]


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_every_button_title_and_payload_is_a_non_empty_string_in_every_yaml_reader(path: Path, reader: str) -> None:
    assert bad_buttons(READERS[reader](path)) == []


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_both_yaml_readers_read_each_domain_file_the_same(path: Path) -> None:
    # Catches YAML 1.1 surprises anywhere in the file, not only in buttons (yes/no, on/off, 12:30).
    assert READERS["pyyaml"](path) == READERS["rasa"](path)


def test_the_button_check_catches_an_unquoted_yes_that_a_yaml_1_1_reader_takes_for_true() -> None:
    written = (
        "responses:\n  utter_ask:\n    - text: May I?\n      buttons:\n        - title: Yes\n          payload: Yes\n"
    )
    assert bad_buttons(yaml.safe_load(written)) == ["utter_ask: title=True", "utter_ask: payload=True"]
    assert bad_buttons(yaml.safe_load(written.replace("Yes", '"Yes"'))) == []


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_each_variation_is_conditioned_on_exactly_one_of_the_files_language_anchors(path: Path) -> None:
    part = read_yaml_file(path)
    anchors = {language: part.get(f"x-{language}") for language in LANGUAGES}
    assert anchors == {language: [{"type": "slot", "name": "language", "value": language}] for language in LANGUAGES}
    for name, variations in part["responses"].items():
        conditions = [variation.get("condition") for variation in variations]
        assert sorted(conditions, key=str) == sorted(anchors.values(), key=str), name


def test_the_response_languages_are_the_values_the_language_slot_can_take() -> None:
    (slot,) = [slot for slot in DOMAIN.slots if slot.name == "language"]
    assert sorted(set(slot.values) - {"__other__"}) == sorted(LANGUAGES)  # Rasa adds __other__ itself


def placeholders(variation: dict[str, Any]) -> set[str]:
    """The names in braces in a variation's text and its button titles and payloads."""
    strings = [variation["text"]] + [
        str(button[key]) for button in variation.get("buttons") or [] for key in ("title", "payload")
    ]
    return {name for text in strings for name in PLACEHOLDER.findall(text)}


def by_language(name: str) -> dict[str, dict[str, Any]]:
    return {variation["condition"][0]["value"]: variation for variation in DOMAIN.responses[name]}


@pytest.mark.parametrize("name", sorted(DOMAIN.responses))
def test_both_language_variations_use_the_same_well_formed_placeholders_in_text_and_buttons(name: str) -> None:
    variations = by_language(name)
    names = {language: placeholders(variations[language]) for language in LANGUAGES}
    assert names["zh"] == names["en"]
    assert all(placeholder.isidentifier() for placeholder in names["zh"]), names["zh"]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", sorted(DOMAIN.responses))
async def test_every_response_renders_in_each_language_with_its_variables_filled(name: str, language: str) -> None:
    variation = by_language(name)[language]
    values = {placeholder: f"<{placeholder}>" for placeholder in placeholders(variation)}
    expected = variation["text"].format(**values)  # how actions.common.render fills a response
    assert all(value in expected for value in values.values())

    tracker = DialogueStateTracker.from_events("hygiene", [SlotSet("language", language)], slots=DOMAIN.slots)
    rendered = await NLG.generate(name, tracker, "inapp", **values)
    assert rendered is not None and rendered["text"] == expected
    assert not PLACEHOLDER.search(rendered["text"])
    for button, written in zip(rendered.get("buttons") or [], variation.get("buttons") or [], strict=True):
        assert button["title"] == written["title"].format(**values)
