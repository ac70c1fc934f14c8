"""A new conversation session: slots carried over as Rasa does, and a verified customer's
language from their profile until they write in one (so C1003, who set English, is answered in
English even when her first message is a pasted text or an "ok")."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import AccountAction
from bot.domain.errors import Outage
from bot.identity import verified_customer_id
from bot.services.loans import customer_language


def language_was_chosen(tracker: Tracker) -> bool:
    """Whether the conversation's language was ever set from what the customer wrote."""
    return any(e.get("event") == "slot" and e.get("name") == "language" for e in tracker.events)


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = [SessionStarted()]
        # Carry slots over, as Rasa's own session start does (session_config in domain/common.yml).
        events += [
            SlotSet(name, value)
            for name, value in tracker.slots.items()
            if value is not None and name not in ("requested_slot", "session_started_metadata")
        ]
        customer_id = verified_customer_id(tracker.sender_id)
        if customer_id is not None and not language_was_chosen(tracker):
            try:
                language = await asyncio.to_thread(customer_language, AccountAction.uow_factory, customer_id)
            except Outage:
                language = None
            if language is not None:
                events.append(SlotSet("language", language))
        events.append(ActionExecuted("action_listen"))
        return events
