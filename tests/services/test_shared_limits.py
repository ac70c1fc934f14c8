"""Rate limits shared by several Rasa workers through the local Redis."""

from __future__ import annotations

import uuid

import pytest
import redis

from bot.rasa_ext.limits import Limit, RateLimits, RedisCounters, limits_from_environment
from bot.settings import get_settings
from tests.conftest import REDIS_TEST_URL as REDIS_URL


@pytest.fixture
def key(redis_url: str) -> str:
    return uuid.uuid4().hex


async def test_two_workers_share_one_allowance(key: str) -> None:
    limit = (Limit("conversation", 3, 60, "slow down"),)
    worker_a, worker_b = RateLimits(limit, RedisCounters(REDIS_URL)), RateLimits(limit, RedisCounters(REDIS_URL))
    answers = [await w.check("conversation", key, now=1000) for w in (worker_a, worker_b, worker_a, worker_b)]
    assert answers == [None, None, None, "slow down"]
    assert await worker_b.check("conversation", key, now=1060) is None  # the next minute
    ttl = redis.Redis.from_url(REDIS_URL).ttl(f"bot:limit:conversation:{key}/60:{1060 // 60}")
    assert 0 < ttl <= 65  # counters expire with their window


async def test_redis_unreachable_lets_the_message_through(key: str) -> None:
    limits = RateLimits((Limit("ip", 0, 60, "never"),), RedisCounters("redis://127.0.0.1:1/0"))
    assert await limits.check("ip", key) is None


def test_redis_is_used_only_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert type(limits_from_environment().counters).__name__ == "MemoryCounters"
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    monkeypatch.setenv("DAILY_MESSAGES_PER_CONVERSATION", "7")
    get_settings.cache_clear()  # settings are read once per process
    limits = limits_from_environment()
    assert isinstance(limits.counters, RedisCounters)
    assert [(x.scope, x.limit, x.window_seconds) for x in limits.limits][-1] == ("conversation", 7, 86_400)
