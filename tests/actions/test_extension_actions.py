"""The extension conversation's actions, with trackers built from dicts and the demo records."""

from pathlib import Path

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import extensions as ext
from bot.identity import customer_conversation
from bot.rasa_ext.action_server import load_domain
from tests.actions.conftest import visitor

DOMAIN = load_domain(Path(__file__).resolve().parents[2] / "domain")


def tracker(customer_id: str, text: str = "", intent: str = "inform", language: str = "zh", **slots) -> Tracker:
    return Tracker.from_dict(
        {
            "sender_id": customer_conversation(customer_id),
            "slots": {"language": language, **slots},
            "latest_message": {"intent": {"name": intent, "confidence": 0.9}, "text": text},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {"name": "extension_form"},
            "latest_action_name": "action_listen",
        }
    )


async def run(action, t):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, DOMAIN)
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def c1001_slots(**extra):
    return {
        "ext_candidates": [
            {
                "loan_id": "L1001",
                "self_service": True,
                "overdue_amount": "1,080.00",
                "penalty": "6.48",
                "total": "1,086.48",
            }
        ],
        "ext_loan_id": "L1001",
        "ext_self_service": True,
        "ext_reason": "job_loss",
        "ext_reason_text": "失业了",
        "ext_request_key": "key-1",
        **extra,
    }


async def test_c1001_starts_the_form_with_his_only_overdue_loan_preselected(records):
    messages, slots = await run(ext.ActionPrepareExtension(), tracker("C1001"))
    assert messages == []
    assert slots["ext_stage"] == "form" and slots["ext_loan_id"] == "L1001" and slots["ext_self_service"] is True
    assert slots["ext_candidates"][0]["total"] == "1,086.48" and slots["ext_request_key"]


async def test_c1004_starts_the_form_but_is_marked_for_a_person(records):
    _, slots = await run(ext.ActionPrepareExtension(), tracker("C1004"))
    assert slots["ext_loan_id"] == "L1004A" and slots["ext_self_service"] is False


async def test_c1005_with_nothing_overdue_does_not_start_the_form(records):
    messages, slots = await run(ext.ActionPrepareExtension(), tracker("C1005"))
    assert [m["response"] for m in messages] == ["utter_extension_nothing_overdue"] and slots[
        "ext_stage"
    ] == "unavailable"


async def test_an_anonymous_visitor_is_asked_to_log_in_and_no_record_is_read(no_records):
    dispatcher = CollectingDispatcher()
    events = await ext.ActionPrepareExtension().run(dispatcher, visitor("request_extension"), DOMAIN)
    assert [m["response"] for m in dispatcher.messages] == ["utter_login_required"]
    assert {"event": "slot", "name": "ext_stage", "value": "unavailable", "timestamp": None} in events


async def test_a_loan_a_person_must_decide_on_skips_the_option_but_still_asks_to_confirm():
    form = ext.ValidateExtensionForm()
    slots = ["ext_loan_id", "ext_reason", "ext_option", "ext_confirmed"]
    assert await form.required_slots(
        slots, CollectingDispatcher(), tracker("C1004", ext_self_service=False), DOMAIN
    ) == ["ext_loan_id", "ext_reason", "ext_confirmed"]
    assert (
        await form.required_slots(slots, CollectingDispatcher(), tracker("C1001", ext_self_service=True), DOMAIN)
        == slots
    )


def test_invalid_answers_are_refused_with_a_hint_and_valid_ones_are_normalised():
    form, d = ext.ValidateExtensionForm(), CollectingDispatcher()
    t = tracker("C1001", **c1001_slots(ext_option="split_3"))
    assert form.validate_ext_option("分5期", d, t, DOMAIN) == {"ext_option": None}
    assert form.validate_ext_option("分6期", d, t, DOMAIN) == {"ext_option": "split_6"}
    assert form.validate_ext_reason("生病住院了", d, t, DOMAIN) == {
        "ext_reason": "illness",
        "ext_reason_text": "生病住院了",
    }
    assert form.validate_ext_loan_id("L9999", d, t, DOMAIN) == {"ext_loan_id": None}
    assert [m["response"] for m in d.messages] == ["utter_ext_invalid_option", "utter_ext_invalid_loan"]


def test_at_confirmation_the_customer_can_confirm_decline_or_change_the_option():
    form, d = ext.ValidateExtensionForm(), CollectingDispatcher()
    t = tracker("C1001", **c1001_slots(ext_option="split_3"))
    assert form.validate_ext_confirmed("确认办理", d, t, DOMAIN) == {"ext_confirmed": "yes"}
    assert form.validate_ext_confirmed("不办了", d, t, DOMAIN) == {"ext_confirmed": "no"}
    assert form.validate_ext_confirmed("还是分12期吧", d, t, DOMAIN) == {
        "ext_option": "split_12",
        "ext_confirmed": None,
    }
    assert form.validate_ext_confirmed("换一个方案", d, t, DOMAIN) == {"ext_option": None, "ext_confirmed": None}
    assert form.validate_ext_confirmed("嗯？", d, t, DOMAIN) == {"ext_confirmed": None}
    assert [m["response"] for m in d.messages] == ["utter_ext_invalid_confirm"]


