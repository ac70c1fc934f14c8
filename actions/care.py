"""Customers who struggle: a calm word first, then what can be done about the debt, a person first
in line if they want one, and, with their consent, a note on the account so that colleagues and
the reminders take it into account. Never a complaint case."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import AccountAction, now, reply_for
from bot.domain.distress import care_needed, self_harm_risk
from bot.domain.errors import Outage, UserError
from bot.identity import verified_customer_id
from bot.services.care import active_vulnerability, record_vulnerability

ILLNESS = re.compile(r"病|住院|手术|化疗|癌|医院|sick|\bill\b|illness|hospital|surgery|cancer|disease", re.I)
HARDSHIP = re.compile(r"困难|难处|不容易|hard time|struggl|hardship", re.I)
JOB_LOSS = re.compile(
    r"失业|下岗|裁员|丢了工作|没了工作|没工作|被辞|工作没了|lost my job|laid off|unemployed|fired|out of work", re.I
)


def states_a_reason(text: str) -> bool:
    """Whether a message itself says what is hard (ill, out of work, stressed, ...)."""
    return bool(ILLNESS.search(text) or JOB_LOSS.search(text) or care_needed(text) or HARDSHIP.search(text))


def vulnerability_reason(texts: list[str]) -> str:
    """What the customer said about their situation, in the flag's terms (most serious first)."""
    joined = " ".join(texts)
    if self_harm_risk(joined):
        return "self_harm"
    if ILLNESS.search(joined):
        return "illness"
    if JOB_LOSS.search(joined):
        return "job_loss"
    return "distress"


def said_they_struggle(tracker: Tracker) -> bool:
    """Whether the customer said in this session that they are struggling."""
    if "express_distress" in session_intents(tracker):
        return True
    texts = (str(e.get("text") or "") for e in tracker.events if e.get("event") == "user")
    return any(care_needed(text) is not None for text in texts)


def session_intents(tracker: Tracker) -> list[str]:
    """The intent of every message the customer sent in this tracker, oldest first."""
    return [
        (e.get("parse_data") or {}).get("intent", {}).get("name") or "?"
        for e in tracker.events
        if e.get("event") == "user"
    ]


def recent_user_texts(tracker: Tracker, limit: int = 6) -> list[str]:
    return [str(e.get("text") or "") for e in tracker.events if e.get("event") == "user"][-limit:]


def comfort(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """The calm word, unless the channel has already said it for this message (bot.rasa_ext.channel)."""
    if care_needed(str(tracker.latest_message.get("text") or "")) is None:
        dispatcher.utter_message(response="utter_distress_care")


class ActionSupportStruggling(Action):
    """Outside a form: comfort, the hardship options, and for a verified customer the offer to
    note their situation (recorded only if they ask for it: note_hardship)."""

    def name(self) -> str:
        return "action_support_struggling"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        comfort(dispatcher, tracker)
        dispatcher.utter_message(response="utter_hardship_options")
        customer_id = verified_customer_id(tracker.sender_id)
        if customer_id is None:
            return []
        try:
            flag = await asyncio.to_thread(active_vulnerability, AccountAction.uow_factory, customer_id)
        except (UserError, Outage):
            return []  # the offer can wait; the answer above stands
        dispatcher.utter_message(response="utter_care_already_noted" if flag is not None else "utter_offer_care_note")
        return []


class ActionComfort(Action):
    """In the middle of a form: the calm word and that a person is there, then the form goes on."""

    def name(self) -> str:
        return "action_comfort"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        comfort(dispatcher, tracker)
        dispatcher.utter_message(response="utter_distress_in_form")
        return []


class ActionNoteHardship(Action):
    """The customer asked us to note their situation: recorded once, with the reason they gave."""

    def name(self) -> str:
        return "action_note_hardship"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        customer_id = verified_customer_id(tracker.sender_id)
        if customer_id is None:
            dispatcher.utter_message(response="utter_care_note_visitor")
            return []
        if not said_they_struggle(tracker) and not states_a_reason(str(tracker.latest_message.get("text") or "")):
            # Nothing said yet about what is hard: nothing to note ("yes please record it" at
            # another question must never become a care note).
            dispatcher.utter_message(response="utter_care_note_needs_reason")
            return []
        try:
            flag = await asyncio.to_thread(
                record_vulnerability,
                AccountAction.uow_factory,
                customer_id,
                tracker.sender_id,
                vulnerability_reason(recent_user_texts(tracker)),
                now(),
            )
        except (UserError, Outage) as exc:
            dispatcher.utter_message(response=reply_for(exc))
            return []
        dispatcher.utter_message(response="utter_care_already_noted" if flag.already else "utter_care_recorded")
        return []
