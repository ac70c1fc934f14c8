"""`python -m bot report` on a database with known events and records: the CSV has exactly the
expected figures, a replayed copy of the events changes none, the HTML says what changed, and bad
dates get a clear message."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

from bot.services import chat_log, handoff, notices
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.conftest import TODAY
from tests.integration.conftest import ROOT

DAY = TODAY - dt.timedelta(days=1)
# Events are stored in UTC: 10:00 bank time (Asia/Shanghai) is 02:00 UTC.
T0 = dt.datetime.combine(DAY, dt.time(2, 0))


def rows() -> list[dict]:
    out = []

    def add(conversation: str, k: int, event_type: str, name: str | None = None, value: str | None = None) -> None:
        out.append(
            {
                "event_key": hashlib.sha256(f"{conversation}{k}{event_type}{name}".encode()).hexdigest(),
                "conversation_id": conversation,
                "verified": conversation.startswith("customer:"),
                "event_type": event_type,
                "name": name,
                "intent_confidence": 0.9,
                "text": name,
                "value": value,
                "at": T0 + dt.timedelta(seconds=k),
                "received_at": T0,
                "source": "sql",
            }
        )

    add("customer:C1001", 1, "session_started")
    add("customer:C1001", 2, "user", "ask_amount_due")
    add("customer:C1001", 3, "user", "goodbye")
    add("customer:C1005", 1, "session_started")
    add("customer:C1005", 2, "slot", "language", '"en"')
    add("customer:C1005", 3, "user", "request_human")
    add("customer:C1005", 4, "pause")
    add("visitor:report_visitor1", 1, "session_started")
    add("visitor:report_visitor1", 2, "user", "nlu_fallback")
    add("visitor:report_visitor1", 3, "user", "nlu_fallback")
    # C1004 starts an extension request, answers the first step, and declines at the second.
    add("customer:C1004", 1, "session_started")
    add("customer:C1004", 2, "user", "request_extension")
    add("customer:C1004", 3, "active_loop", "extension_form")
    add("customer:C1004", 4, "slot", "requested_slot", '"ext_loan_id"')
    add("customer:C1004", 5, "user", "inform")
    add("customer:C1004", 6, "slot", "requested_slot", '"ext_reason"')
    add("customer:C1004", 7, "user", "deny")
    add("customer:C1004", 8, "active_loop", None)
    return out


def insert(url: str, events: list[dict]) -> None:
    engine = create_engine(url, future=True)
    with engine.begin() as conn:
        for event in events:
            conn.execute(
                text(
                    "INSERT INTO analytics_events (event_key, conversation_id, verified, event_type, name, "
                    "intent_confidence, text, value, at, received_at, source) VALUES (:event_key, :conversation_id, "
                    ":verified, :event_type, :name, :intent_confidence, :text, :value, :at, :received_at, :source) "
                    "ON CONFLICT (event_key) DO NOTHING"
                ),
                event,
            )
    engine.dispose()


def record_known_day(url: str) -> tuple[handoff.TicketView, notices.NoticeRunReport]:
    """DAY's events (rows()), C1005's handoff answered after 90 s and rated 4, and a notice run at
    23:00 that the quiet hours held back entirely."""
    insert(url, rows())
    uow = lambda: SqlAlchemyUnitOfWork(url)  # noqa: E731
    created = dt.datetime.combine(DAY, dt.time(10, 0, 10))
    ticket = handoff.create_ticket(uow, "customer:C1005", "C1005", "request_human", "en", "Why", [], created)
    handoff.post_agent_message(uow, "customer:C1005", "Hello", "agent", created + dt.timedelta(seconds=90))
    chat_log.append(uow, "customer:C1005", [chat_log.Line("user", "thanks")], created)
    chat_log.end_chat(uow, "customer:C1005", "C1005", "en", 4, created + dt.timedelta(minutes=5))
    night = notices.run_notices(uow, None, dt.datetime.combine(DAY, dt.time(23, 0)))
    assert night.held and {reason for *_, reason in night.held} == {"quiet_hours"}
    return ticket, night


def report(url: str, out, since: str = DAY.isoformat(), until: str | None = None) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "bot", "report", "--since", since, "--out", str(out)]
    if until:
        args += ["--until", until]
    env = {**os.environ, "DATABASE_URL": url, "BOT_TODAY": TODAY.isoformat()}
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def figures(out) -> dict[tuple[str, str], float]:
    with (out / "metrics.csv").open(encoding="utf-8") as handle:
        return {(r["metric"], r["split"]): float(r["value"]) for r in csv.DictReader(handle)}


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_the_report_has_exactly_the_expected_figures_and_a_replay_changes_none(database, request, tmp_path) -> None:
    url = request.getfixturevalue(f"{database}_url")
    ticket, night = record_known_day(url)
    done = report(url, tmp_path / "a")
    assert done.returncode == 0, done.stderr
    got = figures(tmp_path / "a")
    assert got[("engaged_sessions", "all")] == 4
    assert got[("engaged_sessions", "verified")] == 3 and got[("engaged_sessions", "anonymous")] == 1
    assert got[("engaged_sessions", "language=en")] == 1
    assert got[("escalation_rate", "all")] == 0.25 and got[("escalation_asked_rate", "all")] == 0.25
    assert got[("containment_rate", "all")] == 0.75
    assert got[("fallback_rate", "all")] == round(2 / 8, 4)
    assert got[("abandonment_rate", "all")] == 0.25  # the visitor, misunderstood, gone for a day
    assert got[("doom_loop_rate", "anonymous")] == 1.0
    assert got[("form_started", "form=extension_form")] == 1 and got[("form_submitted", "form=extension_form")] == 0
    assert got[("form_step", "form=extension_form,step=ext_loan_id")] == 1
    assert got[("form_step", "form=extension_form,step=ext_reason")] == 1
    assert got[("notices_held", "reason=quiet_hours")] == len(night.held) == got[("notices_held", "all")]
    assert got[("handoffs", "all")] == 1 and got[("time_to_person_p50_s", "all")] == 90.0
    assert got[("satisfaction_ratings", "language=en")] == 1 and got[("satisfaction_mean", "all")] == 4.0
    html = (tmp_path / "a" / "report.html").read_text(encoding="utf-8")
    assert DAY.isoformat() in html and "engaged_sessions: 0 → 4" in html and "data:image/png;base64," in html
    assert "http://" not in html and "https://" not in html
    assert ticket.ticket_id

    insert(url, rows())  # the same events again (a consumer restart before it acknowledged)
    again = report(url, tmp_path / "b")
    assert again.returncode == 0 and figures(tmp_path / "b") == got


def test_bad_dates_are_refused_with_a_clear_message(sqlite_url, tmp_path) -> None:
    done = report(sqlite_url, tmp_path, since="yesterday")
    assert done.returncode == 2 and "ISO dates" in done.stderr and not (tmp_path / "metrics.csv").exists()
    done = report(sqlite_url, tmp_path, since=TODAY.isoformat(), until=DAY.isoformat())
    assert done.returncode == 2 and "before" in done.stderr