async def test_the_confirmation_shows_the_exact_schedule_in_the_customers_language(records):
    messages, _ = await run(
        ext.ActionAskExtConfirmed(), tracker("C1001", language="en", **c1001_slots(ext_option="split_3"))
    )
    (m,) = messages
    assert m["response"] == "utter_ask_ext_confirmed" and m["option_title"] == "Split into 3 months"
    assert m["total"] == "1,086.48" and m["penalty"] == "6.48"
    assert m["schedule"].splitlines() == ["2026-12-28: 362.16 CNY", "2027-01-28: 362.16 CNY", "2027-02-28: 362.16 CNY"]


async def test_option_buttons_are_titled_in_the_conversations_language(records):
    messages, _ = await run(ext.ActionAskExtOption(), tracker("C1001", **c1001_slots()))
    assert [b["title"] for b in messages[0]["buttons"]] == [
        "延期7天",
        "延期14天",
        "延期30天",
        "分3期",
        "分6期",
        "分12期",
    ]


async def test_confirming_approves_once_and_a_retry_reports_the_same_reference(records):
    t = tracker("C1001", **c1001_slots(ext_option="defer_30", ext_confirmed="yes"))
    messages, slots = await run(ext.ActionSubmitExtension(), t)
    assert messages[0]["response"] == "utter_ext_approved" and messages[0]["reference"] == "EXT-2026-000001"
    assert messages[0]["first_amount"] == "1,086.48" and messages[0]["first_due"] == "2026-12-28"
    assert slots["ext_stage"] is None and slots["ext_loan_id"] is None
    again, _ = await run(ext.ActionSubmitExtension(), t)
    assert again[0]["response"] == "utter_ext_already_recorded" and again[0]["reference"] == "EXT-2026-000001"


async def test_c1004_is_referred_with_a_reference(records):
    t = tracker(
        "C1004", **{**c1001_slots(), "ext_loan_id": "L1004A", "ext_self_service": False, "ext_reason": "business"}
    )
    messages, _ = await run(ext.ActionSubmitExtension(), t)
    assert messages[0]["response"] == "utter_ext_referred" and messages[0]["reference"].startswith("EXT-2026-")


@pytest.mark.parametrize("action", [ext.ActionCancelExtension(), ext.ActionSubmitExtension()])
async def test_cancelling_or_declining_changes_nothing_and_says_so(records, action, today):
    from bot.services.loans import account_overview
    from bot.unit_of_work import SqlAlchemyUnitOfWork

    t = tracker("C1001", **c1001_slots(ext_option="split_6", ext_confirmed="no"))
    messages, _ = await run(action, t)
    assert [m["response"] for m in messages] == ["utter_ext_cancelled"]
    assert account_overview(lambda: SqlAlchemyUnitOfWork(records), "C1001", today).position.is_overdue


@pytest.mark.parametrize(
    "question", ["等下 那12月20号那期还要照常还吗", "那12号到期的那期2600还要还吗", "is the Dec 16 one still due?"]
)
def test_a_question_at_the_confirmation_step_keeps_the_chosen_plan_and_asks_again(question):
    dispatcher = CollectingDispatcher()
    slots = ext.ValidateExtensionForm().validate_ext_confirmed(
        question, dispatcher, tracker("C1001", question, **c1001_slots(ext_option="split_6")), DOMAIN
    )
    assert slots == {"ext_confirmed": None}  # ext_option untouched: still split_6
    assert [m["response"] for m in dispatcher.messages] == ["utter_ext_confirm_scope"]
    assert dispatcher.messages[0]["option_title"] == "分6期"


def test_an_explicit_choice_at_the_confirmation_step_changes_the_plan():
    dispatcher = CollectingDispatcher()
    slots = ext.ValidateExtensionForm().validate_ext_confirmed(
        "还是分3期吧", dispatcher, tracker("C1001", "还是分3期吧", **c1001_slots(ext_option="split_6")), DOMAIN
    )
    assert slots == {"ext_option": "split_3", "ext_confirmed": None}


async def test_a_referral_is_confirmed_with_its_own_question_and_answers(records):
    t = tracker("C1004", ext_self_service=False, ext_loan_id="L1004A", ext_reason="business")
    messages, _ = await run(ext.ActionAskExtConfirmed(), t)
    assert [(m["response"], m["loan_id"]) for m in messages] == [("utter_ask_ext_referral_confirmed", "L1004A")]
    form, d = ext.ValidateExtensionForm(), CollectingDispatcher()
    assert form.validate_ext_confirmed("确认提交", d, t, DOMAIN) == {"ext_confirmed": "yes"}
    assert form.validate_ext_confirmed("分12期", d, t, DOMAIN) == {"ext_confirmed": None}  # no option to change
    assert [m["response"] for m in d.messages] == ["utter_ext_invalid_referral_confirm"]


def test_one_request_per_loan_and_conversation_session():
    events = [{"event": "session_started", "timestamp": 1764300000.5}]
    t = Tracker.from_dict({**tracker("C1004").current_state(), "events": events})
    assert (
        ext.session_request_key(t, "uuid-1")
        == ext.session_request_key(t, "uuid-2")
        == "customer:C1004|session:1764300000.5"
    )
    assert ext.session_request_key(tracker("C1004"), "uuid-1") == "uuid-1"  # no session start seen: per form run
