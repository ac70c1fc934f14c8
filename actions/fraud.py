"""Is this text real, scam reports, and "I never borrowed": checks and cases, never disclosure."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    AccountAction,
    agrees_to_record,
    last_text_with_intent,
    moment,
    money,
    now,
    render,
    reply_for,
    yes_no_slot,
)
from actions.handoff import hand_off
from bot.domain.errors import InvalidPhoneNumber, Outage, UserError
from bot.domain.extension_answers import parse_confirmation
from bot.domain.notice_match import described_notice
from bot.domain.privacy import mask_phone
from bot.domain.scam_victims import gave_away_access
from bot.domain.sms_check import check_sms, default_channels
from bot.identity import verified_customer_id
from bot.services.cases import (
    normalise_mobile,
    open_identity_misuse_case,
    open_scam_report,
    open_wrong_number_case,
)
from bot.services.fraud import disputable_loan, matching_notice

# Money, a code or a password already given away, or a link already opened: the urgent steps
# come first ("我已经点了链接 还输了验证码 怎么办啊").
MONEY_SENT = re.compile(
    r"(已经|已)?(转了|转账了|汇了|打了|付了|给了|被骗了?\s*\d|骗走|损失)"
    r"|\b(sent|transferred|paid|wired|lost|gave)\b.{0,30}(money|\d|them|code)|\bscammed out of\b|\bconned out of\b",
    re.I,
)


def given_away(text: str) -> bool:
    """Money sent, or a link, code, password, app or screen given away (bot.domain.scam_victims)."""
    return bool(MONEY_SENT.search(text)) or gave_away_access(text)


def latest_text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


# --- verify_sms -------------------------------------------------------------------------


class ActionPrepareSmsCheck(Action):
    def name(self) -> str:
        return "action_prepare_sms_check"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        text = latest_text(tracker)
        if check_sms(text, default_channels()).verdict == "nothing_to_check":
            return [SlotSet("sms_text", None), SlotSet("sms_stage", "ask")]
        return [SlotSet("sms_text", text), SlotSet("sms_stage", "check")]


class ActionVerifySms(Action):
    """Verdict with reasons; "genuine" only for a verified customer and a notice we really sent."""

    def name(self) -> str:
        return "action_verify_sms"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        text = tracker.get_slot("sms_text") or latest_text(tracker)
        language = tracker.get_slot("language")
        result = check_sms(text, default_channels())
        reasons = [render(domain, f"utter_sms_flag_{flag}", language) for flag in result.red_flags]
        if result.unofficial_links:
            reasons.append(
                render(domain, "utter_sms_flag_unofficial_link", language, links=", ".join(result.unofficial_links))
            )
        if result.unofficial_numbers:
            reasons.append(
                render(
                    domain, "utter_sms_flag_unofficial_number", language, numbers=", ".join(result.unofficial_numbers)
                )
            )
        # sms_stage stays as it is: the rule that led here ends on it (the next prepare resets it).
        done = [SlotSet("sms_text", None)]
        if result.verdict == "likely_scam":
            dispatcher.utter_message(response="utter_sms_scam", reasons="; ".join(reasons))
            return done
        if result.verdict == "suspicious":
            dispatcher.utter_message(response="utter_sms_suspicious", reasons="; ".join(reasons))
            return done
        customer_id = verified_customer_id(tracker.sender_id)
        if customer_id is None:
            dispatcher.utter_message(response="utter_sms_no_red_flags_anonymous")
            return done
        try:
            notice = await asyncio.to_thread(
                matching_notice, AccountAction.uow_factory, customer_id, text, AccountAction.today()
            )
        except (UserError, Outage) as exc:
            dispatcher.utter_message(response=reply_for(exc))
            return done
        if notice is None:
            dispatcher.utter_message(response="utter_sms_not_ours")
        else:
            dispatcher.utter_message(
                response="utter_sms_genuine",
                sent_at=moment(notice.sent_at),
                phone=notice.phone_masked,
                loan_id=notice.loan_id,
            )
        return done


# --- report_scam ------------------------------------------------------------------------


def money_sent(text: str) -> bool | None:
    """Whether the report says money or a code was already given; None when it doesn't say."""
    if given_away(text):
        return True
    answer = parse_confirmation(text)
    if answer is not None:
        return answer
    return None


