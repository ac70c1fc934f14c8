"""Retention of conversations in an SQL tracker store (python -m bot conversations prune)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.__main__ import main
from bot.conversations import prune
from bot.rasa_ext.tracker_store import UrlSQLTrackerStore

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc)


def day(n: int) -> float:
    return (NOW - dt.timedelta(days=n)).timestamp()


def turn(text: str, ts: float) -> list:
    return [
        UserUttered(text, {"name": "greet", "confidence": 1.0}, timestamp=ts),
        ActionExecuted("action_listen", timestamp=ts + 1),
    ]


async def seeded(tmp_path: Path) -> tuple[str, UrlSQLTrackerStore]:
    url = f"sqlite:///{tmp_path / 'trackers.db'}"
    store = UrlSQLTrackerStore(host=url, domain=Domain.empty())
    conversations = {
        # an old session, then a recent one: the old session goes
        "customer:C1": [
            SessionStarted(timestamp=day(200)),
            *turn("old", day(200)),
            SessionStarted(timestamp=day(2)),
            *turn("new", day(2)),
        ],
        # idle for longer than the retention period: all of it goes
        "visitor:idle0001": [SessionStarted(timestamp=day(120)), *turn("bye", day(120))],
        # one long session that is still going: nothing goes
        "customer:C2": [SessionStarted(timestamp=day(100)), *turn("start", day(100)), *turn("today", day(0))],
    }
    for sender, events in conversations.items():
        await store.save(DialogueStateTracker.from_events(sender, events))
    return url, store


async def test_prune_removes_only_what_the_bot_can_no_longer_see(tmp_path: Path) -> None:
    url, store = await seeded(tmp_path)
    cutoff = NOW - dt.timedelta(days=90)
    assert prune(url, cutoff, dry_run=True) == 3 + 3
    assert prune(url, cutoff) == 6
    c1 = await store.retrieve_full_tracker("customer:C1")
    assert [e.text for e in c1.events if isinstance(e, UserUttered)] == ["new"]
    assert await store.retrieve_full_tracker("visitor:idle0001") is None
    c2 = await store.retrieve_full_tracker("customer:C2")
    assert [e.text for e in c2.events if isinstance(e, UserUttered)] == ["start", "today"]
    assert prune(url, cutoff) == 0


def test_the_command_needs_a_store_and_a_sensible_period(monkeypatch, capsys) -> None:
    monkeypatch.delenv("TRACKER_STORE_URL", raising=False)
    assert main(["conversations", "prune", "--days", "90"]) == 2
    assert "TRACKER_STORE_URL" in capsys.readouterr().err
    assert main(["conversations", "prune", "--days", "0", "--url", "sqlite://"]) == 2
