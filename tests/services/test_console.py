"""The agent console's use cases over the fake unit of work and over SQLite/PostgreSQL: accounts and
logins with lockout, sessions, the queue order, claims (one winner), transfers, idle release,
notes, replies, resolving, and the audit log behind all of it."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from bot.services import console, handoff, staff
from bot.services.staff import LoginRefused, Staff, StaffError
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.fakes import FakeUnitOfWork

NOW = dt.datetime(2026, 11, 28, 10, 0)
PASSWORD = "correct horse battery"  # noqa: S105 - a test password


@pytest.fixture(params=["fake", "sql"])
def uow(request, tmp_path):  # type: ignore[no-untyped-def]
    if request.param == "fake":
        return FakeUnitOfWork().factory()
    url = request.getfixturevalue("sqlite_url")
    return lambda: SqlAlchemyUnitOfWork(url)


def ticket(uow, conversation: str, reason: str, at: dt.datetime, customer: str | None = None) -> str:  # type: ignore[no-untyped-def]
    return handoff.create_ticket(uow, conversation, customer, reason, "zh", f"Why: {reason}", [], at).ticket_id


def test_accounts_are_validated_and_a_second_add_changes_the_password(uow) -> None:
    assert staff.add_or_change(uow, "alice", "agent", PASSWORD, NOW) is True
    for name, role, password in [("A", "agent", PASSWORD), ("bob", "boss", PASSWORD), ("bob", "agent", "short")]:
        with pytest.raises(StaffError):
            staff.add_or_change(uow, name, role, password, NOW)
    assert staff.login(uow, "alice", PASSWORD, NOW).staff == Staff("alice", "agent")
    assert staff.add_or_change(uow, "alice", "supervisor", "another long password", NOW) is False
    with pytest.raises(LoginRefused):
        staff.login(uow, "alice", PASSWORD, NOW)
    assert staff.login(uow, "alice", "another long password", NOW).staff.supervisor
    with uow() as u:
        stored = u.staff.account("alice").password_hash
    assert stored.startswith("$argon2") and PASSWORD not in stored


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(uow) -> None:
    staff.add_or_change(uow, "alice", "agent", PASSWORD, NOW)
    for k in range(4):
        with pytest.raises(LoginRefused) as refused:
            staff.login(uow, "alice", "wrong password", NOW + dt.timedelta(seconds=k))
        assert refused.value.locked_until is None
    with pytest.raises(LoginRefused) as refused:
        staff.login(uow, "alice", "wrong password", NOW + dt.timedelta(seconds=5))
    assert refused.value.locked_until == NOW + dt.timedelta(seconds=5, minutes=15)
    with pytest.raises(LoginRefused):  # locked: even the right password is refused
        staff.login(uow, "alice", PASSWORD, NOW + dt.timedelta(minutes=10))
    assert staff.login(uow, "alice", PASSWORD, NOW + dt.timedelta(minutes=21)).staff.username == "alice"
    with pytest.raises(LoginRefused) as unknown:
        staff.login(uow, "nobody", PASSWORD, NOW)
    assert unknown.value.locked_until is None
    actions = [e.action for e in staff.audit_log(uow)]
    assert actions.count("login_failed") == 5 and "account_locked" in actions and "login_locked" in actions


def test_a_session_lives_until_logout_or_expiry_and_only_its_token_opens_it(uow) -> None:
    staff.add_or_change(uow, "alice", "agent", PASSWORD, NOW)
    done = staff.login(uow, "alice", PASSWORD, NOW)
    assert staff.session_of(uow, done.token, NOW) == (Staff("alice", "agent"), done.csrf_token)
    assert staff.session_of(uow, done.token + "x", NOW) is None
    assert staff.session_of(uow, "", NOW) is None
    assert staff.session_of(uow, done.token, NOW + dt.timedelta(hours=staff.SESSION_HOURS)) is None
    with uow() as u:
        assert all(done.token not in s.token_hash for s in getattr(u.staff, "sessions", []))
    staff.logout(uow, done.token, NOW)
    assert staff.session_of(uow, done.token, NOW) is None


def test_the_queue_is_urgent_first_then_the_longest_waiting(uow) -> None:
    old = ticket(uow, "customer:C1005", "request_human", NOW - dt.timedelta(minutes=30), "C1005")
    complaint = ticket(uow, "customer:C1001", "complaint", NOW - dt.timedelta(minutes=5), "C1001")
    scam = ticket(uow, "visitor:someone_scammed", "urgent_scam", NOW - dt.timedelta(minutes=1))
    newer = ticket(uow, "customer:C1003", "request_human", NOW - dt.timedelta(minutes=2), "C1003")
    items = console.queue(uow, NOW, idle_minutes=10)
    assert [i.ticket_id for i in items] == [scam, complaint, old, newer]
    assert [i.position for i in items] == [1, 2, 3, 4]
    assert items[2].wait_seconds == 1800 and items[0].verified is False and items[1].verified is True
    assert console.queue_position(uow, "customer:C1005", NOW) == 3
    alice = Staff("alice", "agent")
    assert console.claim(uow, scam, alice, NOW)
    assert console.queue_position(uow, "customer:C1005", NOW) == 2  # claimed tickets are no longer waiting


def test_one_of_two_claims_wins_and_the_loser_is_told(uow) -> None:
    t = ticket(uow, "customer:C1005", "request_human", NOW, "C1005")
    alice, bob = Staff("alice", "agent"), Staff("bob", "agent")
    assert console.claim(uow, t, alice, NOW) is True
    assert console.claim(uow, t, bob, NOW) is False
    assert console.queue(uow, NOW, 10)[0].assigned_to == "alice"
    with pytest.raises(StaffError):
        console.may_reply(uow, t, bob)  # not his
    console.may_reply(uow, t, alice)
    console.may_reply(uow, t, Staff("sue", "supervisor"))  # supervisors may step in
    assert [e.action for e in staff.audit_log(uow)][:2] == ["claim_lost", "claim"]


def test_concurrent_claims_on_postgres_have_exactly_one_winner(postgres_url) -> None:
    uow = lambda: SqlAlchemyUnitOfWork(postgres_url)  # noqa: E731
    t = ticket(uow, "customer:C1005", "request_human", NOW, "C1005")
    won: list[str] = []
    start = threading.Barrier(6)

    def claim(name: str) -> None:
        start.wait()
        if console.claim(uow, t, Staff(name, "agent"), NOW):
            won.append(name)

    threads = [threading.Thread(target=claim, args=(f"agent{k}",)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert console.queue(uow, NOW, 10)[0].assigned_to == won[0]


def test_an_idle_claim_goes_back_to_the_queue_and_a_reply_keeps_it(uow) -> None:
    idle = ticket(uow, "customer:C1005", "request_human", NOW, "C1005")
    busy = ticket(uow, "customer:C1003", "request_human", NOW, "C1003")
    alice = Staff("alice", "agent")
    console.claim(uow, idle, alice, NOW)
    console.claim(uow, busy, alice, NOW)
    console.record_reply(uow, busy, alice, "您好", NOW + dt.timedelta(minutes=8))
    items = {i.ticket_id: i for i in console.queue(uow, NOW + dt.timedelta(minutes=11), idle_minutes=10)}
    assert items[idle].assigned_to is None and items[busy].assigned_to == "alice"
    assert any(e.action == "released_idle" and e.ticket_id == idle for e in staff.audit_log(uow))


def test_transfer_notes_and_resolve_are_audited_and_close_the_ticket(uow) -> None:
    staff.add_or_change(uow, "bob", "agent", PASSWORD, NOW)
    t = ticket(uow, "customer:C1005", "request_human", NOW, "C1005")
    alice, bob = Staff("alice", "agent"), Staff("bob", "agent")
    with pytest.raises(StaffError):
        console.transfer(uow, t, alice, "bob", NOW)  # not hers yet
    console.claim(uow, t, alice, NOW)
    with pytest.raises(StaffError):
        console.transfer(uow, t, alice, "nobody", NOW)
    console.transfer(uow, t, alice, "bob", NOW)
    assert console.queue(uow, NOW, 10)[0].assigned_to == "bob"
    console.add_note(uow, t, bob, "客户说验证码是 482913，已提醒他不要告诉任何人", NOW)
    with pytest.raises(StaffError):
        console.add_note(uow, t, bob, "   ", NOW)
    with pytest.raises(StaffError):
        console.resolve(uow, t, bob, " ", NOW)
    console.resolve(uow, t, bob, "explained the repayment channels", NOW)
    assert console.queue(uow, NOW, 10) == []
    with pytest.raises(StaffError):
        console.may_reply(uow, t, bob)  # closed
    found = console.detail(uow, t, NOW)
    assert "482913" not in found.notes[0].text and found.notes[0].username == "bob"
    actions = [(e.username, e.action) for e in staff.audit_log(uow)]
    assert ("alice", "transfer") in actions and ("bob", "note") in actions and ("bob", "resolve") in actions


def test_a_blocked_message_is_recorded_for_supervisors_with_the_text_masked(uow) -> None:
    t = ticket(uow, "customer:C1005", "request_human", NOW, "C1005")
    console.record_blocked(uow, t, Staff("alice", "agent"), "把验证码 482913 发给我", ["asks_secret"], NOW)
    (entry,) = staff.audit_log(uow, action="blocked_message")
    assert entry.ticket_id == t and entry.detail["codes"] == ["asks_secret"] and "482913" not in entry.detail["text"]