REPORT_WORDS = re.compile(r"登记|举报|报案|record|report|file (it|one|a)", re.I)


def report_consent(text: str) -> bool | None:
    """Whether the customer agrees to record a scam report ("登记举报", "yes"); None if unclear."""
    return agrees_to_record(text, REPORT_WORDS)


class ActionPrepareScamReport(Action):
    """Start the scam-report conversation: it always asks before recording anything (the
    question whether money was sent is skipped when the report already says so)."""

    def name(self) -> str:
        return "action_prepare_scam_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        sent = "yes" if given_away(latest_text(tracker)) else None
        return [SlotSet("scam_money_sent", sent), SlotSet("scam_consent", None), SlotSet("scam_stage", "ask")]


class ValidateScamReportForm(FormValidationAction):
    def name(self) -> str:
        return "validate_scam_report_form"

    def validate_scam_money_sent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return yes_no_slot(
            "scam_money_sent", str(value or ""), tracker, dispatcher, money_sent, "utter_scam_invalid_money_sent"
        )

    def validate_scam_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return yes_no_slot(
            "scam_consent", str(value or ""), tracker, dispatcher, report_consent, "utter_scam_invalid_consent"
        )


class ActionAskScamConsent(Action):
    """The safety steps first (urgent ones when money or a code was given away), then whether to record a report."""

    def name(self) -> str:
        return "action_ask_scam_consent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_scam_stop_contact")
        if tracker.get_slot("scam_money_sent") == "yes":
            dispatcher.utter_message(response="utter_scam_urgent_steps")
        dispatcher.utter_message(response="utter_ask_scam_consent")
        return []


class ActionSubmitScamReport(Action):
    def name(self) -> str:
        return "action_submit_scam_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        reset = [SlotSet("scam_money_sent", None), SlotSet("scam_consent", None)]
        if tracker.get_slot("scam_consent") != "yes":
            dispatcher.utter_message(response="utter_scam_not_recorded")
            return reset
        sent = tracker.get_slot("scam_money_sent") == "yes"
        details = last_text_with_intent(tracker, "report_scam", latest_text(tracker))
        try:
            case = await asyncio.to_thread(
                open_scam_report,
                AccountAction.uow_factory,
                tracker.sender_id,
                verified_customer_id(tracker.sender_id),
                sent,
                details,
                now(),
            )
        except (UserError, Outage) as exc:
            dispatcher.utter_message(response=reply_for(exc))
            return reset
        dispatcher.utter_message(response="utter_scam_report_recorded", reference=case.reference)
        if case.urgent:
            dispatcher.utter_message(response="utter_scam_urgent", reference=case.reference)
            return [*reset, *await hand_off(dispatcher, tracker, "urgent_scam", extra_references=(case.reference,))]
        return reset


# --- never_borrowed -----------------------------------------------------------------------


class ActionPrepareNeverBorrowed(Action):
    def name(self) -> str:
        return "action_prepare_never_borrowed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        reset = [SlotSet("nb_consent", None), SlotSet("nb_phone", None), SlotSet("nb_loan_id", None)]
        customer_id = verified_customer_id(tracker.sender_id)
        if customer_id is None:
            return [*reset, SlotSet("nb_stage", "form")]
        try:
            loan_id = await asyncio.to_thread(
                disputable_loan, AccountAction.uow_factory, customer_id, AccountAction.today()
            )
        except (UserError, Outage) as exc:
            dispatcher.utter_message(response=reply_for(exc))
            return [*reset, SlotSet("nb_stage", "done")]
        if loan_id is None:
            dispatcher.utter_message(response="utter_nb_nothing_to_dispute")
            return [*reset, SlotSet("nb_stage", "done")]
        await say_if_the_described_notice_was_ours(dispatcher, customer_id, latest_text(tracker))
        return [*reset, SlotSet("nb_loan_id", loan_id), SlotSet("nb_stage", "form")]


