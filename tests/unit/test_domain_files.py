"""The domain is a directory of files by conversation area; the action server merges it as Rasa does."""

from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.utils.io import read_yaml_file

from bot.rasa_ext.action_server import domain_files, load_domain

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_DIR = ROOT / "domain"
LANGUAGES = """
x-zh: &zh
  - {type: slot, name: language, value: zh}
x-en: &en
  - {type: slot, name: language, value: en}
"""


def test_the_action_server_gives_the_actions_the_domain_rasa_merges_from_the_directory():
    ours, rasas = load_domain(DOMAIN_DIR), Domain.load(str(DOMAIN_DIR)).as_dict()
    assert ours["responses"] == rasas["responses"]
    assert ours["slots"] == rasas["slots"]
    assert ours["forms"] == rasas["forms"]
    for key in ("intents", "entities", "actions"):  # Rasa's merge keeps the items, not their order
        assert sorted(ours[key]) == sorted(rasas[key]), key


def test_no_response_slot_form_intent_or_action_is_defined_in_two_domain_files():
    # Rasa keeps the first definition it walks to, so a name in two files would depend on file order.
    seen: dict[tuple[str, str], str] = {}
    for file in domain_files(DOMAIN_DIR):
        part = read_yaml_file(file)
        for key in ("responses", "slots", "forms", "intents", "entities", "actions"):
            for item in part.get(key) or []:
                name = item if isinstance(item, str) else sorted(item)[0]
                assert (key, name) not in seen, f"{key} {name} in {file.name} and {seen[(key, name)]}"
                seen[(key, name)] = file.name


@pytest.mark.filterwarnings("ignore:The following duplicated")  # Rasa's own warning, expected here
def test_a_name_defined_in_two_files_resolves_as_in_rasa_with_a_warning(tmp_path, caplog):
    for name, text in (("a.yml", "早上好"), ("b.yml", "您好")):
        (tmp_path / name).write_text(
            f'version: "3.1"\n{LANGUAGES}\nintents: [greet]\nresponses:\n'
            f"  utter_greet:\n    - condition: *zh\n      text: {text}\n    - condition: *en\n      text: Hello\n"
            f"  utter_{name[0]}:\n    - text: only in {name}\n",
            encoding="utf-8",
        )
    (tmp_path / "notes.yml").write_text("reviewed_by: someone\n", encoding="utf-8")  # not a domain file
    ours, rasas = load_domain(tmp_path), Domain.load(str(tmp_path)).as_dict()
    assert ours["responses"] == rasas["responses"] and set(ours["responses"]) == {"utter_greet", "utter_a", "utter_b"}
    assert ours["intents"] == ["greet"]
    assert "responses defined in more than one domain file: utter_greet" in caplog.text


def test_a_button_titled_no_stays_the_text_no_as_rasa_reads_it():
    (no_button,) = [
        button
        for variation in load_domain(DOMAIN_DIR)["responses"]["utter_ask_scam_money_sent"]
        for button in variation.get("buttons", [])
        if button["title"] == "No"
    ]
    assert no_button == {"title": "No", "payload": "/deny"}


def test_yes_no_buttons_send_the_intent_so_the_answer_cannot_be_misread():
    """The text "Record a report" was read as a credit-report question: a button answers with the intent."""
    responses = load_domain(DOMAIN_DIR)["responses"]
    for name in ("utter_ask_scam_money_sent", "utter_ask_scam_consent", "utter_ask_complaint_consent"):
        payloads = {b["payload"] for v in responses[name] for b in v.get("buttons", [])}
        assert payloads == {"/affirm", "/deny"}, name


def test_a_domain_without_responses_or_a_missing_path_stops_the_action_server_with_a_clear_message(tmp_path):
    (tmp_path / "common.yml").write_text('version: "3.1"\nintents: [greet]\n', encoding="utf-8")
    with pytest.raises(SystemExit, match="is not a Rasa domain"):
        load_domain(tmp_path)
    with pytest.raises(SystemExit, match="does not exist"):
        load_domain(tmp_path / "domain.yml")
