"""Storing analytics events (bot/services/analytics_store.py): over the fakes, SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DataError

from bot.analytics.events import Rejected, event_key
from bot.domain.errors import RecordsUnavailable
from bot.services.analytics_store import last_read, store_batch
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.fakes import FakeAnalyticsRecords, FakeUnitOfWork

NOW = dt.datetime(2026, 11, 28, 10, 0)
TS = 1796170000.0


def events(n: int, sender: str = "customer:C1001", start: int = 0) -> list[dict]:
    return [
        {"sender_id": sender, "event": "user", "timestamp": TS + k, "text": f"hello {k}",
         "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}}
        for k in range(start, start + n)
    ]  # fmt: skip


def stored(url: str) -> list[tuple]:
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT conversation_id, event_type, name, source FROM analytics_events")))
    finally:
        engine.dispose()


def test_a_batch_is_stored_once_however_often_it_comes(database_url: str) -> None:
    uow = lambda: SqlAlchemyUnitOfWork(database_url)  # noqa: E731
    batch = events(300)  # more than one statement's worth on SQLite
    assert store_batch(uow, batch, "pika", NOW) == (300, 0, 0)
    assert store_batch(uow, batch[::-1], "reconcile", NOW) == (0, 300, 0)
    assert store_batch(uow, [*events(2, start=299), batch[0]], "sql", NOW) == (1, 2, 0)
    rows = stored(database_url)
    assert len(rows) == 301
    assert {r[3] for r in rows} == {"pika", "sql"}  # the first to store an event names its source


def test_rejects_are_stored_with_their_reason_beside_the_good_events(database_url: str) -> None:
    uow = lambda: SqlAlchemyUnitOfWork(database_url)  # noqa: E731
    batch: list[object] = [*events(2), Rejected("not JSON: Expecting value", "{oops"), {"event": "user"}]
    assert store_batch(uow, batch, "pika", NOW) == (2, 0, 2)
    assert store_batch(uow, batch, "pika", NOW) == (0, 2, 2)  # a redelivered reject is not stored twice
    engine = create_engine(database_url, future=True)
    with engine.connect() as conn:
        rejects = sorted(conn.execute(text("SELECT reason, body, source FROM analytics_rejects")).all())
    engine.dispose()
    assert rejects == [
        ("not JSON: Expecting value", "{oops", "pika"),
        ("sender_id missing or not a string", '{"event": "user"}', "pika"),
    ]


def test_the_cursor_moves_with_the_batch_it_belongs_to(database_url: str) -> None:
    uow = lambda: SqlAlchemyUnitOfWork(database_url)  # noqa: E731
    assert last_read(uow, "sql:events.db") == 0
    store_batch(uow, events(3), "sql", NOW, cursor=("sql:events.db", 3))
    store_batch(uow, events(2, start=3), "sql", NOW, cursor=("sql:events.db", 5))
    assert last_read(uow, "sql:events.db") == 5
    assert last_read(uow, "sql:other.db") == 0


def test_an_unreachable_database_stores_nothing_and_says_so() -> None:
    uow = lambda: SqlAlchemyUnitOfWork("postgresql+psycopg2://postgres@127.0.0.1:1/none")  # noqa: E731
    with pytest.raises(RecordsUnavailable):
        store_batch(uow, events(3), "pika", NOW, cursor=("c", 3))
    with pytest.raises(RecordsUnavailable):
        last_read(uow, "c")


class RefusingRecords(FakeAnalyticsRecords):
    """A database that refuses any statement holding the event with text "poison"."""

    def __init__(self, poison_key: str) -> None:
        super().__init__()
        self.poison_key = poison_key
        self.statements = 0

    def add_events(self, rows: Sequence[dict[str, Any]]) -> int:
        self.statements += 1
        if any(r["event_key"] == self.poison_key for r in rows):
            raise DataError("INSERT", {}, Exception("value out of range"))
        return super().add_events(rows)


def test_an_event_the_database_refuses_is_set_apart_and_the_rest_of_its_batch_stored() -> None:
    uow = FakeUnitOfWork()
    batch = events(8)
    uow.analytics = records = RefusingRecords(event_key(batch[5]))
    result = store_batch(uow.factory(), batch, "pika", NOW, cursor=("c", 8))
    assert result == (7, 0, 1)
    assert event_key(batch[5]) not in records.events and len(records.events) == 7
    [reject] = records.rejects.values()
    assert reject["reason"] == "could not be stored: Exception"
    assert '"hello 5"' in reject["body"]
    assert records.cursors == {"c": 8}


def test_an_unknown_source_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="source"):
        store_batch(FakeUnitOfWork().factory(), events(1), "kafka", NOW)
