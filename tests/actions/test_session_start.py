"""A verified customer's first session speaks the language of their profile until they choose one."""

from rasa_sdk.executor import CollectingDispatcher

from actions.session import ActionSessionStart
from tests.actions.conftest import tracker_for


async def start(tracker):  # type: ignore[no-untyped-def]
    events = await ActionSessionStart().run(CollectingDispatcher(), tracker, {})
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}, [e["event"] for e in events]


async def test_an_english_customer_starts_in_english(records) -> None:
    slots, kinds = await start(tracker_for("customer:C1003"))
    assert slots["language"] == "en"
    assert kinds[0] == "session_started" and kinds[-1] == "action"


async def test_a_language_the_customer_chose_is_carried_over_not_replaced(records) -> None:
    tracker = tracker_for("customer:C1003", events=[{"event": "slot", "name": "language", "value": "zh"}])
    slots, _ = await start(tracker)
    assert slots["language"] == "zh"


async def test_a_visitor_gets_no_profile_language(no_records) -> None:
    slots, _ = await start(tracker_for("visitor:abcdefgh"))
    assert slots.get("language") == "zh"  # carried over from the initial value, no records read
