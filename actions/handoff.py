"""Handing a conversation to a person: ticket (outbox), customer told what happens next, bot paused.

Also complaints, which are recorded with a category and escalated with priority.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.care import said_they_struggle, session_intents
from actions.common import AccountAction, agrees_to_record, bank_clock, last_text_with_intent, money, now, yes_no_slot
from bot.domain.complaints import complaint_category
from bot.domain.errors import Outage, UserError
from bot.domain.extension_answers import is_question
from bot.identity import verified_customer_id
from bot.services.cases import open_complaint
from bot.services.handoff import create_ticket, deliver_now, service_hours, summarize
from bot.services.loans import account_overview
from bot.settings import get_settings

logger = logging.getLogger(__name__)
COMPLAINT_WORDS = re.compile(r"登记|投诉|record|complain|file (it|one|a)", re.I)
REFERENCE = re.compile(r"\b(?:EXT|IDM|WRN|SCM|CMP)-\d{4}-\d{6}\b")


def transcript(tracker: Tracker) -> list[dict[str, Any]]:
    return [
        {
            "sender": "user" if e["event"] == "user" else "bot",
            "text": e.get("text") or "",
            "timestamp": dt.datetime.fromtimestamp(e.get("timestamp") or 0, dt.timezone.utc).isoformat(),
        }
        for e in tracker.events
        if e.get("event") in ("user", "bot") and e.get("text")
    ]


def wanted(tracker: Tracker) -> list[str]:
    """The intents of the customer's latest six messages, for the ticket summary."""
    return session_intents(tracker)[-6:]


def _account_line(customer_id: str) -> str | None:
    try:
        overview = account_overview(AccountAction.uow_factory, customer_id, AccountAction.today())
    except (UserError, Outage):
        return None  # the summary goes without the loan line; the ticket matters more
    items = overview.position.items
    if not items:
        return "nothing overdue"
    return "; ".join(f"{i.loan_id} #{i.seq} {money(i.amount)} CNY, {i.days_overdue} days overdue" for i in items)


async def hand_off(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    reason: str,
    pause: bool = True,
    extra_references: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """Store a ticket, tell the customer what happens next (in or out of service hours), pause the bot."""
    customer_id = verified_customer_id(tracker.sender_id)
    language = tracker.get_slot("language") or "zh"
    bot_texts = " ".join(str(e.get("text") or "") for e in tracker.events if e.get("event") == "bot")
    references = [*REFERENCE.findall(bot_texts), *extra_references]
    account = await asyncio.to_thread(_account_line, customer_id) if customer_id else None
    summary = summarize(reason, customer_id, wanted(tracker), references, account)
    at = now()
    try:
        ticket = await asyncio.to_thread(
            create_ticket,
            AccountAction.uow_factory,
            tracker.sender_id,
            customer_id,
            reason,
            language,
            summary,
            transcript(tracker),
            at,
            pause,
        )
    except Outage:
        dispatcher.utter_message(response="utter_handoff_unavailable")
        return []
    asyncio.get_running_loop().run_in_executor(
        None, deliver_now, AccountAction.uow_factory, get_settings().handoff_webhook_url, bank_clock()
    )
    if not pause:
        return []
    hours = service_hours()
    if hours.is_open(at):
        dispatcher.utter_message(
            response="utter_handoff_open", ticket_id=ticket.ticket_id, minutes=hours.first_reply_minutes
        )
    else:
        dispatcher.utter_message(
            response="utter_handoff_closed",
            ticket_id=ticket.ticket_id,
            open_from=hours.open_from.strftime("%H:%M"),
            open_until=hours.open_until.strftime("%H:%M"),
            next_open=hours.next_opening(at).strftime("%Y-%m-%d %H:%M"),
        )
    return [ActiveLoop(None), SlotSet("requested_slot", None), ConversationPaused()]


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        # A customer who said they are struggling is put first in line (bot.services.handoff.PRIORITY).
        return await hand_off(dispatcher, tracker, "hardship" if said_they_struggle(tracker) else "request_human")


def complaint_consent(text: str) -> bool | None:
    """Whether the customer agrees to record a formal complaint ("登记投诉", "yes"); None if unclear."""
    return agrees_to_record(text, COMPLAINT_WORDS)


class ActionPrepareComplaint(Action):
    """A worried question about collection ("会不会打电话给我家里人", "will you call my boss?") is
    answered with how the bank collects; only a complaint about something that happened leads to
    the offer to record one."""

    def name(self) -> str:
        return "action_prepare_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        if is_question(str(tracker.latest_message.get("text") or "")):
            dispatcher.utter_message(response="utter_collection_contact_rules")
            return [SlotSet("complaint_stage", "answered")]
        return [SlotSet("complaint_consent", None), SlotSet("complaint_stage", "ask")]


class ValidateComplaintForm(FormValidationAction):
    def name(self) -> str:
        return "validate_complaint_form"

    def validate_complaint_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        if is_question(text):
            # "What do I do to make it stop?": their rights and the ways to stop the texts first.
            dispatcher.utter_message(response="utter_complaint_rights")
            dispatcher.utter_message(response="utter_complaint_help")
            return {"complaint_consent": None}
        return yes_no_slot(
            "complaint_consent",
            text,
            tracker,
            dispatcher,
            complaint_consent,
            "utter_complaint_invalid_consent",
        )


class ActionRecordComplaint(Action):
    """Record the complaint the customer made, if they agreed to, and escalate it; otherwise
    state their rights and record nothing."""

    def name(self) -> str:
        return "action_record_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        reset = [SlotSet("complaint_consent", None)]
        if tracker.get_slot("complaint_consent") != "yes":
            dispatcher.utter_message(response="utter_complaint_rights")
            dispatcher.utter_message(response="utter_complaint_not_recorded")
            return reset
        text = last_text_with_intent(tracker, "complain", str(tracker.latest_message.get("text") or ""))
        category = complaint_category(text)
        try:
            case = await asyncio.to_thread(
                open_complaint,
                AccountAction.uow_factory,
                tracker.sender_id,
                verified_customer_id(tracker.sender_id),
                category,
                text,
                now(),
            )
        except Outage:
            dispatcher.utter_message(response="utter_handoff_unavailable")
            return reset
        dispatcher.utter_message(response="utter_complaint_recorded", reference=case.reference)
        dispatcher.utter_message(response="utter_complaint_rights")
        return [*reset, *await hand_off(dispatcher, tracker, "complaint", extra_references=(case.reference,))]
