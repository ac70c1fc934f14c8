"""Account actions answer from the verified customer's records and nothing else."""

import datetime as dt

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.common import AccountAction
from actions.loans import ActionCheckRepayment, ActionExplainRepayment, ActionExplainTexts, ActionTellAmountDue
from bot.clock import FixedClock
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.actions.conftest import customer, run, visitor


def responses(messages):
    return [m["response"] for m in messages]


async def test_c1001_is_told_the_amount_days_and_penalty_with_its_calculation(records):
    messages = await run(ActionTellAmountDue(), customer("C1001"))
    assert responses(messages) == [
        "utter_amount_due_summary",
        "utter_overdue_line",
        "utter_amount_due_penalty_note",
        "utter_next_due",
    ]
    summary, line = messages[0], messages[1]
    assert summary["total_due"] == "1,086.48" and summary["penalty_total"] == "6.48" and summary["count"] == 1
    assert (line["loan_id"], line["amount"], line["days"], line["penalty"], line["due_date"]) == (
        "L1001",
        "1,080.00",
        12,
        "6.48",
        "2026-11-16",
    )


async def test_c1001_learns_which_instalment_the_texts_are_about_and_when_they_were_sent(records):
    messages = await run(ActionExplainTexts(), customer("C1001"))
    assert responses(messages) == ["utter_why_texts_overdue", "utter_overdue_line", "utter_why_texts_notices"]
    assert messages[0]["name"] == "张伟" and messages[0]["since"] == "2026-11-16"
    assert messages[2]["sent_times"] == "2026-11-17 10:00, 2026-11-23 10:00"
    assert messages[2]["phones"] == "138****1001"


async def test_c1006_is_told_in_his_language_why_the_reminders_read_as_they_do(records, today):
    from bot.services.notices import run_notices

    run_notices(lambda: SqlAlchemyUnitOfWork(records), None, dt.datetime.combine(today, dt.time(10)))
    messages = await run(ActionExplainTexts(), customer("C1006"))
    (segment,) = [m for m in messages if m["response"] == "utter_why_texts_segment"]
    assert "第一次逾期" in segment["segment_reason"]
    english = customer("C1006")
    english.slots["language"] = "en"
    messages = await run(ActionExplainTexts(), english)
    (segment,) = [m for m in messages if m["response"] == "utter_why_texts_segment"]
    assert "first time you are late" in segment["segment_reason"]


async def test_c1003_asking_about_a_text_sent_after_her_payment_posted_gets_a_correction(records):
    from tests.services.test_corrections import send_wrong_notice_to_c1003

    send_wrong_notice_to_c1003(records)
    messages = await run(ActionExplainTexts(), customer("C1003"))
    assert responses(messages) == ["utter_why_texts_corrected"]
    m = messages[0]
    assert (m["notice_time"], m["posted_at"], m["phone"]) == ("2026-11-28 11:00", "2026-11-28 09:30", "138****1003")
    assert m["reference"].startswith("NCR-")
    again = await run(ActionExplainTexts(), customer("C1003"))
    assert responses(again) == ["utter_why_texts_already_corrected"] and again[0]["reference"] == m["reference"]
    # "I already paid": told of the correction, then of her payment as before.
    paid = await run(ActionCheckRepayment(), customer("C1003"))
    assert responses(paid)[0] == "utter_why_texts_already_corrected" and len(paid) > 1


async def test_c1006_is_warned_that_notices_went_to_his_old_recycled_number(records):
    messages = await run(ActionExplainTexts(), customer("C1006"))
    assert responses(messages)[-1] == "utter_why_texts_old_number"
    assert messages[-1]["old_phones"] == "139****9999" and messages[-1]["current_phone"] == "138****1006"


