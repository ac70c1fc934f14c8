"""Which conversations may have agent messages waiting, so a reply looks in the inbox only then.

Agent messages (and the hand-back note) are written only through the channel's agent API,
which marks the conversation here; the customer's next reply takes the mark and reads the
inbox from the database. Every other reply skips that database round trip (measured in the
README, "Performance"). Marks live in this process, or in Redis when ``REDIS_URL`` is set so
that every worker sees them. If a mark is lost (a restart, Redis flushed), nothing is lost:
the messages stay in the database and the app's ``/inbox`` poll, which always reads the
database, delivers them.
"""

from __future__ import annotations

import logging

from bot.rasa_ext.limits import REDIS_TIMEOUT_SECONDS
from bot.rasa_ext.redis_clients import async_client
from bot.settings import get_settings

logger = logging.getLogger(__name__)

MARK_SECONDS = 30 * 86_400


class MemoryHints:
    def __init__(self, max_marks: int = 100_000) -> None:
        self._marked: dict[str, None] = {}
        self._max = max_marks

    async def mark(self, conversation_id: str) -> None:
        self._marked[conversation_id] = None
        while len(self._marked) > self._max:  # oldest first; /inbox still delivers their messages
            del self._marked[next(iter(self._marked))]

    async def take(self, conversation_id: str) -> bool:
        if conversation_id in self._marked:
            del self._marked[conversation_id]
            return True
        return False


class RedisHints:
    def __init__(self, url: str) -> None:
        self.url = url

    async def mark(self, conversation_id: str) -> None:
        try:
            await async_client(self.url, REDIS_TIMEOUT_SECONDS).set(f"bot:inbox:{conversation_id}", 1, ex=MARK_SECONDS)
        except Exception:  # noqa: BLE001 - the app's /inbox poll still delivers the message
            logger.exception("inbox hints: Redis unavailable; the message waits for the app's /inbox poll")

    async def take(self, conversation_id: str) -> bool:
        try:
            return bool(await async_client(self.url, REDIS_TIMEOUT_SECONDS).delete(f"bot:inbox:{conversation_id}"))
        except Exception:  # noqa: BLE001 - when unsure, look in the database
            logger.exception("inbox hints: Redis unavailable; reading the inbox from the database")
            return True


def hints_from_environment() -> MemoryHints | RedisHints:
    url = get_settings().redis_url
    return RedisHints(url) if url else MemoryHints()
