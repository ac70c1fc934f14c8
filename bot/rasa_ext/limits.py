"""Abuse limits of the in-app channel: fixed-window counters per client address and conversation.

One process keeps its counters in memory (the embedded default). Several Rasa workers share
them in Redis when ``REDIS_URL`` is set (``make run-scaled``), so a client cannot multiply its
allowance by the number of workers. If Redis is unreachable the limits are not enforced for
that request (logged): customers are not locked out because a counter store failed.

Limits (environment): ``RATE_LIMIT_PER_IP`` (120 a minute), ``RATE_LIMIT_PER_CONVERSATION``
(30 a minute) and ``DAILY_MESSAGES_PER_CONVERSATION`` (600 a day, UTC). The daily cap is what
bounds a conversation's size: Rasa loads only the current session (a session ends after 60
idle minutes, domain.yml), and at most 600 user turns a day are ever stored for one
conversation; ``python -m bot conversations prune`` removes what is past retention.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Protocol

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    scope: str  # "ip" or "conversation"
    limit: int
    window_seconds: int
    error: str


class Counters(Protocol):
    async def hit(self, key: str, window_seconds: int, now: float) -> int:
        """Count one hit for key in the window containing now; returns the hits so far in it."""


class MemoryCounters:
    """Counters of this process; idle windows are forgotten so the table stays bounded."""

    def __init__(self, max_keys: int = 200_000) -> None:
        self._windows: dict[str, tuple[int, int]] = {}
        self._max_keys = max_keys

    async def hit(self, key: str, window_seconds: int, now: float) -> int:
        window = int(now // window_seconds)
        start, count = self._windows.get(key, (window, 0))
        count = count + 1 if start == window else 1
        self._windows[key] = (window, count)
        if len(self._windows) > self._max_keys:
            self._forget_old(now)
        return count

    def _forget_old(self, now: float) -> None:
        # Keys carry their window length (see RateLimits.check); drop every finished window.
        for key, (window, _) in list(self._windows.items()):
            seconds = int(key.rsplit("/", 1)[-1])
            if window < int(now // seconds):
                del self._windows[key]


class RedisCounters:
    def __init__(self, url: str) -> None:
        from redis import asyncio as aioredis

        self._redis = aioredis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)

    async def hit(self, key: str, window_seconds: int, now: float) -> int:
        name = f"bot:limit:{key}:{int(now // window_seconds)}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window_seconds + 5)
            count, _ = await pipe.execute()
        return int(count)


class RateLimits:
    def __init__(self, limits: tuple[Limit, ...], counters: Counters) -> None:
        self.limits = limits
        self.counters = counters

    async def check(self, scope: str, key: str, now: float | None = None) -> str | None:
        """The error message of the first limit this request exceeds, or None when it may proceed."""
        now = time.time() if now is None else now
        for limit in self.limits:
            if limit.scope != scope:
                continue
            try:
                count = await self.counters.hit(f"{scope}:{key}/{limit.window_seconds}", limit.window_seconds, now)
            except Exception:  # noqa: BLE001 - a failed counter store must not lock customers out
                logger.exception("rate limits: counter store unavailable; not enforced for this request")
                return None
            if count > limit.limit:
                return limit.error
        return None


def limits_from_environment() -> RateLimits:
    env = os.environ.get
    limits = (
        Limit(
            "ip", int(env("RATE_LIMIT_PER_IP", "120")), 60, "too many requests from this address; try again in a minute"
        ),
        Limit(
            "conversation",
            int(env("RATE_LIMIT_PER_CONVERSATION", "30")),
            60,
            "too many messages in this conversation; try again in a minute",
        ),
        Limit(
            "conversation",
            int(env("DAILY_MESSAGES_PER_CONVERSATION", "600")),
            86_400,
            "this conversation has reached today's message limit; please call the hotline or try again tomorrow",
        ),
    )
    url = env("REDIS_URL")
    return RateLimits(limits, RedisCounters(url) if url else MemoryCounters())
