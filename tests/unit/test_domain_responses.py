"""Every sentence exists in both languages, with the same variables, and never asks for secrets."""

import re
from pathlib import Path

import pytest

from bot.rasa_ext.action_server import load_domain

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = load_domain(ROOT / "domain")
RESPONSES = DOMAIN["responses"]
VARIABLE = re.compile(r"\{(\w+)\}")


def language_of(variation):
    (condition,) = variation["condition"]
    assert condition["type"] == "slot" and condition["name"] == "language"
    return condition["value"]


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_each_response_has_exactly_one_chinese_and_one_english_variation_with_the_same_variables(name):
    variations = {language_of(v): v for v in RESPONSES[name]}
    assert sorted(variations) == ["en", "zh"] and len(RESPONSES[name]) == 2
    zh, en = variations["zh"], variations["en"]
    assert set(VARIABLE.findall(zh["text"])) == set(VARIABLE.findall(en["text"]))
    assert re.search(r"[\u4e00-\u9fff]", zh["text"]), "the zh variation must be Chinese"
    assert not re.search(r"[\u4e00-\u9fff]", en["text"]), "the en variation must not contain Chinese"
    zh_buttons, en_buttons = zh.get("buttons", []), en.get("buttons", [])
    assert len(zh_buttons) == len(en_buttons)
    for a, b in zip(zh_buttons, en_buttons, strict=True):  # intent payloads must match; text payloads are the title
        assert (
            a["payload"] == b["payload"]
            if a["payload"].startswith("/")
            else (a["payload"] == a["title"] and b["payload"] == b["title"])
        )


def test_every_response_an_action_or_rule_uses_is_defined():
    used = set()
    for path in list((ROOT / "actions").rglob("*.py")) + list((ROOT / "data").rglob("*.yml")):
        used |= set(re.findall(r"\butter_\w+", path.read_text(encoding="utf-8")))
    used = {name for name in used if not name.endswith("_")}  # f-string prefixes such as utter_ext_option_{kind}
    assert used - set(RESPONSES) - {"utter_message"} == set()


# Asking for these is never acceptable; mentioning them to warn people is.
ASKS_FOR_SECRET = [
    re.compile(r"(请|麻烦|告诉我|提供|发给我|输入).{0,6}(验证码|密码|支付密码|CVV|身份证号|卡号)"),
    re.compile(
        r"(tell me|send me|give me|provide|enter|share|type)\s+(me\s+)?(your|the)\s+(verification code|password|pin|cvv|card number|id number)",
        re.I,
    ),
]


NEGATION = re.compile(r"(不要|不会|别|勿|绝不|不|never|don't|do not|not)\W*\w*\W*$", re.I)


def asks_for_secret(text: str) -> str | None:
    """The phrase that asks for a secret, unless it is negated ("不要提供验证码", "never share your code")."""
    for pattern in ASKS_FOR_SECRET:
        for match in pattern.finditer(text):
            if not NEGATION.search(text[max(0, match.start() - 12) : match.start()]):
                return match.group(0)
    return None


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_no_response_asks_for_a_code_password_or_full_card_or_id_number(name):
    for variation in RESPONSES[name]:
        assert asks_for_secret(variation["text"]) is None, name


def test_the_secret_lint_catches_a_response_that_asks_for_a_code_but_not_a_warning():
    assert asks_for_secret("为了核实身份，请提供您收到的验证码") is not None
    assert asks_for_secret("Please tell me your verification code.") is not None
    assert asks_for_secret("请输入卡号后六位") is not None
    assert asks_for_secret("不要提供验证码、密码") is None
    assert asks_for_secret("Never share your password with anyone.") is None
