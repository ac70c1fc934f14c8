"""Idempotent retries of an in-app message: the client's ``client_message_id``.

A client that did not get an answer (a worker died, a link was cut, a proxy answered 502/503/504)
sends the same message again with the same ``client_message_id`` (8-64 characters of
A-Z a-z 0-9 _ -, unique per conversation; the webhook body's optional field). The server handles
each such message at most once:

1. The finished answer is kept for ``REPLY_SECONDS`` (Redis when ``REDIS_URL`` is set, so every
   worker and machine sees it; else this process). A retry of an answered message gets that answer
   again (header ``X-Replayed: 1``) and nothing is processed.
2. A worker can die after Rasa stored the turn but before the answer was kept. So the message is
   processed under the conversation's lock (the lock store Rasa uses), carrying the client's id as
   Rasa's ``message_id``, and first the stored conversation is searched for a user message with
   that id: if it is there, the bot messages Rasa stored after it are the answer, nothing is
   processed again. A retry that arrives while the first attempt still runs elsewhere waits for
   the lock, then finds the first attempt's turn.
3. When handling fails or times out, a message with an id gets a 503 with ``"retry": true``
   (instead of the apology a client without ids gets), so the client sends it again.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import BotUttered, UserUttered

from bot.rasa_ext.redis_clients import async_client

logger = logging.getLogger(__name__)

REPLY_SECONDS = 86_400
REDIS_TIMEOUT_SECONDS = 2.0


class MemoryReplies:
    """Answers kept in this process (one worker, no Redis), the oldest forgotten first."""

    def __init__(self, max_replies: int = 20_000) -> None:
        self._kept: dict[str, bytes] = {}
        self._max = max_replies

    async def get(self, conversation_id: str, client_message_id: str) -> bytes | None:
        return self._kept.get(f"{conversation_id}:{client_message_id}")

    async def put(self, conversation_id: str, client_message_id: str, body: bytes) -> None:
        self._kept[f"{conversation_id}:{client_message_id}"] = body
        while len(self._kept) > self._max:
            del self._kept[next(iter(self._kept))]


class RedisReplies:
    """Answers kept in Redis for every worker; when Redis fails, the tracker search (2.) still holds."""

    def __init__(self, url: str, prefix: str = "bot") -> None:
        self.url = url
        self.prefix = prefix

    def _key(self, conversation_id: str, client_message_id: str) -> str:
        return f"{self.prefix}:reply:{conversation_id}:{client_message_id}"

    async def get(self, conversation_id: str, client_message_id: str) -> bytes | None:
        try:
            found = await async_client(self.url, REDIS_TIMEOUT_SECONDS).get(
                self._key(conversation_id, client_message_id)
            )
        except Exception:  # noqa: BLE001 - the stored conversation is searched under the lock anyway
            logger.warning("idempotency: Redis unavailable; relying on the stored conversation")
            return None
        return bytes(found) if found is not None else None

    async def put(self, conversation_id: str, client_message_id: str, body: bytes) -> None:
        try:
            await async_client(self.url, REDIS_TIMEOUT_SECONDS).set(
                self._key(conversation_id, client_message_id), body, ex=REPLY_SECONDS
            )
        except Exception:  # noqa: BLE001 - a retry finds the turn in the stored conversation
            logger.warning("idempotency: the answer could not be kept in Redis")


def replies_from_environment() -> MemoryReplies | RedisReplies:
    from bot.settings import get_settings

    url = get_settings().redis_url
    return RedisReplies(url) if url else MemoryReplies()


def answered(tracker: Any | None, client_message_id: str) -> list[dict[str, Any]] | None:
    """The bot messages stored after the user message with this id, or None if there is none."""
    if tracker is None:
        return None
    events = list(tracker.events)
    for index, event in enumerate(events):
        if isinstance(event, UserUttered) and event.message_id == client_message_id:
            out = []
            for later in events[index + 1 :]:
                if isinstance(later, UserUttered):
                    break
                if isinstance(later, BotUttered):
                    message: dict[str, Any] = {"recipient_id": tracker.sender_id, "text": later.text or ""}
                    buttons = (later.data or {}).get("buttons")
                    if buttons:
                        message["buttons"] = buttons
                    out.append(message)
            return out
    return None


async def handle_once(agent: Any, message: UserMessage) -> list[dict[str, Any]] | None:
    """Process the message under its conversation's lock unless the stored conversation already
    holds it: then the bot messages stored after it, and nothing is processed (None otherwise)."""
    async with agent.lock_store.lock(message.sender_id):
        tracker = await agent.tracker_store.retrieve(message.sender_id)
        done = answered(tracker, message.message_id)
        if done is not None:
            logger.info("idempotency: %s was handled before; answering from the stored turn", message.message_id)
            return done
        await agent.processor.handle_message(message)
        return None
