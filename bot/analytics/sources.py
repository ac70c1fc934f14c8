"""Where Rasa's events can be read besides the broker's queue: Rasa's own tables and the Redis tracker store.

These are Rasa's schemas, not ours (Alembic does not own them), so they are read with plain SQL:

- the SQL event broker's ``events`` (id, sender_id, data: the published JSON, with ``sender_id``);
- the SQL tracker store's ``events`` (id, sender_id, type_name, timestamp, intent_name, action_name,
  data: the event's JSON without ``sender_id``);
- ``bot.rasa_ext.tracker_store.RedisEventTrackerStore``: one list ``<prefix>:events:<sender>`` of event
  JSON per conversation.

Tracker-store events are given their ``sender_id`` back, so they are the very objects the broker
carried and get the same event keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot import db
from bot.analytics.events import Rejected, decode, reject_body

MAX_CURSOR_NAME = 200


class BrokerTable:
    """Rasa's SQL event broker table, read in id order."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = db.get_engine(url)  # on SQLite a WAL connection: Rasa's writes never wait for our reads
        name = "sql:" + make_url(url).render_as_string(hide_password=True)
        if len(name) > MAX_CURSOR_NAME:
            name = "sql:" + hashlib.sha256(name.encode()).hexdigest()
        self.cursor_name = name

    def after(self, last_id: int, limit: int) -> list[tuple[int, str | None]]:
        """Up to ``limit`` rows (id, data) with ids above ``last_id``, in id order."""
        stmt = text("SELECT id, data FROM events WHERE id > :last ORDER BY id LIMIT :limit")
        with self.engine.connect() as conn:
            return [(int(i), d) for i, d in conn.execute(stmt, {"last": last_id, "limit": limit})]


def tracker_events(url: str, since: float | None, page: int = 2000, key_prefix: str = "bot") -> Iterator[list[object]]:
    """Every event in the tracker store at ``url`` (SQL or Redis) with a timestamp at or after ``since``
    (Unix seconds), with its ``sender_id``, in pages."""
    if make_url(url).get_backend_name() in ("redis", "rediss"):
        yield from _redis_events(url, since, page, key_prefix)
    else:
        yield from _sql_events(url, since, page)


def _sql_events(url: str, since: float | None, page: int) -> Iterator[list[object]]:
    engine = db.get_engine(url)
    since_clause = "" if since is None else " AND timestamp >= :since"
    stmt = text(f"SELECT id, sender_id, data FROM events WHERE id > :last{since_clause} ORDER BY id LIMIT :limit")  # noqa: S608 - a fixed clause
    last = 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(stmt, {"last": last, "since": since, "limit": page}).all()
        if not rows:
            return
        yield [_with_sender(sender, data) for _, sender, data in rows]
        last = int(rows[-1][0])


def _redis_events(url: str, since: float | None, page: int, key_prefix: str) -> Iterator[list[object]]:
    import redis

    client = redis.Redis.from_url(url, decode_responses=True)
    head = f"{key_prefix}:events:"
    try:
        batch: list[object] = []
        for key in client.scan_iter(match=head + "*", count=1000):
            sender = key[len(head) :]
            for start in range(0, int(client.llen(key)), page):
                for raw in client.lrange(key, start, start + page - 1):
                    event = _with_sender(sender, raw)
                    if since is None or _at_or_after(event, since):
                        batch.append(event)
                if len(batch) >= page:
                    yield batch
                    batch = []
        if batch:
            yield batch
    finally:
        client.close()


def _with_sender(sender: str, data: str | None) -> object:
    event = decode(data) if data else Rejected("empty tracker-store row", "")
    if isinstance(event, dict):
        event["sender_id"] = sender
    elif not isinstance(event, Rejected):
        event = Rejected("tracker-store row is not a JSON object", reject_body(str(data)))
    return event


def _at_or_after(event: Any, since: float) -> bool:
    if not isinstance(event, dict):
        return True  # let the store record what is wrong with it
    timestamp = event.get("timestamp")
    return not isinstance(timestamp, int | float) or timestamp >= since


def sqlite_path_exists(url: str) -> bool:
    """Whether a SQLite URL's file is there (reading a missing one would create it empty)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return True
    return Path(parsed.database).exists()
