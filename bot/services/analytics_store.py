"""Storing analytics events: a batch from any source in one transaction, idempotent, bad messages set apart.

The consumer acknowledges a batch's messages only after this commit, so a batch is either stored
whole or redelivered whole; and since every event has a key derived from its content
(bot.analytics.events.event_key), a redelivered or reconciled event is skipped, never doubled.

A message that is not a usable event is stored in ``analytics_rejects`` with the reason, in the same
transaction, so the queue moves on. If the database itself is unreachable, nothing is stored and
``RecordsUnavailable`` tells the consumer to leave the batch in the queue and try again later. Any other
database error means one of the events cannot be stored (it slipped past validation): the batch is
split until that event is alone, and it is rejected with the error instead of blocking the rest.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.analytics.events import MAX_REASON, Rejected, clip, dumps_for_reject, reject_body, reject_key, to_row
from bot.domain.errors import RecordsUnavailable
from bot.unit_of_work import UowFactory

logger = logging.getLogger(__name__)

SOURCES = ("pika", "sql", "reconcile")


class StoreResult(NamedTuple):
    inserted: int  # new rows in analytics_events
    duplicates: int  # valid events already stored (or twice in the batch)
    rejected: int  # messages stored in analytics_rejects


UNSTORABLE = "could not be stored: "


def store_batch(
    uow_factory: UowFactory,
    events: Sequence[object],
    source: str,
    now: dt.datetime,
    cursor: tuple[str, int] | None = None,
) -> StoreResult:
    """Store a batch of events (decoded JSON values, or ``Rejected`` for messages that were not JSON)
    in one transaction, stamped ``received_at=now`` (bank time) and ``source``; returns how many were
    inserted, already there, and rejected.

    ``cursor`` (name, last id) is moved in the same transaction, so a resumable source never skips
    a stored batch nor needs one it has stored. Raises ``RecordsUnavailable`` when the database cannot
    be reached; then nothing was stored and the cursor did not move.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    try:
        return _store(uow_factory, events, source, now, cursor)
    except SQLAlchemyError as exc:
        hopeless = all(isinstance(e, Rejected) and e.reason.startswith(UNSTORABLE) for e in events)
        if _unreachable(exc) or hopeless:
            raise RecordsUnavailable() from exc
        refused = exc
    logger.warning("analytics: %d event(s) could not be stored together (%s); storing them apart", len(events), refused)
    if len(events) == 1:
        return store_batch(uow_factory, [_unstorable(events[0], refused)], source, now, cursor)
    half = len(events) // 2
    first = store_batch(uow_factory, events[:half], source, now)
    second = store_batch(uow_factory, events[half:], source, now, cursor)
    return StoreResult(*(a + b for a, b in zip(first, second, strict=True)))


def _store(
    uow_factory: UowFactory, events: Sequence[object], source: str, now: dt.datetime, cursor: tuple[str, int] | None
) -> StoreResult:
    rows: dict[str, dict[str, Any]] = {}
    valid = 0
    rejects: dict[str, dict[str, Any]] = {}
    rejected = 0
    for item in events:
        row = item if isinstance(item, Rejected) else to_row(item)
        if isinstance(row, Rejected):
            rejected += 1
            key = reject_key(source, row)
            rejects[key] = {
                "reject_key": key,
                "received_at": now,
                "reason": row.reason,
                "body": row.body,
                "source": source,
            }
        else:
            valid += 1
            rows.setdefault(row["event_key"], {**row, "received_at": now, "source": source})
    with uow_factory() as uow:
        inserted = uow.analytics.add_events(list(rows.values()))
        uow.analytics.add_rejects(list(rejects.values()))
        if cursor is not None:
            uow.analytics.move_cursor(cursor[0], cursor[1], now)
        uow.commit()
    return StoreResult(inserted, valid - inserted, rejected)


def _unreachable(exc: SQLAlchemyError) -> bool:
    """The database is down, unreachable, locked or not migrated (worth retrying the same batch later),
    as opposed to refusing one of the rows."""
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _unstorable(event: object, exc: SQLAlchemyError) -> Rejected:
    error = type(getattr(exc, "orig", None) or exc).__name__
    body = event.body if isinstance(event, Rejected) else reject_body(dumps_for_reject(event))
    return Rejected(clip(UNSTORABLE + error, MAX_REASON), body)


def last_read(uow_factory: UowFactory, name: str) -> int:
    """The last id stored from the resumable source ``name`` (0 before the first batch)."""
    try:
        with uow_factory() as uow:
            return uow.analytics.cursor(name)
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc
