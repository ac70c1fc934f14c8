import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.domain.cancel import is_cancel
from bot.rasa_ext.nlu import CancelPhrases


@pytest.mark.parametrize(
    ("text", "cancel"),
    [
        ("取消", True),
        ("算了", True),
        ("算了吧。", True),
        ("Never mind!", True),
        ("ＣＡＮＣＥＬ", True),
        ("forget it", True),
        ("不用了", False),  # "no, thanks" to a question, not leaving
        ("算了 我还是问问能不能部分还款", False),
        ("cancel my loan", False),
        ("stop texting me", False),
    ],
)
def test_only_a_whole_message_that_means_stop_is_a_cancel(text: str, cancel: bool) -> None:
    assert is_cancel(text) is cancel


def test_a_cancel_phrase_overrides_whatever_the_classifier_thought() -> None:
    message = Message(
        data={
            "text": "算了",
            "intent": {"name": "deny", "confidence": 0.6},
            "intent_ranking": [{"name": "deny", "confidence": 0.6}, {"name": "cancel", "confidence": 0.3}],
        }
    )
    (out,) = CancelPhrases().process([message])
    assert out.get("intent") == {"name": "cancel", "confidence": 1.0}
    assert [r["name"] for r in out.get("intent_ranking")] == ["cancel", "deny"]
    other = Message(data={"text": "不用了", "intent": {"name": "deny", "confidence": 0.6}})
    assert CancelPhrases().process([other])[0].get("intent")["name"] == "deny"


@pytest.mark.parametrize(
    ("text", "victim"),
    [
        ("我已经点了链接 还输了验证码 怎么办啊", True),
        ("I clicked the link and entered the code", True),
        ("他让我下载了一个软件", True),
        ("我没有点链接，也没输验证码", False),
        ("I didn't click the link", False),
        ("我已经付了", False),  # usually a repayment: left to the classifier
        ("这条短信是真的吗：请点击链接", False),
    ],
)
def test_a_scam_victim_now_is_recognised_whatever_the_classifier_thought(text: str, victim: bool) -> None:
    from bot.domain.scam_victims import gave_away_access
    from bot.rasa_ext.nlu import ScamVictimNow

    assert gave_away_access(text) is victim
    (out,) = ScamVictimNow().process(
        [Message(data={"text": text, "intent": {"name": "ask_amount_due", "confidence": 0.7}})]
    )
    assert (out.get("intent")["name"] == "report_scam") is victim
