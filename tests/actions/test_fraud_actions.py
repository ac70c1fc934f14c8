"""Fraud conversations: verdicts, cases, consent, and no disclosure to anonymous visitors."""

from pathlib import Path

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import fraud
from bot.identity import customer_conversation, visitor_conversation
from bot.rasa_ext.action_server import load_domain
from bot.services.cases import list_cases
from bot.services.extensions import extension_offer
from bot.unit_of_work import SqlAlchemyUnitOfWork

DOMAIN = load_domain(Path(__file__).resolve().parents[2] / "domain")
GENUINE = "【青禾银行】尊敬的张*，您的借款L1001第4期1,080.00元已逾期，请在App内还款"


def tracker(conversation: str, text: str = "", intent: str = "verify_sms", **slots) -> Tracker:
    return Tracker.from_dict(
        {
            "sender_id": conversation,
            "slots": {"language": "zh", **slots},
            "latest_message": {"intent": {"name": intent, "confidence": 0.9}, "text": text},
            "events": [{"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )


async def run(action, t):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, DOMAIN)
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def test_a_text_matching_a_notice_we_sent_is_genuine_for_that_customer_only(records):
    messages, _ = await run(fraud.ActionVerifySms(), tracker(customer_conversation("C1001"), GENUINE, sms_text=GENUINE))
    assert messages[0]["response"] == "utter_sms_genuine" and messages[0]["loan_id"] == "L1001"
    messages, _ = await run(fraud.ActionVerifySms(), tracker(customer_conversation("C1005"), GENUINE, sms_text=GENUINE))
    assert messages[0]["response"] == "utter_sms_not_ours"


async def test_an_anonymous_visitor_never_hears_genuine_and_no_record_is_read(no_records):
    messages, _ = await run(
        fraud.ActionVerifySms(), tracker(visitor_conversation("anon_check_1"), GENUINE, sms_text=GENUINE)
    )
    assert [m["response"] for m in messages] == ["utter_sms_no_red_flags_anonymous"]


async def test_a_scam_gets_its_reasons_in_the_users_language(no_records):
    text = "【青禾银行】您的贷款逾期，请加微信qh_kf888处理，并提供验证码"
    messages, _ = await run(fraud.ActionVerifySms(), tracker(visitor_conversation("anon_check_2"), text, sms_text=text))
    assert messages[0]["response"] == "utter_sms_scam"
    assert "索要验证码" in messages[0]["reasons"] and "微信" in messages[0]["reasons"]


async def test_a_question_without_the_text_asks_for_it():
    _, slots = await run(
        fraud.ActionPrepareSmsCheck(), tracker(visitor_conversation("anon_check_3"), "这条短信是真的吗")
    )
    assert slots == {"sms_text": None, "sms_stage": "ask"}


async def test_a_report_that_says_money_was_sent_gets_the_urgent_steps_and_is_recorded_once_agreed(records):
    text = "有人冒充客服，我已经转了5000"
    _, slots = await run(
        fraud.ActionPrepareScamReport(), tracker(visitor_conversation("anon_scam_1"), text, "report_scam")
    )
    assert slots["scam_stage"] == "ask" and slots["scam_money_sent"] == "yes" and slots["scam_consent"] is None
    asked, _ = await run(
        fraud.ActionAskScamConsent(),
        tracker(visitor_conversation("anon_scam_1"), text, "report_scam", scam_money_sent="yes"),
    )
    assert [m["response"] for m in asked] == [
        "utter_scam_stop_contact",
        "utter_scam_urgent_steps",
        "utter_ask_scam_consent",
    ]
    assert list_cases(lambda: SqlAlchemyUnitOfWork(records)) == []  # nothing recorded before the answer
    messages, _ = await run(
        fraud.ActionSubmitScamReport(),
        tracker(visitor_conversation("anon_scam_1"), text, "report_scam", scam_money_sent="yes", scam_consent="yes"),
    )
    assert [m["response"] for m in messages][:2] == ["utter_scam_report_recorded", "utter_scam_urgent"]
    assert messages[2]["response"] in (
        "utter_handoff_open",
        "utter_handoff_closed",
    )  # an urgent report goes to a person
    (case,) = list_cases(lambda: SqlAlchemyUnitOfWork(records))
    assert case.urgent and case.type == "scam_report" and case.details == text


async def test_c1002_consents_and_her_loan_is_disputed(records, today):
    _, slots = await run(
        fraud.ActionPrepareNeverBorrowed(),
        tracker(customer_conversation("C1002"), "这笔贷款不是我借的", "never_borrowed"),
    )
    assert slots["nb_loan_id"] == "L1002" and slots["nb_stage"] == "form"
    t = tracker(customer_conversation("C1002"), "同意", "affirm", nb_loan_id="L1002", nb_consent="yes")
    messages, _ = await run(fraud.ActionSubmitNeverBorrowed(), t)
    assert messages[0]["response"] == "utter_dispute_opened" and messages[0]["reference"].startswith("IDM-2026-")
    (offer,) = extension_offer(lambda: SqlAlchemyUnitOfWork(records), "C1002", today)
    assert "disputed" in offer.reasons


async def test_without_consent_nothing_is_recorded(records):
    t = tracker(visitor_conversation("anon_nb_1"), "不用了", "deny", nb_consent="no")
    messages, _ = await run(fraud.ActionSubmitNeverBorrowed(), t)
    assert [m["response"] for m in messages] == ["utter_nb_no_consent"]
    assert list_cases(lambda: SqlAlchemyUnitOfWork(records)) == []


async def test_a_visitor_is_asked_for_consent_then_the_number_and_a_bad_number_is_refused():
    form, d = fraud.ValidateNeverBorrowedForm(), CollectingDispatcher()
    visitor = tracker(visitor_conversation("anon_nb_2"), "", "inform")
    assert await form.required_slots(["nb_consent", "nb_phone"], d, visitor, DOMAIN) == ["nb_consent", "nb_phone"]
    assert await form.required_slots(
        ["nb_consent", "nb_phone"], d, tracker(customer_conversation("C1002")), DOMAIN
    ) == ["nb_consent"]
    assert form.validate_nb_phone("12345", d, visitor, DOMAIN) == {"nb_phone": None}
    assert form.validate_nb_phone("+86 139 0000 9999", d, visitor, DOMAIN) == {"nb_phone": "13900009999"}


async def test_a_scam_report_the_customer_does_not_want_recorded_creates_nothing(records):
    messages, slots = await run(
        fraud.ActionSubmitScamReport(),
        tracker(
            visitor_conversation("anon_scam_2"),
            "轉帳失敗了錢被扣了怎麼辦",
            "report_scam",
            scam_money_sent="no",
            scam_consent="no",
        ),
    )
    assert [m["response"] for m in messages] == ["utter_scam_not_recorded"]
    assert list_cases(lambda: SqlAlchemyUnitOfWork(records)) == []
    assert slots == {"scam_money_sent": None, "scam_consent": None}


@pytest.mark.parametrize(
    ("text", "given_away"),
    [
        ("我已经点了链接 还输了验证码 怎么办啊", True),
        ("I clicked the link and entered the code", True),
        ("他让我下载了一个软件，还共享了屏幕", True),
        ("I gave them my password", True),
        ("我已经转了8000", True),
        ("有人冒充客服让我下载软件", False),
        ("我没有告诉他验证码", False),
        ("someone called me pretending to be you", False),
    ],
)
def test_a_victim_who_already_gave_something_away_is_recognised(text, given_away):
    assert fraud.given_away(text) is given_away
