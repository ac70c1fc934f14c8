from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import AccountAction
from bot.clock import FixedClock
from bot.identity import customer_conversation, visitor_conversation
from bot.unit_of_work import SqlAlchemyUnitOfWork


def tracker_for(conversation_id: str, intent: str = "greet", events: list[dict[str, Any]] | None = None) -> Tracker:
    return Tracker.from_dict(
        {
            "sender_id": conversation_id,
            "slots": {"language": "zh"},
            "latest_message": {"intent": {"name": intent, "confidence": 0.99}, "text": "..."},
            "events": events or [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )


def customer(customer_id: str, intent: str = "greet") -> Tracker:
    return tracker_for(customer_conversation(customer_id), intent)


def visitor(intent: str = "greet") -> Tracker:
    return tracker_for(visitor_conversation("anon_visitor_123"), intent)


@pytest.fixture
def records(monkeypatch, sqlite_url, today):  # type: ignore[no-untyped-def]
    """Point every account action at the seeded demo database, with today pinned."""
    monkeypatch.setattr(AccountAction, "uow_factory", staticmethod(lambda: SqlAlchemyUnitOfWork(sqlite_url)))
    monkeypatch.setattr(
        AccountAction, "clock", staticmethod(lambda: FixedClock(dt.datetime.combine(today, dt.time(14, 0))))
    )
    return sqlite_url


@pytest.fixture
def no_records(monkeypatch):  # type: ignore[no-untyped-def]
    """Any attempt to read loan records fails the test."""

    def forbidden():  # type: ignore[no-untyped-def]
        raise AssertionError("an anonymous visitor's request must not read loan records")

    monkeypatch.setattr(AccountAction, "uow_factory", staticmethod(forbidden))
    monkeypatch.setattr(AccountAction, "clock", staticmethod(lambda: FixedClock(dt.datetime(2026, 11, 28, 14, 0))))


async def run(action: Any, tracker: Tracker) -> list[dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    assert events == []
    return dispatcher.messages
