"""The URL-configured tracker stores of endpoints.scaled.yml, against the local Redis and SQLite."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import redis
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_ext.tracker_store import UrlRedisTrackerStore, UrlSQLTrackerStore


def conversation(sender: str) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        sender, [ActionExecuted("action_listen"), UserUttered("hi", {"name": "greet", "confidence": 1.0})]
    )


async def test_redis_store_from_a_url_keeps_conversations_and_expires_them() -> None:
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/1").ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is required for this test: {exc}")
    prefix = "t" + uuid.uuid4().hex[:10]
    store = UrlRedisTrackerStore(
        host="redis://127.0.0.1:6379/1", domain=Domain.empty(), record_exp="120", key_prefix=prefix
    )
    await store.save(conversation("customer:C1"))
    again = await store.retrieve("customer:C1")
    assert again is not None and again.latest_message.text == "hi"
    assert 0 < store.red.ttl(f"{prefix}:tracker:customer:C1") <= 120


async def test_sql_store_from_a_url(tmp_path: Path) -> None:
    store = UrlSQLTrackerStore(host=f"sqlite:///{tmp_path / 'trackers.db'}", domain=Domain.empty())
    await store.save(conversation("visitor:abc12345"))
    again = await store.retrieve("visitor:abc12345")
    assert again is not None and again.latest_message.text == "hi"


def test_a_missing_url_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="needs `url`"):
        UrlRedisTrackerStore(host=None, domain=Domain.empty())
    with pytest.raises(ValueError, match="needs `url`"):
        UrlSQLTrackerStore(host="", domain=Domain.empty())
