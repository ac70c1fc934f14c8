"""What customers in arrears really ask, answered from their records (issue 14): amounts on a day
and for the whole loan, why a payment had extra fen, partial payment, case status, phone number,
an old number, the police, and care for those who struggle."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.account import ActionCaseStatus, ActionExplainOldNumber, ActionExplainPhoneChange, ActionPoliceGuidance
from actions.care import ActionNoteHardship, ActionSupportStruggling, vulnerability_reason
from actions.common import AccountAction
from actions.fraud import ActionPrepareNeverBorrowed
from actions.loans import ActionExplainFeeRule, ActionExplainPartialPayment, ActionTellAmountDue, amount_mentioned
from bot.identity import customer_conversation, visitor_conversation
from bot.services.care import active_vulnerability
from bot.services.cases import open_identity_misuse_case


def asking(
    conversation_id: str, text: str, intent: str = "greet", events: list[dict[str, Any]] | None = None
) -> Tracker:
    return Tracker.from_dict(
        {
            "sender_id": conversation_id,
            "slots": {"language": "zh"},
            "latest_message": {"intent": {"name": intent, "confidence": 0.99}, "text": text},
            "events": events or [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )


def as_customer(customer_id: str, text: str, intent: str = "greet") -> Tracker:
    return asking(customer_conversation(customer_id), text, intent)


def as_visitor(text: str, intent: str = "greet") -> Tracker:
    return asking(visitor_conversation("anon_visitor_123"), text, intent)


async def say(action: Any, tracker: Tracker) -> list[dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, tracker, {})
    return dispatcher.messages


def names(messages: list[dict[str, Any]]) -> list[str]:
    return [m["response"] for m in messages]


# --- amounts on a day, and for the whole loan -----------------------------------------------


async def test_c1001_tomorrow_is_todays_figure_plus_one_days_penalty(records):
    messages = await say(ActionTellAmountDue(), as_customer("C1001", "那我明天还要多少"))
    assert names(messages) == ["utter_amount_on_date_summary", "utter_overdue_line_on"]
    summary, line = messages
    assert (summary["day"], summary["total_due"], summary["today_total"], summary["difference"]) == (
        "2026-11-29",
        "1,087.02",
        "1,086.48",
        "0.54",
    )
    assert (line["days"], line["penalty"]) == (13, "7.02")


async def test_a_day_that_has_passed_gets_todays_figures(records):
    messages = await say(ActionTellAmountDue(), as_customer("C1001", "2026-11-20 还的话多少"))
    assert names(messages)[:2] == ["utter_amount_date_passed", "utter_amount_due_summary"]
    assert messages[1]["total_due"] == "1,086.48"


async def test_c1001_repaying_the_whole_loan_on_the_12th(records):
    messages = await say(ActionTellAmountDue(), as_customer("C1001", "如果我12号之前全部还清 要多少钱"))
    assert names(messages) == ["utter_payoff_loan", "utter_payoff_how"]
    payoff = messages[0]
    assert (payoff["loan_id"], payoff["day"], payoff["overdue"], payoff["penalty"], payoff["principal"]) == (
        "L1001",
        "2026-12-12",
        "1,080.00",
        "14.04",
        "8,000.00",
    )
    assert payoff["interest"] == "69.33" and payoff["total"] == "9,163.37"


async def test_c1005_with_nothing_overdue_still_gets_a_payoff_figure(records):
    messages = await say(ActionTellAmountDue(), as_customer("C1005", "pay off the whole loan, how much?"))
    assert names(messages) == ["utter_payoff_loan", "utter_payoff_how"]
    assert messages[0]["loan_id"] == "L1005" and messages[0]["overdue"] == "0.00"


async def test_a_disputed_loan_gets_no_payoff_figure(records):
    open_identity_misuse_case(
        AccountAction.uow_factory, "C1002", "L1002", "c", "not mine", dt.datetime(2026, 11, 28, 9)
    )
    messages = await say(ActionTellAmountDue(), as_customer("C1002", "全部还清要多少"))
    assert names(messages) == ["utter_loan_under_investigation", "utter_payoff_nothing"]


async def test_a_due_date_question_gets_the_next_due_date_first(records):
    messages = await say(ActionTellAmountDue(), as_customer("C1001", "几号还款"))
    assert names(messages) == ["utter_next_due", "utter_amount_due_summary", "utter_overdue_line"]
    assert (messages[0]["due_date"], messages[0]["amount"]) == ("2026-12-16", "1,080.00")
    messages = await say(ActionTellAmountDue(), as_customer("C1005", "when is my next payment due"))
    assert names(messages) == ["utter_next_due"]


async def test_a_visitor_asking_the_due_date_learns_where_to_see_it(no_records):
    assert names(await say(ActionTellAmountDue(), as_visitor("下次还款日是哪天"))) == ["utter_due_date_anonymous"]
    assert names(await say(ActionTellAmountDue(), as_visitor("我欠多少"))) == ["utter_login_required"]


# --- why the extra fen ---------------------------------------------------------------------


async def test_c1003s_extra_2_15_is_explained_from_her_repayment_record(records):
    messages = await say(ActionExplainFeeRule(), as_customer("C1003", "why 2,152.15 tho?"))
    assert names(messages) == ["utter_fee_explained_payment", "utter_ask_late_fee_rule"]
    fee = messages[0]
    assert (fee["paid_amount"], fee["instalment_amount"], fee["extra"], fee["days"], fee["penalty"]) == (
        "2,152.15",
        "2,150.00",
        "2.15",
        2,
        "2.15",
    )
    assert fee["due_date"] == "2026-11-26" and fee["paid_on"] == "2026-11-28"


async def test_a_customer_in_arrears_gets_their_own_penalty_lines_and_is_never_told_to_log_in(records):
    messages = await say(ActionExplainFeeRule(), as_customer("C1001", "罚息怎么算的"))
    assert names(messages) == ["utter_fee_explained_overdue", "utter_overdue_line", "utter_ask_late_fee_rule"]
    assert "utter_fee_rule_own_figures_visitor" not in names(messages)


async def test_a_visitor_gets_the_rule_without_any_record_read(no_records):
    messages = await say(ActionExplainFeeRule(), as_visitor("why was I charged extra 2.15?"))
    assert names(messages) == ["utter_ask_late_fee_rule", "utter_fee_rule_own_figures_visitor"]


# --- partial payment -----------------------------------------------------------------------


def test_the_amount_in_a_message() -> None:
    assert str(amount_mentioned("我先还1000行不行")) == "1000"
    assert str(amount_mentioned("can i pay 1,500.50 now")) == "1500.50"
    assert amount_mentioned("12号先还一部分") is None
    assert amount_mentioned("能不能先还一部分") is None


async def test_c1001_paying_1000_first_is_shown_how_it_is_applied(records):
    messages = await say(ActionExplainPartialPayment(), as_customer("C1001", "我先还1000行不行"))
    assert names(messages) == [
        "utter_partial_rule_penalty_first",
        "utter_partial_simulation",
        "utter_partial_allocation",
        "utter_partial_after",
        "utter_partial_extension_hint",
    ]
    part, after = messages[2], messages[3]
    assert (part["to_penalty"], part["to_instalment"], part["left"]) == ("6.48", "993.52", "86.48")
    assert (after["still_overdue"], after["daily"]) == ("86.48", "0.04")


async def test_a_partial_payment_question_without_an_amount_gets_the_balance(records):
    messages = await say(ActionExplainPartialPayment(), as_customer("C1001", "钱不够 能先还一部分吗"))
    assert names(messages) == [
        "utter_partial_rule_penalty_first",
        "utter_amount_due_summary",
        "utter_partial_extension_hint",
    ]


async def test_a_visitor_learns_the_rule_only(no_records):
    messages = await say(ActionExplainPartialPayment(), as_visitor("我先还1000行不行"))
    assert names(messages) == ["utter_partial_rule_penalty_first", "utter_partial_extension_hint"]


# --- case status, phone number, old number, police ------------------------------------------


async def test_case_status_lists_the_customers_own_cases(records):
    assert names(await say(ActionCaseStatus(), as_customer("C1002", "我的案件怎么样了"))) == ["utter_case_status_none"]
    case = open_identity_misuse_case(
        AccountAction.uow_factory, "C1002", "L1002", "c", "not mine", dt.datetime(2026, 11, 28, 9)
    )
    messages = await say(ActionCaseStatus(), as_customer("C1002", "我的案件怎么样了"))
    assert names(messages) == ["utter_case_status_intro", "utter_case_status_line"]
    assert messages[1]["reference"] == case.reference and messages[1]["loan"] == "L1002"
    assert messages[1]["kind"] == "utter_case_kind_identity_misuse"  # rendered from the domain
    assert messages[1]["next_step"] == "utter_case_next_under_review"
    # Nobody else sees it.
    assert names(await say(ActionCaseStatus(), as_customer("C1001", "我的申请进度"))) == ["utter_case_status_none"]


async def test_a_visitor_is_told_where_to_ask_about_a_case(no_records):
    assert names(await say(ActionCaseStatus(), as_visitor("WRN-2026-000001 进度"))) == ["utter_case_status_anonymous"]


async def test_the_phone_change_answer_names_the_registered_number(records):
    messages = await say(ActionExplainPhoneChange(), as_customer("C1006", "手机号怎么改"))
    assert names(messages) == ["utter_change_phone", "utter_phone_registered"]
    assert messages[1]["current_phone"] == "138****1006"


async def test_c1006s_old_number_is_the_recycled_number_answer_never_identity_misuse(records):
    messages = await say(ActionExplainOldNumber(), as_customer("C1006", "之前那个旧号好像被别人用了"))
    assert names(messages) == ["utter_old_number_notices", "utter_old_number_privacy", "utter_old_number_check"]
    assert messages[0]["old_phones"] == "139****9999" and messages[0]["count"] == 2
    assert messages[0]["current_phone"] == "138****1006"
    assert "13900009999" not in str(messages)


async def test_a_customer_whose_texts_all_went_to_the_current_number(records):
    messages = await say(ActionExplainOldNumber(), as_customer("C1001", "my old number belongs to someone else now"))
    assert names(messages) == ["utter_old_number_none", "utter_old_number_check"]


async def test_police_guidance_for_a_disputed_loan_names_it_once(records):
    open_identity_misuse_case(
        AccountAction.uow_factory, "C1002", "L1002", "c", "not mine", dt.datetime(2026, 11, 28, 9)
    )
    messages = await say(ActionPoliceGuidance(), as_customer("C1002", "要不要报警"))
    assert names(messages) == ["utter_police_identity_misuse"]
    assert messages[0]["loan_id"] == "L1002"


async def test_police_guidance_without_a_dispute_is_the_general_one(records):
    assert names(await say(ActionPoliceGuidance(), as_customer("C1001", "要不要报警"))) == ["utter_police_general"]


# --- a notice the customer describes --------------------------------------------------------


async def test_c1002s_described_text_is_said_to_be_ours_before_the_dispute_question(records):
    text = "你们发短信说我欠3000块逾期45天？？我从来没在你们这借过钱！！"
    dispatcher = CollectingDispatcher()
    events = await ActionPrepareNeverBorrowed().run(dispatcher, as_customer("C1002", text, "never_borrowed"), {})
    assert names(dispatcher.messages) == ["utter_nb_notice_was_ours"]
    assert dispatcher.messages[0]["loan_id"] == "L1002" and dispatcher.messages[0]["amount"] == "3,000.00"
    assert {"event": "slot", "timestamp": None, "name": "nb_stage", "value": "form"} in events


async def test_a_description_that_fits_no_notice_is_not_called_ours(records):
    dispatcher = CollectingDispatcher()
    await ActionPrepareNeverBorrowed().run(
        dispatcher, as_customer("C1002", "短信说我欠8000块逾期90天 我没借过", "never_borrowed"), {}
    )
    assert "utter_nb_notice_was_ours" not in names(dispatcher.messages)


# --- customers who struggle -----------------------------------------------------------------


async def test_distress_gets_the_options_and_the_offer_to_note_it_and_no_record(records):
    messages = await say(ActionSupportStruggling(), as_customer("C1001", "im really stressed, i havent slept in days"))
    # The channel said the calm word already for this message (bot.domain.distress.care_needed).
    assert names(messages) == ["utter_hardship_options", "utter_offer_care_note"]
    assert active_vulnerability(AccountAction.uow_factory, "C1001") is None


async def test_distress_the_channel_did_not_recognise_gets_the_calm_word_here(records):
    messages = await say(ActionSupportStruggling(), as_customer("C1001", "i dont know what to do anymore"))
    assert names(messages)[0] == "utter_distress_care"


async def test_the_note_is_recorded_once_when_the_customer_asks_for_it(records):
    tracker = asking(
        customer_conversation("C1001"),
        "备注我的情况",
        "note_hardship",
        events=[{"event": "user", "text": "失业了 压力好大", "parse_data": {"intent": {"name": "express_distress"}}}],
    )
    assert names(await say(ActionNoteHardship(), tracker)) == ["utter_care_recorded"]
    flag = active_vulnerability(AccountAction.uow_factory, "C1001")
    assert flag is not None and flag.reason == "job_loss"
    assert names(await say(ActionNoteHardship(), tracker)) == ["utter_care_already_noted"]
    messages = await say(ActionSupportStruggling(), as_customer("C1001", "压力好大"))
    assert names(messages) == ["utter_hardship_options", "utter_care_already_noted"]


async def test_nothing_is_noted_before_the_customer_has_said_what_is_hard(records):
    # "yes please record it" said to another question, read as note_hardship, must not become a note.
    messages = await say(ActionNoteHardship(), as_customer("C1001", "yes please record it", "note_hardship"))
    assert names(messages) == ["utter_care_note_needs_reason"]
    assert active_vulnerability(AccountAction.uow_factory, "C1001") is None
    # Saying it in the same message is enough.
    messages = await say(ActionNoteHardship(), as_customer("C1001", "please note that I lost my job", "note_hardship"))
    assert names(messages) == ["utter_care_recorded"]


async def test_a_visitor_cannot_be_noted(no_records):
    assert names(await say(ActionNoteHardship(), as_visitor("note my situation", "note_hardship"))) == [
        "utter_care_note_visitor"
    ]
    assert names(await say(ActionSupportStruggling(), as_visitor("压力好大 睡不着"))) == ["utter_hardship_options"]


def test_the_reason_noted_is_the_most_serious_thing_said() -> None:
    assert vulnerability_reason(["lost my job", "i want to die"]) == "self_harm"
    assert vulnerability_reason(["生病住院了"]) == "illness"
    assert vulnerability_reason(["被裁员了"]) == "job_loss"
    assert vulnerability_reason(["压力好大"]) == "distress"
