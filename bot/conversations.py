"""Retention for conversations kept in an SQL tracker store (Rasa's ``events`` table).

    python -m bot conversations prune --days 90 [--url $TRACKER_STORE_URL] [--dry-run]

Removes events older than the cutoff that the bot can no longer see: those before the
conversation's latest session start (Rasa loads only the latest session), and whole
conversations with nothing newer than the cutoff. An ongoing session is never cut.
Conversations in Redis expire by themselves (``record_exp`` in endpoints.scaled.yml).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import MetaData, Table, and_, create_engine, delete, exists, func, or_, select


def prune(url: str, cutoff: dt.datetime, dry_run: bool = False) -> int:
    """Delete (or with dry_run only count) the prunable events; returns how many."""
    engine = create_engine(url, future=True)
    try:
        events = Table("events", MetaData(), autoload_with=engine)
        sessions = events.alias("sessions")
        recent = events.alias("recent")
        latest_session_start = (
            select(func.max(sessions.c.timestamp))
            .where(sessions.c.sender_id == events.c.sender_id, sessions.c.type_name == "session_started")
            .scalar_subquery()
        )
        still_active = exists().where(
            and_(recent.c.sender_id == events.c.sender_id, recent.c.timestamp >= cutoff.timestamp())
        )
        condition = and_(
            events.c.timestamp < cutoff.timestamp(),
            or_(events.c.timestamp < latest_session_start, ~still_active),
        )
        with engine.begin() as conn:
            count = int(conn.execute(select(func.count()).select_from(events).where(condition)).scalar_one())
            if count and not dry_run:
                conn.execute(delete(events).where(condition))
        return count
    finally:
        engine.dispose()
