"""Live delivery of chat lines to open pages: wake-ups within a worker, or across workers by Redis.

The database (bot.services.chat_log) is the truth; a notification only says "look now" (or
carries a transient "typing" signal that is never stored). A stream therefore never loses a
line when a notification is lost (a Redis restart, a write by another process such as the
action server): it also looks in the database every few seconds. Within one process the
notifier is a set of asyncio queues; with ``REDIS_URL`` every worker keeps one pattern
subscription to ``bot:chat:*`` and hands each message to its local queues, so a page connected
to any worker hears what any worker (or machine) published.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from typing import Any

from bot.rasa_ext.limits import REDIS_TIMEOUT_SECONDS
from bot.rasa_ext.redis_clients import async_client
from bot.settings import get_settings

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "bot:chat:"
QUEUE_SIZE = 64


class TooManyStreams(Exception):
    """This conversation already has the most open streams one worker serves."""


class MemoryNotifier:
    """Notifications within this process (one Rasa worker)."""

    #: Whether a line another process stores (and announces) wakes this process's streams.
    hears_other_processes = False

    def __init__(self, max_streams: int = 4) -> None:
        self._queues: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self.max_streams = max_streams

    def subscribe(self, conversation_id: str) -> asyncio.Queue[dict[str, Any]]:
        queues = self._queues[conversation_id]
        if len(queues) >= self.max_streams:
            raise TooManyStreams()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        queues.add(queue)
        return queue

    def unsubscribe(self, conversation_id: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        queues = self._queues.get(conversation_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._queues[conversation_id]

    def deliver(self, conversation_id: str, event: dict[str, Any]) -> None:
        for queue in list(self._queues.get(conversation_id, ())):
            with contextlib.suppress(asyncio.QueueFull):  # a stuck reader still finds the lines in the database
                queue.put_nowait(event)

    async def publish(self, conversation_id: str, event: dict[str, Any]) -> None:
        self.deliver(conversation_id, event)

    def open_streams(self) -> int:
        return sum(len(q) for q in self._queues.values())


class RedisNotifier(MemoryNotifier):
    """Notifications across workers and machines through Redis pub/sub."""

    def __init__(self, url: str, max_streams: int = 4) -> None:
        super().__init__(max_streams)
        self.url = url
        self.hears_other_processes = False
        self._listener: asyncio.Task[None] | None = None

    def subscribe(self, conversation_id: str) -> asyncio.Queue[dict[str, Any]]:
        queue = super().subscribe(conversation_id)
        if self._listener is None or self._listener.done():
            self._listener = asyncio.get_running_loop().create_task(self._listen())
        return queue

    async def publish(self, conversation_id: str, event: dict[str, Any]) -> None:
        try:
            client = async_client(self.url, REDIS_TIMEOUT_SECONDS)
            await client.publish(CHANNEL_PREFIX + conversation_id, json.dumps(event))
        except Exception:  # noqa: BLE001 - streams also look in the database; deliver here at least
            logger.warning("chat stream: Redis publish failed; pages on other workers see it at their next look")
            self.deliver(conversation_id, event)

    async def _listen(self) -> None:
        from redis import asyncio as aioredis

        while self._queues:
            client = aioredis.Redis.from_url(self.url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
            pubsub = client.pubsub()
            try:
                await pubsub.psubscribe(CHANNEL_PREFIX + "*")
                self.hears_other_processes = True
                while self._queues:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message and message.get("type") == "pmessage":
                        self._dispatch(message)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep serving from the database; try again shortly
                logger.warning("chat stream: Redis subscription lost; streams poll the database until it is back")
                self.hears_other_processes = False
                await asyncio.sleep(1.0)
            finally:
                self.hears_other_processes = False
                with contextlib.suppress(Exception):
                    await pubsub.close()
                    await client.close()

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel = message.get("channel") or b""
        channel = channel.decode() if isinstance(channel, bytes) else str(channel)
        try:
            event = json.loads(message.get("data") or b"{}")
        except ValueError:
            return
        if isinstance(event, dict):
            self.deliver(channel[len(CHANNEL_PREFIX) :], event)


def notifier_from_environment(max_streams: int) -> MemoryNotifier:
    url = get_settings().redis_url
    return RedisNotifier(url, max_streams) if url else MemoryNotifier(max_streams)


def sse(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    """One server-sent event (data on one line: JSON never contains a raw newline)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
