import pytest

from bot.domain.handback import wants_the_bot_back


@pytest.mark.parametrize(
    ("text", "back"),
    [
        ("返回机器人", True),
        ("回到智能助手吧", True),
        ("不用人工了", True),
        ("取消转人工", True),
        ("back to bot", True),
        ("Back to the assistant please", True),
        ("never mind the agent", True),
        ("ＢＡＣＫ ＴＯ ＢＯＴ", True),
        ("人呢？", False),
        ("我要人工客服", False),
        ("I want to talk to a real person", False),
        ("how much do I owe?", False),
    ],
)
def test_a_customer_waiting_for_a_person_can_ask_for_the_assistant_back(text: str, back: bool) -> None:
    assert wants_the_bot_back(text) is back
