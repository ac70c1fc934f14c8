"""Low-confidence input: noise gets a short "didn't get that" with examples; anything else gets
the two most likely topics as buttons (plus "rephrase" and "talk to a person"); a second
misunderstood attempt in a row offers a person first. No ticket is ever opened without the
customer asking for one (the "talk to a person" button sends request_human)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, UserUttered
from rasa_sdk.executor import CollectingDispatcher

from actions.common import render
from bot.domain.adjacent import adjacent_topic
from bot.domain.noise import is_noise

FALLBACK_INTENT = "nlu_fallback"
#: Topics worth offering as a guess: what the assistant can do, not small talk.
TOPICS = (
    "ask_why_texts",
    "ask_amount_due",
    "ask_how_to_repay",
    "request_extension",
    "already_repaid",
    "never_borrowed",
    "verify_sms",
    "report_scam",
    "ask_late_fee_rule",
    "ask_credit_impact",
    "setup_autopay",
    "complain",
    "ask_partial_payment",
    "ask_case_status",
    "change_phone",
    "report_old_number",
    "ask_report_police",
    "ask_consequences",
)


def consecutive_low_confidence_turns(events: list[dict[str, Any]]) -> int:
    """How many of the latest user turns in a row the NLU could not understand, noise not counted
    (a noise turn neither counts nor breaks the run)."""
    count = 0
    for event in reversed(events):
        if event.get("event") != "user":
            continue
        if (event.get("parse_data") or {}).get("intent", {}).get("name") != FALLBACK_INTENT:
            break
        if not is_noise(str(event.get("text") or "")):
            count += 1
    return count


def likely_topics(latest_message: dict[str, Any], count: int = 2) -> list[str]:
    """The most likely assistant topics for a message the NLU was unsure about, best first."""
    ranking = latest_message.get("intent_ranking") or []
    return [r["name"] for r in ranking if r.get("name") in TOPICS][:count]


class ActionHandleLowConfidence(Action):
    def name(self) -> str:
        return "action_handle_low_confidence"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        text = str(tracker.latest_message.get("text") or "")
        if is_noise(text):
            dispatcher.utter_message(response="utter_noise")
            return []
        second = consecutive_low_confidence_turns(tracker.events) >= 2
        language = tracker.get_slot("language")
        buttons = [
            {"title": render(domain, f"utter_topic_{topic}", language), "payload": f"/{topic}"}
            for topic in likely_topics(tracker.latest_message)
        ]
        buttons += [
            # /inform with nothing pending is answered with "what can I help you with? for example ..."
            {"title": render(domain, "utter_topic_rephrase", language), "payload": "/inform"},
            {"title": render(domain, "utter_topic_request_human", language), "payload": "/request_human"},
        ]
        if second:
            # Put the person first: two attempts have failed, but the customer decides.
            buttons = [buttons[-1], *buttons[:-1]]
        dispatcher.utter_message(response="utter_offer_human" if second else "utter_ask_rephrase", buttons=buttons)
        return []


class ActionOutOfScope(Action):
    """A question the assistant does not handle: for another banking service, where the app
    handles it; otherwise a polite redirect to what the assistant does. Nothing is opened."""

    def name(self) -> str:
        return "action_out_of_scope"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        topic = adjacent_topic(str(tracker.latest_message.get("text") or ""))
        dispatcher.utter_message(response=f"utter_out_of_scope_{topic}" if topic else "utter_out_of_scope")
        return []


#: Intents that open a form, a case or a ticket (bot/rasa_ext/consent.py asks before a not-confident one).
ACTING_INTENTS = ("complain", "request_human", "report_scam", "never_borrowed", "request_extension", "verify_sms")


def message_to_confirm(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The customer's message that ``action_confirm_act`` asked about, if the customer's latest turn
    answers that question (the bot's last action before that turn was the question)."""
    answer_seen = asked = False
    for event in reversed(events):
        kind = event.get("event")
        if kind == "user":
            if not answer_seen:
                answer_seen = True
                continue
            if not asked:
                return None
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            return event if intent in ACTING_INTENTS else None
        if kind == "action" and answer_seen and event.get("name") != "action_listen":
            if asked or event.get("name") != "action_confirm_act":
                return None
            asked = True
    return None


class ActionConfirmAct(Action):
    """Asks whether the customer means the task the NLU was not sure of, before anything is opened:
    "想先确认一下：您说的是「投诉催收」吗？" with yes (the intent itself) and no."""

    def name(self) -> str:
        return "action_confirm_act"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        language = tracker.get_slot("language")
        if intent not in ACTING_INTENTS:  # not reached through the policy; nothing to confirm
            dispatcher.utter_message(response="utter_how_can_i_help")
            return []
        dispatcher.utter_message(
            response="utter_confirm_act",
            topic=render(domain, f"utter_topic_{intent}", language),
            buttons=[
                {"title": render(domain, "utter_confirm_act_yes", language), "payload": f"/{intent}"},
                {"title": render(domain, "utter_confirm_act_no", language), "payload": "/deny"},
            ],
        )
        return []


class ActionActOnConsent(Action):
    """A typed "是" / "yes" to ``action_confirm_act``: the customer's message is put back as the
    intent asked about, at confidence 1.0, so that intent's own rules run (its form still asks what
    it needs before recording anything). Anything else: what can I help you with."""

    def name(self) -> str:
        return "action_act_on_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        asked = message_to_confirm(tracker.events)
        if asked is None:
            dispatcher.utter_message(response="utter_how_can_i_help")
            return []
        parse_data = dict(asked.get("parse_data") or {})
        intent = {"name": parse_data["intent"]["name"], "confidence": 1.0}
        parse_data.update(intent=intent, intent_ranking=[intent], consented=True)
        return [
            ActionExecuted("action_listen"),
            UserUttered(str(asked.get("text") or ""), parse_data, input_channel=asked.get("input_channel")),
        ]
