"""One clock, whatever the server's time zone: service hours, quiet hours and ticket delivery
behave by bank time (Asia/Shanghai) with the process time zone set to UTC and to Asia/Shanghai.

The system clock is replaced by a chosen UTC instant (``bot.clock.system_utc_now``), so the whole
path is exercised: settings -> SystemClock -> conversion to bank time -> actions and services.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.common import AccountAction
from actions.handoff import ActionHandoff
from bot import clock as clock_module
from bot import db
from bot.__main__ import main
from bot.domain.model import HandoffTicket
from bot.settings import get_settings
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.actions.conftest import customer
from tests.services.test_handoff_delivery import Helpdesk

BANK = ZoneInfo("Asia/Shanghai")


@pytest.fixture(params=["UTC", "Asia/Shanghai"])
def process_tz(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with the process (server) time zone set to UTC, then to Asia/Shanghai."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    try:
        yield request.param
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def system_clock_at(monkeypatch: pytest.MonkeyPatch, bank_local: dt.datetime) -> None:
    """Make the system clock read the UTC instant that is ``bank_local`` in Shanghai."""
    instant = bank_local.replace(tzinfo=BANK).astimezone(dt.timezone.utc)
    monkeypatch.setattr(clock_module, "system_utc_now", lambda: instant)
    monkeypatch.delenv("BOT_TODAY", raising=False)
    monkeypatch.delenv("BOT_NOW", raising=False)
    get_settings.cache_clear()


@pytest.fixture
def bank_records(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> str:
    """Actions on the seeded database with the real (settings) clock, not a test clock."""
    monkeypatch.setattr(AccountAction, "uow_factory", staticmethod(lambda: SqlAlchemyUnitOfWork(sqlite_url)))
    monkeypatch.setattr(AccountAction, "clock", staticmethod(lambda: get_settings().clock()))
    monkeypatch.delenv("HANDOFF_WEBHOOK_URL", raising=False)
    return sqlite_url


def stored_tickets(url: str) -> list[HandoffTicket]:
    with db.session_factory(url)() as session:
        return list(session.execute(select(HandoffTicket).order_by(HandoffTicket.id)).scalars())


@pytest.mark.parametrize(
    ("hour", "minute", "open_now"),
    [(8, 59, False), (9, 0, True), (20, 59, True), (21, 0, False), (23, 30, False), (2, 0, False)],
)
async def test_service_hours_follow_bank_time_not_the_servers_time_zone(
    process_tz, bank_records, monkeypatch, hour, minute, open_now
) -> None:
    bank_now = dt.datetime(2026, 11, 28, hour, minute)
    system_clock_at(monkeypatch, bank_now)
    dispatcher = CollectingDispatcher()
    await ActionHandoff().run(dispatcher, customer("C1001", "request_human"), {})
    response = dispatcher.messages[0]["response"]
    assert response == ("utter_handoff_open" if open_now else "utter_handoff_closed")
    if not open_now:
        expected = dt.datetime.combine(bank_now.date() + dt.timedelta(days=hour >= 21), dt.time(9))
        assert dispatcher.messages[0]["next_open"] == expected.strftime("%Y-%m-%d %H:%M")
    (ticket,) = stored_tickets(bank_records)
    assert ticket.created_at == bank_now  # stored in bank-local time, whatever TZ says
    assert ticket.ticket_id == "HO-2026-000001"


async def test_a_ticket_created_at_2am_bank_time_reaches_a_local_helpdesk_at_once(
    process_tz, bank_records, monkeypatch
) -> None:
    desk = Helpdesk()
    try:
        monkeypatch.setenv("HANDOFF_WEBHOOK_URL", desk.url)
        system_clock_at(monkeypatch, dt.datetime(2026, 11, 28, 2, 0))
        dispatcher = CollectingDispatcher()
        await ActionHandoff().run(dispatcher, customer("C1001", "request_human"), {})
        assert dispatcher.messages[0]["response"] == "utter_handoff_closed"
        ticket_id = dispatcher.messages[0]["ticket_id"]
        deadline = time.monotonic() + 10  # waiting for the background delivery, not timing it
        while ticket_id not in desk.accepted and time.monotonic() < deadline:
            time.sleep(0.05)
        assert desk.accepted[ticket_id] == 1
        assert desk.bodies[ticket_id]["created_at"] == "2026-11-28T02:00:00"
    finally:
        desk.close()


@pytest.mark.parametrize(("hour", "minute", "quiet"), [(21, 59, False), (22, 0, True), (7, 59, True), (8, 0, False)])
def test_the_notice_engine_keeps_quiet_hours_in_bank_time(
    process_tz, sqlite_url, monkeypatch, capsys, hour, minute, quiet
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    system_clock_at(monkeypatch, dt.datetime(2026, 11, 28, hour, minute))
    assert main(["notices", "run", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"2026-11-28 {hour:02d}:{minute:02d}: would send")
    if quiet:
        assert "would send 0 notice(s)" in out and "quiet_hours" in out
    else:
        assert "quiet_hours" not in out and "would send 0 notice(s)" not in out


def test_bot_now_sets_the_bank_time_and_the_clock_runs_on_from_it(process_tz, monkeypatch) -> None:
    monkeypatch.setenv("BOT_NOW", "2026-11-28T02:00")
    get_settings.cache_clear()
    clock = get_settings().clock()
    assert dt.datetime(2026, 11, 28, 2, 0) <= clock.now() < dt.datetime(2026, 11, 28, 2, 1)
    assert clock.utc_now().isoformat().startswith("2026-11-27T18:0")
    assert clock.today() == dt.date(2026, 11, 28)


def test_bot_today_pins_the_date_and_keeps_the_banks_time_of_day(process_tz, monkeypatch) -> None:
    system_clock_at(monkeypatch, dt.datetime(2026, 12, 1, 2, 30))  # 18:30 UTC on 30 November
    monkeypatch.setenv("BOT_TODAY", "2026-11-28")
    get_settings.cache_clear()
    assert get_settings().clock().now() == dt.datetime(2026, 11, 28, 2, 30)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BOT_NOW": "tomorrow"}, "BOT_NOW must be an ISO date and time"),
        ({"BOT_NOW": "2026-11-28T02:00+00:00"}, "takes no UTC offset"),
        ({"BOT_NOW": "2026-11-28T02:00", "BOT_TODAY": "2026-11-29"}, "name different days"),
        ({"BOT_TIMEZONE": "Mars/Olympus"}, "IANA time zone"),
    ],
)
def test_a_bad_clock_setting_is_refused_with_a_clear_message(monkeypatch, capsys, env, message) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["migrate"]) == 2
    assert message in capsys.readouterr().err
