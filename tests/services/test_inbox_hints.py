"""Inbox marks: a reply reads the agent inbox only when the agent API wrote to it."""

from __future__ import annotations

import uuid

import pytest

from bot.rasa_ext.inbox_hints import MemoryHints, RedisHints, hints_from_environment
from bot.settings import get_settings
from tests.conftest import REDIS_TEST_URL as REDIS_URL


async def test_a_mark_is_taken_once() -> None:
    hints = MemoryHints()
    assert await hints.take("customer:C1") is False
    await hints.mark("customer:C1")
    assert await hints.take("customer:C1") is True
    assert await hints.take("customer:C1") is False


async def test_the_in_memory_marks_are_bounded() -> None:
    hints = MemoryHints(max_marks=3)
    for k in range(5):
        await hints.mark(f"c{k}")
    assert [await hints.take(f"c{k}") for k in range(5)] == [False, False, True, True, True]


async def test_workers_share_marks_through_redis(redis_url: str) -> None:
    conversation = f"customer:{uuid.uuid4().hex[:8]}"
    agent_api_worker, reply_worker = RedisHints(REDIS_URL), RedisHints(REDIS_URL)
    await agent_api_worker.mark(conversation)
    assert await reply_worker.take(conversation) is True
    assert await agent_api_worker.take(conversation) is False


async def test_without_redis_a_reply_looks_in_the_database() -> None:
    down = RedisHints("redis://127.0.0.1:1/0")
    await down.mark("customer:C1")  # logged, not raised
    assert await down.take("customer:C1") is True


def test_redis_only_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert isinstance(hints_from_environment(), MemoryHints)
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    get_settings.cache_clear()  # settings are read once per process
    assert isinstance(hints_from_environment(), RedisHints)
