"""Low-confidence input: ask to rephrase once; the second time in a row, hand over to a person."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import hand_off

FALLBACK_INTENT = "nlu_fallback"


def consecutive_low_confidence_turns(events: list[dict[str, Any]]) -> int:
    """How many of the latest user turns in a row the NLU could not understand."""
    count = 0
    for event in reversed(events):
        if event.get("event") != "user":
            continue
        if (event.get("parse_data") or {}).get("intent", {}).get("name") != FALLBACK_INTENT:
            break
        count += 1
    return count


class ActionHandleLowConfidence(Action):
    def name(self) -> str:
        return "action_handle_low_confidence"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if consecutive_low_confidence_turns(tracker.events) >= 2:
            return await hand_off(dispatcher, tracker, "low_confidence")
        dispatcher.utter_message(response="utter_ask_rephrase")
        return []
