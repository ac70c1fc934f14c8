"""Abuse limits of the in-app channel: fixed-window counters per client address and conversation.

One process keeps its counters in memory (the embedded default). Several Rasa workers share
them in Redis when ``REDIS_URL`` is set (``make run-scaled``), so a client cannot multiply its
allowance by the number of workers. If Redis is unreachable the limits are not enforced for
that request (logged): customers are not locked out because a counter store failed.

Limits (environment): ``RATE_LIMIT_PER_IP`` (120 a minute), ``RATE_LIMIT_PER_CONVERSATION``
(30 a minute) and ``DAILY_MESSAGES_PER_CONVERSATION`` (600 a day, UTC). The daily cap is what
bounds a conversation's size: Rasa loads only the current session (a session ends after 60
idle minutes, domain/common.yml), and at most 600 user turns a day are ever stored for one
conversation; ``python -m bot conversations prune`` removes what is past retention.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol

from bot.rasa_ext.redis_clients import async_client
from bot.settings import get_settings

logger = logging.getLogger(__name__)

# A slow Redis must not hold a customer's reply: give up quickly and let the message through.
REDIS_TIMEOUT_SECONDS = 0.5


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
    """Counters of this process; finished windows are forgotten so the table stays bounded."""

    def __init__(self, max_keys: int = 200_000) -> None:
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (end of its window, hits)
        self._max_keys = max_keys

    async def hit(self, key: str, window_seconds: int, now: float) -> int:
        end = (now // window_seconds + 1) * window_seconds
        stored_end, count = self._windows.get(key, (end, 0))
        count = count + 1 if stored_end == end else 1
        self._windows[key] = (end, count)
        if len(self._windows) > self._max_keys:
            for k in [k for k, (e, _) in self._windows.items() if e <= now]:
                del self._windows[k]
        return count


class RedisCounters:
    def __init__(self, url: str) -> None:
        self.url = url

    async def hit(self, key: str, window_seconds: int, now: float) -> int:
        name = f"bot:limit:{key}:{int(now // window_seconds)}"
        async with async_client(self.url, REDIS_TIMEOUT_SECONDS).pipeline(transaction=True) as pipe:
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
    """The limits and counter store from Settings (RATE_LIMIT_*, DAILY_MESSAGES_PER_CONVERSATION, REDIS_URL)."""
    settings = get_settings()
    limits = (
        Limit("ip", settings.rate_limit_per_ip, 60, "too many requests from this address; try again in a minute"),
        Limit(
            "conversation",
            settings.rate_limit_per_conversation,
            60,
            "too many messages in this conversation; try again in a minute",
        ),
        Limit(
            "conversation",
            settings.daily_messages_per_conversation,
            86_400,
            "this conversation has reached today's message limit; please call the hotline or try again tomorrow",
        ),
    )
    url = settings.redis_url
    return RateLimits(limits, RedisCounters(url) if url else MemoryCounters())