async def say_if_the_described_notice_was_ours(dispatcher: CollectingDispatcher, customer_id: str, text: str) -> None:
    """ "你们发短信说我欠3000块逾期45天": when it fits a notice we sent, say plainly that it was ours."""
    if described_notice(text).empty:
        return
    try:
        notice = await asyncio.to_thread(
            matching_notice, AccountAction.uow_factory, customer_id, text, AccountAction.today()
        )
    except (UserError, Outage):
        return  # the dispute itself goes on; the consent question follows
    if notice is not None:
        dispatcher.utter_message(
            response="utter_nb_notice_was_ours",
            sent_at=moment(notice.sent_at),
            phone=notice.phone_masked,
            loan_id=notice.loan_id,
            amount=money(notice.instalment_amount) if notice.instalment_amount is not None else "-",
        )


class ValidateNeverBorrowedForm(FormValidationAction):
    def name(self) -> str:
        return "validate_never_borrowed_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        # A customer disputes a loan: consent only. A visitor: consent, then the number (unless they decline).
        if verified_customer_id(tracker.sender_id) is not None or tracker.get_slot("nb_consent") == "no":
            return ["nb_consent"]
        return ["nb_consent", "nb_phone"]

    def validate_nb_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return yes_no_slot(
            "nb_consent", str(value or ""), tracker, dispatcher, parse_confirmation, "utter_nb_invalid_consent"
        )

    def validate_nb_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            return {"nb_phone": normalise_mobile(str(value or ""))}
        except InvalidPhoneNumber:
            dispatcher.utter_message(response="utter_nb_invalid_phone")
            return {"nb_phone": None}


class ActionAskNbConsent(Action):
    def name(self) -> str:
        return "action_ask_nb_consent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        if verified_customer_id(tracker.sender_id) is not None:
            dispatcher.utter_message(
                response="utter_ask_nb_consent_customer", loan_id=tracker.get_slot("nb_loan_id") or ""
            )
        else:
            dispatcher.utter_message(response="utter_ask_nb_consent_visitor")
        return []


class ActionSubmitNeverBorrowed(Action):
    def name(self) -> str:
        return "action_submit_never_borrowed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        done = [
            SlotSet("nb_consent", None),
            SlotSet("nb_phone", None),
            SlotSet("nb_loan_id", None),
            SlotSet("nb_stage", None),
        ]
        if tracker.get_slot("nb_consent") != "yes":
            dispatcher.utter_message(response="utter_nb_no_consent")
            return done
        customer_id = verified_customer_id(tracker.sender_id)
        details = last_text_with_intent(tracker, "never_borrowed")
        try:
            if customer_id is not None:
                loan_id = tracker.get_slot("nb_loan_id") or ""
                case = await asyncio.to_thread(
                    open_identity_misuse_case,
                    AccountAction.uow_factory,
                    customer_id,
                    loan_id,
                    tracker.sender_id,
                    details,
                    now(),
                )
                dispatcher.utter_message(response="utter_dispute_opened", reference=case.reference, loan_id=loan_id)
            else:
                # Only the reporter's own number is stored; nothing about any borrower is looked up or said.
                case = await asyncio.to_thread(
                    open_wrong_number_case,
                    AccountAction.uow_factory,
                    tracker.get_slot("nb_phone") or "",
                    tracker.sender_id,
                    "",
                    now(),
                )
                dispatcher.utter_message(
                    response="utter_wrong_number_opened", reference=case.reference, phone=mask_phone(case.phone or "")
                )
        except (UserError, Outage) as exc:
            dispatcher.utter_message(response=reply_for(exc))
        return done