async def test_c1003_is_told_the_morning_notice_went_out_before_her_payment(records):
    messages = await run(ActionExplainTexts(), customer("C1003"))
    assert responses(messages) == ["utter_why_texts_paid_after_notice"]
    m = messages[0]
    assert (m["notice_time"], m["paid_at"], m["posted_at"], m["loan_id"], m["amount"]) == (
        "2026-11-28 08:00",
        "2026-11-28 09:30",
        "2026-11-28 09:30",
        "L1003",
        "2,150.00",
    )


async def test_c1003_saying_she_already_paid_finds_the_posted_payment(records):
    messages = await run(ActionCheckRepayment(), customer("C1003"))
    assert responses(messages) == ["utter_repaid_after_notice"]
    assert messages[0]["paid_amount"] == "2,152.15" and messages[0]["notice_time"] == "2026-11-28 08:00"


async def test_c1001_saying_he_already_paid_is_told_no_recent_payment_was_found_and_what_is_overdue(records):
    messages = await run(ActionCheckRepayment(), customer("C1001"))
    assert responses(messages) == ["utter_repaid_not_found"]
    assert messages[0]["total_due"] == "1,086.48" and messages[0]["lookback_days"] == 14


async def test_c1005_with_nothing_overdue_is_told_an_overdue_text_may_be_fake(records):
    assert responses(await run(ActionExplainTexts(), customer("C1005"))) == ["utter_why_texts_nothing"]
    assert responses(await run(ActionTellAmountDue(), customer("C1005"))) == [
        "utter_amount_due_nothing",
        "utter_next_due",
    ]
    assert responses(await run(ActionCheckRepayment(), customer("C1005"))) == ["utter_repaid_nothing_due"]


async def test_c1004_repayment_answer_states_the_amount_needed_now(records):
    messages = await run(ActionExplainRepayment(), customer("C1004"))
    assert responses(messages) == ["utter_how_to_repay", "utter_how_to_repay_overdue"]
    assert messages[1]["total_due"] == "8,380.00"


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (ActionExplainTexts(), "utter_why_texts_anonymous"),
        (ActionTellAmountDue(), "utter_login_required"),
        (ActionExplainRepayment(), "utter_how_to_repay"),
        (ActionCheckRepayment(), "utter_login_required"),
    ],
)
async def test_an_anonymous_visitor_gets_general_answers_without_any_record_being_read(no_records, action, expected):
    messages = await run(action, visitor())
    assert responses(messages) == [expected]
    reference = CollectingDispatcher()
    reference.utter_message(response=expected)
    assert messages[0] == reference.messages[0]  # no variables: nothing about any account


async def test_a_customer_id_without_records_gets_a_not_found_answer(records):
    assert responses(await run(ActionTellAmountDue(), customer("C9999"))) == ["utter_customer_not_found"]


async def test_when_the_database_is_down_the_customer_gets_an_apology_and_the_offer_of_a_person(monkeypatch, today):
    url = "postgresql+psycopg2://nobody@127.0.0.1:1/none?connect_timeout=1"
    monkeypatch.setattr(AccountAction, "uow_factory", staticmethod(lambda: SqlAlchemyUnitOfWork(url)))
    monkeypatch.setattr(
        AccountAction, "clock", staticmethod(lambda: FixedClock(dt.datetime.combine(today, dt.time(14, 0))))
    )
    assert responses(await run(ActionTellAmountDue(), customer("C1001"))) == ["utter_service_unavailable"]


async def test_the_fee_rule_never_tells_a_logged_in_customer_to_log_in(records):
    from actions.loans import ActionExplainFeeRule

    # C1005 has nothing overdue and paid nothing extra: the rule, and how to see her own figures here.
    as_customer = [m["response"] for m in await run(ActionExplainFeeRule(), customer("C1005", "ask_late_fee_rule"))]
    as_visitor = [m["response"] for m in await run(ActionExplainFeeRule(), visitor("ask_late_fee_rule"))]
    assert as_customer == ["utter_ask_late_fee_rule", "utter_fee_rule_own_figures_customer"]
    assert as_visitor == ["utter_ask_late_fee_rule", "utter_fee_rule_own_figures_visitor"]
