import pytest

from bot.rasa_ext.payloads import sanitise_payload

INTENTS = {"greet", "ask_amount_due", "request_human", "nlu_fallback"}


@pytest.mark.parametrize(
    ("text", "read_as"),
    [
        ("/request_human", "/request_human"),
        ('/greet{"language": "fr"}', "/greet"),
        ('/ask_amount_due{"customer_id": "C1002"}@0.99', "/ask_amount_due"),
        ("/nlu_fallback", "nlu_fallback"),
        ("/drop_tables", "drop_tables"),
        ("/ help", "help"),
        ("///", "?"),
        ("我欠多少钱", "我欠多少钱"),
        ("how much? /ask_amount_due", "how much? /ask_amount_due"),
    ],
)
def test_typed_intent_syntax_can_only_say_what_a_button_could(text: str, read_as: str) -> None:
    assert sanitise_payload(text, INTENTS) == read_as
