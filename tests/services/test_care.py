"""The vulnerability flag over real databases: one active flag per customer, kept by the schema too."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot import db
from bot.domain.errors import CustomerNotFound, RecordsUnavailable
from bot.domain.model import HandoffTicket, VulnerabilityFlag
from bot.repository import SqlVulnerabilityRecords
from bot.services.care import active_vulnerability, clear_vulnerability, record_vulnerability
from bot.services.handoff import create_ticket, summarize
from bot.unit_of_work import SqlAlchemyUnitOfWork

NOW = dt.datetime(2026, 11, 28, 14, 5)


def uow(url):
    return lambda: SqlAlchemyUnitOfWork(url)


def flags(url) -> list[VulnerabilityFlag]:
    with db.session_factory(url)() as session:
        return list(session.execute(select(VulnerabilityFlag).order_by(VulnerabilityFlag.id)).scalars())


def test_a_flag_is_stored_with_the_consent_once_and_cleared_when_consent_is_withdrawn(database_url):
    flag = record_vulnerability(uow(database_url), "C1004", "customer:C1004", "job_loss", NOW)
    again = record_vulnerability(uow(database_url), "C1004", "customer:C1004", "distress", NOW + dt.timedelta(1))
    assert not flag.already and again.already and again.reason == "job_loss"
    (stored,) = flags(database_url)
    assert (stored.customer_id, stored.reason, stored.conversation_id) == ("C1004", "job_loss", "customer:C1004")
    assert stored.consent_at == NOW and stored.created_at == NOW and stored.cleared_at is None
    assert active_vulnerability(uow(database_url), "C1004") == flag
    assert active_vulnerability(uow(database_url), "C1001") is None
    later = NOW + dt.timedelta(days=3)
    assert clear_vulnerability(uow(database_url), "C1004", later) is True
    assert clear_vulnerability(uow(database_url), "C1004", later) is False
    assert active_vulnerability(uow(database_url), "C1004") is None
    # Consent given again later is a new flag; the cleared one stays as history.
    assert not record_vulnerability(uow(database_url), "C1004", "customer:C1004", "illness", later).already
    assert [(f.reason, f.cleared_at) for f in flags(database_url)] == [("job_loss", later), ("illness", None)]


def test_the_database_refuses_a_second_active_flag_for_a_customer(database_url):
    with db.session_factory(database_url)() as session:
        for _ in range(2):
            session.add(
                VulnerabilityFlag(
                    customer_id="C1001", reason="distress", conversation_id="customer:C1001", consent_at=NOW,
                    created_at=NOW,
                )
            )  # fmt: skip
        with pytest.raises(IntegrityError):
            session.commit()


def test_two_recordings_at_once_leave_one_flag_and_both_callers_get_it(database_url, monkeypatch):
    first = record_vulnerability(uow(database_url), "C1001", "customer:C1001", "distress", NOW)
    real_active_of = SqlVulnerabilityRecords.active_of
    looks = []

    def misses_the_other_recording_once(self, customer_id):
        looks.append(customer_id)
        return None if len(looks) == 1 else real_active_of(self, customer_id)

    monkeypatch.setattr(SqlVulnerabilityRecords, "active_of", misses_the_other_recording_once)
    racing = record_vulnerability(uow(database_url), "C1001", "customer:C1001", "distress", NOW)
    assert racing.already and racing.consent_at == first.consent_at and len(looks) == 2
    assert len(flags(database_url)) == 1


def test_an_unknown_reason_or_customer_records_nothing(database_url):
    with pytest.raises(ValueError):
        record_vulnerability(uow(database_url), "C1001", "customer:C1001", "sad", NOW)
    with pytest.raises(CustomerNotFound):
        record_vulnerability(uow(database_url), "C9999", "customer:C9999", "distress", NOW)
    assert flags(database_url) == []


def test_an_unreachable_database_is_reported_as_records_unavailable():
    url = "postgresql+psycopg2://nobody@127.0.0.1:1/none?connect_timeout=1"
    with pytest.raises(RecordsUnavailable):
        record_vulnerability(uow(url), "C1001", "customer:C1001", "distress", NOW)
    with pytest.raises(RecordsUnavailable):
        active_vulnerability(uow(url), "C1001")
    with pytest.raises(RecordsUnavailable):
        clear_vulnerability(uow(url), "C1001", NOW)
    db.dispose_all()


def test_a_flagged_customers_ticket_is_stored_high_with_the_care_line_first(database_url):
    record_vulnerability(uow(database_url), "C1001", "customer:C1001", "hardship", NOW)
    summary = summarize("request_human", "C1001", ["talk to a person"], [], "L1001 1,080.00 overdue")
    ticket = create_ticket(uow(database_url), "customer:C1001", "C1001", "request_human", "zh", summary, [], NOW)
    with db.session_factory(database_url)() as session:
        stored = session.execute(select(HandoffTicket).where(HandoffTicket.ticket_id == ticket.ticket_id)).scalar_one()
        assert stored.priority == "high" and stored.summary == ticket.summary
        assert session.execute(select(func.count()).select_from(HandoffTicket)).scalar_one() == 1
    assert ticket.summary.splitlines()[0].startswith("Care: the customer asked us to note a difficult situation")
    assert "hardship, since 2026-11-28" in ticket.summary.splitlines()[0]
    assert ticket.payload()["summary"] == ticket.summary  # what the helpdesk receives
