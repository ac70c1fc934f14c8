"""The tracker stores of endpoints.scaled.yml, against the local Redis and SQLite.

RedisEventTrackerStore must answer exactly as Rasa's own SQL store does, turn after turn,
across session restarts, while writing only new events.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import redis
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_ext.tracker_store import RedisEventTrackerStore, UrlSQLTrackerStore
from tests.conftest import REDIS_TEST_URL as REDIS_URL

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet]
slots:
  language:
    type: text
    influence_conversation: false
    mappings: [{type: custom}]
"""
)


@pytest.fixture
def store(redis_url: str) -> RedisEventTrackerStore:
    return RedisEventTrackerStore(
        host=REDIS_URL, domain=DOMAIN, record_exp="120", key_prefix="t" + uuid.uuid4().hex[:10]
    )


def session_start(ts: float) -> list:
    return [
        ActionExecuted("action_session_start", timestamp=ts),
        SessionStarted(timestamp=ts),
        ActionExecuted("action_listen", timestamp=ts),
    ]


def turn(text: str, ts: float) -> list:
    return [
        UserUttered(text, {"name": "greet", "confidence": 1.0}, timestamp=ts),
        SlotSet("language", "en", timestamp=ts),
        BotUttered(f"re: {text}", timestamp=ts),
        ActionExecuted("action_listen", timestamp=ts),
    ]


# Each step is what one message adds to the tracker the store handed out.
STEPS = [
    session_start(1) + turn("one", 2),
    turn("two", 3),
    session_start(5000) + turn("three", 5001),
    turn("four", 5002),
]


async def play(store, sender: str) -> list[list[dict]]:
    """Run the steps as Rasa does (retrieve, add events, save); what retrieve returns after each."""
    seen = []
    for step in STEPS:
        tracker = await store.retrieve(sender) or DialogueStateTracker(sender, DOMAIN.slots)
        for event in step:
            tracker.update(event)
        await store.save(tracker)
        again = await store.retrieve(sender)
        seen.append([e.as_dict() for e in again.events])
    return seen


async def test_turn_by_turn_the_same_as_rasas_sql_store(store: RedisEventTrackerStore, tmp_path: Path) -> None:
    sql = UrlSQLTrackerStore(host=f"sqlite:///{tmp_path / 't.db'}", domain=DOMAIN)
    assert await play(store, "customer:C1") == await play(sql, "customer:C1")
    full = await store.retrieve_full_tracker("customer:C1")
    assert [e.text for e in full.events if isinstance(e, UserUttered)] == ["one", "two", "three", "four"]
    latest = await store.retrieve("customer:C1")
    assert [e.text for e in latest.events if isinstance(e, UserUttered)] == ["three", "four"]
    assert latest.get_slot("language") == "en"


async def test_only_new_events_are_written_and_the_conversation_expires(store: RedisEventTrackerStore) -> None:
    await play(store, "customer:C2")
    events_key = f"{store.prefix}:events:customer:C2"
    red = redis.Redis.from_url(REDIS_URL)
    assert red.llen(events_key) == sum(len(step) for step in STEPS)  # appended once each, never rewritten
    assert int(red.get(f"{store.prefix}:session:customer:C2")) == len(STEPS[0]) + len(STEPS[1])
    assert 0 < red.ttl(events_key) <= 120
    assert "customer:C2" in await store.keys()
    assert await store.retrieve("nobody") is None


async def test_sql_store_from_a_url(tmp_path: Path) -> None:
    store = UrlSQLTrackerStore(host=f"sqlite:///{tmp_path / 'trackers.db'}", domain=DOMAIN)
    await store.save(DialogueStateTracker.from_events("visitor:abc12345", turn("hi", 1)))
    again = await store.retrieve("visitor:abc12345")
    assert again is not None and again.latest_message.text == "hi"


def test_a_missing_url_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="needs `url`"):
        RedisEventTrackerStore(host=None, domain=DOMAIN)
    with pytest.raises(ValueError, match="needs `url`"):
        UrlSQLTrackerStore(host="", domain=DOMAIN)


async def test_a_session_another_worker_wrote_is_read_as_the_store_reads_it_and_followed_from_then_on(
    store: RedisEventTrackerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.rasa_ext import speedups, state_cache
    from bot.settings import get_settings

    monkeypatch.setenv("BOT_RASA_SPEEDUPS", "on")
    get_settings.cache_clear()
    speedups.install()
    await play(store, "customer:C3")
    # a worker (or a restarted process) that has never seen the conversation: no memo, no line
    other = RedisEventTrackerStore(host=REDIS_URL, domain=DOMAIN, record_exp="120", key_prefix=store.prefix)
    found = await other.retrieve("customer:C3")
    expected = await speedups.rasa_originals()["bot.rasa_ext.tracker_store:RedisEventTrackerStore.retrieve"](
        other, "customer:C3"
    )
    assert [e.as_dict() for e in found.events] == [e.as_dict() for e in expected.events]
    assert found.current_slot_values() == expected.current_slot_values()
    assert found.latest_message == expected.latest_message and found.latest_action == expected.latest_action
    line = state_cache.line_for(found)
    assert line is not None  # the message's predictions and copies use it, not a replay of the session
    assert state_cache._memos(other).get("customer:C3").line is line
    first_line = state_cache._memos(store).get("customer:C3").line
    for event in turn("five", 5003) + [SlotSet("language", "zh", timestamp=5004)]:
        found.update(event)
    await other.save(found)
    # the first worker sees the other's write: it reads only the new events and extends its line
    again = await store.retrieve("customer:C3")
    expected = await speedups.rasa_originals()["bot.rasa_ext.tracker_store:RedisEventTrackerStore.retrieve"](
        store, "customer:C3"
    )
    assert [e.as_dict() for e in again.events] == [e.as_dict() for e in expected.events]
    assert [e.text for e in again.events if isinstance(e, UserUttered)] == ["three", "four", "five"]
    assert again.current_slot_values() == expected.current_slot_values() and again.get_slot("language") == "zh"
    assert again.latest_message == expected.latest_message and again.latest_action == expected.latest_action
    assert state_cache.line_for(again) is first_line
    assert state_cache._memos(store).get("customer:C3").length == sum(len(step) for step in STEPS) + 5
    get_settings.cache_clear()
