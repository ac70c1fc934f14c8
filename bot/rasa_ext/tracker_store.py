"""Rasa's shared tracker stores, each configured by one URL, for several Rasa workers.

endpoints.scaled.yml uses Redis (measured faster: README, "Performance")::

    tracker_store:
      type: bot.rasa_ext.tracker_store.RedisEventTrackerStore
      url: ${REDIS_URL}             # redis://[:password@]host:port/db
      key_prefix: bot
      record_exp: 7776000           # a conversation expires 90 days after its last message

or PostgreSQL (``python -m bot conversations prune`` applies the retention period there)::

    tracker_store:
      type: bot.rasa_ext.tracker_store.UrlSQLTrackerStore
      url: ${TRACKER_STORE_URL}     # e.g. postgresql://bot@db.internal:5432/rasa_trackers
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SerializedTrackerAsText, SQLTrackerStore, TrackerStore
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import make_url

from bot.rasa_ext.redis_clients import async_client


def _required(url: str | None, example: str) -> str:
    if not url:
        raise ValueError(f"tracker_store needs `url`, for example {example}")
    return url


class UrlSQLTrackerStore(SQLTrackerStore):
    def __init__(
        self,
        host: str | None = None,
        domain: Domain | None = None,
        event_broker: EventBroker | None = None,
        **kwargs: Any,
    ) -> None:
        url = make_url(_required(host, "postgresql://user@host:5432/db"))
        super().__init__(
            domain=domain,
            dialect=url.get_backend_name(),
            host=url.host,
            port=url.port,
            db=url.database or "rasa.db",
            username=url.username,
            password=url.password,
            event_broker=event_broker,
            login_db=kwargs.get("login_db"),
            query=dict(url.query) or None,
        )


class RedisEventTrackerStore(TrackerStore, SerializedTrackerAsText):
    """Each conversation is a Redis list of its events, appended to and never rewritten.

    Rasa's RedisTrackerStore keeps a conversation as one JSON document: every message reads
    and replays the whole history (every session) twice and writes it back whole, so a turn
    gets slower the longer a customer has been talking to the bank, and its blocking client
    holds up the event loop. Here a turn reads only the latest session in one round trip (a
    script returns the session's start index, kept under ``<prefix>:session:<id>``, and its
    events) and writes only the new events: one round trip to count what is stored, one
    pipelined ``RPUSH``, with the asyncio client. Sessions are split where Rasa splits them, at ``action_session_start``.
    Writes of one conversation never overlap: the lock store serialises its messages.
    """

    # ARGV[1]: 'latest' (the latest session's events), 'all' (every event) or 'count' (none)
    RETRIEVE = """
    local start = tonumber(redis.call('GET', KEYS[2]) or '0')
    local length = redis.call('LLEN', KEYS[1])
    if ARGV[1] == 'count' then return {start, length, {}} end
    if ARGV[1] == 'all' then start = 0 end
    return {start, length, redis.call('LRANGE', KEYS[1], start, -1)}
    """

    def __init__(
        self,
        host: str | None = None,
        domain: Domain | None = None,
        event_broker: EventBroker | None = None,
        record_exp: Any = None,
        key_prefix: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.url = _required(host, "redis://host:6379/0")
        self.record_exp = int(record_exp) if record_exp else None  # seconds after the last message
        self.prefix = key_prefix or "rasa"
        self._retrieve_script: Any = None
        super().__init__(domain, event_broker, **kwargs)

    def _client(self) -> Any:
        return async_client(self.url, 10, decode_responses=True)

    def _keys(self, sender_id: str) -> list[str]:
        return [f"{self.prefix}:events:{sender_id}", f"{self.prefix}:session:{sender_id}"]

    async def _read(self, sender_id: str, mode: str) -> tuple[int, int, list[str]]:
        client = self._client()
        if self._retrieve_script is None:
            self._retrieve_script = client.register_script(self.RETRIEVE)
        start, length, raw = await self._retrieve_script(keys=self._keys(sender_id), args=[mode], client=client)
        return int(start), int(length), raw

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        events_key, session_key = self._keys(tracker.sender_id)
        start, length, _ = await self._read(tracker.sender_id, "count")
        new = list(itertools.islice(tracker.events, max(0, length - start), None))
        pipe = self._client().pipeline(transaction=True)
        if new:
            pipe.rpush(events_key, *(json.dumps(e.as_dict()) for e in new))
            starts = [length + k for k, e in enumerate(new) if _starts_session(e)]
            if starts:
                pipe.set(session_key, starts[-1])
        if self.record_exp:
            pipe.expire(events_key, self.record_exp)
            pipe.expire(session_key, self.record_exp)
        await pipe.execute()

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        _, _, raw = await self._read(sender_id, "latest")
        return self._tracker(sender_id, raw)

    async def retrieve_full_tracker(self, conversation_id: str) -> DialogueStateTracker | None:
        _, _, raw = await self._read(conversation_id, "all")
        return self._tracker(conversation_id, raw)

    def _tracker(self, sender_id: str, raw: list[str]) -> DialogueStateTracker | None:
        if not raw:
            return None
        return DialogueStateTracker.from_dict(sender_id, [json.loads(e) for e in raw], self.domain.slots)

    async def keys(self) -> Iterable[str]:
        head = len(self._keys("")[0])
        return [key[head:] async for key in self._client().scan_iter(match=self._keys("*")[0], count=1000)]


def _starts_session(event: Event) -> bool:
    return isinstance(event, ActionExecuted) and event.action_name == ACTION_SESSION_START_NAME
