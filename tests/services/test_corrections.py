"""Corrections of notices sent in error, on SQLite and PostgreSQL: proven from the records when the
borrower asks, or confirmed by a colleague for a wrong number; one correction each, through the
outbox, naming no borrower, loan or amount; the wrong notices marked corrected."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from bot import db
from bot.clock import FixedClock
from bot.domain.model import Case, Instalment, SmsNotice
from bot.notice_senders import FileSender
from bot.services.cases import open_wrong_number_case
from bot.services.corrections import correct_proven_errors
from bot.services.decisions import case_status
from bot.services.notices import deliver_pending, run_notices
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.conftest import TODAY

NOW = dt.datetime.combine(TODAY, dt.time(14, 0))
RECYCLED = "13900009999"


def uow(url):
    return lambda: SqlAlchemyUnitOfWork(url)


def all_notices(url) -> list[SmsNotice]:
    with db.session_factory(url)() as session:
        return list(session.execute(select(SmsNotice).order_by(SmsNotice.id)).scalars())


def send_wrong_notice_to_c1003(url) -> int:
    """A notice recorded at 11:00 about the instalment C1003 paid (posted 09:30): a system error."""
    with db.session_factory(url)() as session:
        paid = (
            session.execute(select(Instalment).where(Instalment.loan_id == "L1003", Instalment.paid_at.is_not(None)))
            .scalars()
            .all()[-1]
        )
        wrong = SmsNotice(
            customer_id="C1003", loan_id="L1003", instalment_id=paid.id, phone="13800001003",
            template="overdue_reminder", reason="test: sent after the payment posted",
            sent_at=dt.datetime.combine(TODAY, dt.time(11)), status="sent", attempts=1, text="...",
            idempotency_key="test-wrong-notice",
        )  # fmt: skip
        session.add(wrong)
        session.commit()
        return wrong.id


def test_a_notice_sent_after_the_payment_posted_is_corrected_once_from_the_records(database_url, tmp_path) -> None:
    wrong_id = send_wrong_notice_to_c1003(database_url)
    (first,) = correct_proven_errors(uow(database_url), "C1003", "customer:C1003", NOW)
    assert not first.already and first.case_reference.startswith("NCR-") and first.phone == "13800001003"
    assert first.payment_posted_at == dt.datetime.combine(TODAY, dt.time(9, 30))
    notices = all_notices(database_url)
    (correction,) = [n for n in notices if n.template == "correction"]
    original = next(n for n in notices if n.id == wrong_id)
    assert original.corrected_at == NOW and correction.corrects_notice_id == wrong_id
    assert correction.status == "pending" and correction.phone == "13800001003"
    # English (her language), the date of the wrong notice, and nothing about her, the loan or the amount.
    assert TODAY.isoformat() in correction.text and "sent in error" in correction.text
    assert "Li" not in correction.text and "L1003" not in correction.text and "2,150" not in correction.text
    # The notice she got the same morning before paying (08:00) was right when sent: not corrected.
    assert [n.id for n in notices if n.corrected_at is not None] == [wrong_id]
    with db.session_factory(database_url)() as session:
        case = session.execute(select(Case).where(Case.type == "notice_correction")).scalar_one()
        assert (case.status, case.customer_id, case.reference) == ("confirmed", "C1003", first.case_reference)
    # Asking again corrects nothing twice; the outbox sends the correction exactly once.
    (again,) = correct_proven_errors(uow(database_url), "C1003", "customer:C1003", NOW + dt.timedelta(minutes=5))
    assert again.already and again.case_reference == first.case_reference
    assert len([n for n in all_notices(database_url) if n.template == "correction"]) == 1
    outbox = FileSender(tmp_path / "sms.jsonl")
    deliver_pending(uow(database_url), outbox, FixedClock(NOW))
    deliver_pending(uow(database_url), outbox, FixedClock(NOW))
    sent = [json.loads(line) for line in outbox.path.read_text(encoding="utf-8").splitlines()]
    assert [(s["to"], "sent in error" in s["text"]) for s in sent] == [("13800001003", True)]


def test_nothing_is_corrected_when_every_notice_came_before_the_money(database_url) -> None:
    assert correct_proven_errors(uow(database_url), "C1003", "customer:C1003", NOW) == []
    assert correct_proven_errors(uow(database_url), "C1001", "customer:C1001", NOW) == []
    assert correct_proven_errors(uow(database_url), "C9999", "customer:C9999", NOW) == []
    assert [n for n in all_notices(database_url) if n.template.startswith("correction")] == []


def test_a_confirmed_wrong_number_gets_one_correction_naming_nobody_and_no_more_reminders(database_url) -> None:
    to_stranger = [n for n in all_notices(database_url) if n.phone == RECYCLED]
    assert to_stranger  # the demo's recycled number got C1006's reminders
    case = open_wrong_number_case(uow(database_url), RECYCLED, "visitor:abcdefgh", "texts about 赵强", NOW)
    decided = case_status(uow(database_url), case.reference, "sue", "investigating", "checking", NOW)
    assert not decided.correction_recorded
    decided = case_status(uow(database_url), case.reference, "sue", "confirmed", "not his number", NOW)
    assert decided.correction_recorded
    (correction,) = [n for n in all_notices(database_url) if n.template == "correction_wrong_number"]
    assert correction.phone == RECYCLED and correction.status == "pending"
    for private in ("赵", "C1006", "L1006", "元"):
        assert private not in correction.text
    assert "与您无关" in correction.text and max(n.sent_at for n in to_stranger).date().isoformat() in correction.text
    assert all(
        n.corrected_at == NOW for n in all_notices(database_url) if n.phone == RECYCLED and n.id != correction.id
    )
    # Closing adds no second correction; the engine never writes to the number again.
    assert not case_status(uow(database_url), case.reference, "sue", "closed", "done", NOW).correction_recorded
    for day in (0, 7, 14):
        run_notices(uow(database_url), None, dt.datetime.combine(TODAY + dt.timedelta(days=day), dt.time(10)))
    assert [n.template for n in all_notices(database_url) if n.phone == RECYCLED and n.sent_at > NOW] == []
