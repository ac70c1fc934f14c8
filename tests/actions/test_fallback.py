from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionHandleLowConfidence, consecutive_low_confidence_turns
from tests.actions.conftest import run, tracker_for


def user(intent):
    return {"event": "user", "text": "x", "parse_data": {"intent": {"name": intent, "confidence": 0.2}}}


BOT = {"event": "bot", "text": "..."}


def test_only_the_latest_unbroken_run_of_low_confidence_turns_counts():
    assert consecutive_low_confidence_turns([]) == 0
    assert consecutive_low_confidence_turns([user("greet"), BOT, user("nlu_fallback")]) == 1
    assert consecutive_low_confidence_turns([user("nlu_fallback"), BOT, user("greet"), BOT, user("nlu_fallback")]) == 1
    assert consecutive_low_confidence_turns([user("greet"), user("nlu_fallback"), BOT, user("nlu_fallback")]) == 2


async def test_the_first_misunderstanding_asks_to_rephrase_and_the_second_hands_over_to_a_person(records):
    once = tracker_for("visitor:abcdefgh", events=[user("nlu_fallback")])
    twice = tracker_for("visitor:abcdefgh", events=[user("nlu_fallback"), BOT, user("nlu_fallback")])
    assert [m["response"] for m in await run(ActionHandleLowConfidence(), once)] == ["utter_ask_rephrase"]
    dispatcher = CollectingDispatcher()
    events = await ActionHandleLowConfidence().run(dispatcher, twice, {})
    assert dispatcher.messages[0]["response"] in ("utter_handoff_open", "utter_handoff_closed")
    assert dispatcher.messages[0]["ticket_id"].startswith("HO-")
    assert {"event": "pause", "timestamp": None} in events
