import datetime as dt

import pytest
from sqlalchemy import update

from bot import db
from bot.domain.errors import RecordsUnavailable
from bot.domain.model import Case
from bot.services.cases import (
    InvalidPhoneNumber,
    customer_requests,
    get_case,
    list_cases,
    number_under_review,
    open_identity_misuse_case,
    open_scam_report,
    open_wrong_number_case,
)
from bot.services.extensions import extension_offer, record_cancellation, submit_extension
from bot.unit_of_work import SqlAlchemyUnitOfWork

NOW = dt.datetime(2026, 11, 28, 15, 0)


def uow(url):
    return lambda: SqlAlchemyUnitOfWork(url)


def test_c1002_identity_misuse_case_marks_the_loan_disputed_and_stops_self_service(database_url, today):
    case = open_identity_misuse_case(uow(database_url), "C1002", "L1002", "customer:C1002", "not my loan", NOW)
    assert case.reference == "IDM-2026-000001" and case.status == "open" and case.loan_id == "L1002"
    (offer,) = extension_offer(uow(database_url), "C1002", today)
    assert offer.self_service is False and "disputed" in offer.reasons
    again = open_identity_misuse_case(uow(database_url), "C1002", "L1002", "customer:C1002", "not my loan", NOW)
    assert again.already_open and again.reference == case.reference


def test_a_wrong_number_case_puts_the_number_under_review(database_url):
    assert not number_under_review(uow(database_url), "13900009999")
    case = open_wrong_number_case(uow(database_url), "139 0000 9999", "visitor:abcdefgh", "texts for someone else", NOW)
    assert case.reference.startswith("WRN-2026-") and case.phone == "13900009999" and case.customer_id is None
    assert number_under_review(uow(database_url), "13900009999")


@pytest.mark.parametrize("phone", ["12345", "23900009999", "1390000999", "abc"])
def test_a_bad_phone_number_opens_no_case(database_url, phone):
    with pytest.raises(InvalidPhoneNumber):
        open_wrong_number_case(uow(database_url), phone, "visitor:abcdefgh", "", NOW)
    assert list_cases(uow(database_url)) == []


def test_a_scam_report_is_urgent_when_money_was_sent(database_url):
    urgent = open_scam_report(uow(database_url), "visitor:x1234567", None, True, "sent 5000", NOW)
    calm = open_scam_report(uow(database_url), "customer:C1005", "C1005", False, "a call", NOW)
    assert urgent.urgent and not calm.urgent and urgent.reference.startswith("SCM-2026-")
    assert get_case(uow(database_url), urgent.reference).details == "sent 5000"
    assert [c.type for c in list_cases(uow(database_url), "scam_report")] == ["scam_report", "scam_report"]


def test_a_verified_customer_sees_their_own_cases_and_extension_requests_newest_first(database_url, today):
    at = lambda minutes: NOW + dt.timedelta(minutes=minutes)  # noqa: E731
    plan = submit_extension(uow(database_url), "C1001", "L1001", "job_loss", "", "defer_14", "conv-1", today, at(0))
    scam = open_scam_report(uow(database_url), "customer:C1001", "C1001", True, "paid a fake link", at(1))
    dispute = open_identity_misuse_case(uow(database_url), "C1002", "L1002", "customer:C1002", "not mine", at(2))
    cancelled = record_cancellation(uow(database_url), "C1001", "L1001", "other", "", None, at(3))
    with db.session_factory(database_url)() as session:
        session.execute(update(Case).where(Case.reference == scam.reference).values(status="confirmed"))
        session.commit()
    requests = customer_requests(uow(database_url), "C1001")
    assert [(r.kind, r.type, r.reference, r.status, r.next_step, r.loan_id) for r in requests] == [
        ("extension", "extension", cancelled, "cancelled", "cancelled", "L1001"),
        ("case", "scam_report", scam.reference, "confirmed", "confirmed", None),
        ("extension", "extension", plan.reference, "approved", "approved", "L1001"),
    ]
    assert [r.created_at for r in requests] == [at(3), at(1), at(0)]
    (theirs,) = customer_requests(uow(database_url), "C1002")
    assert (theirs.reference, theirs.next_step) == (dispute.reference, "under_review")  # status "open"
    assert customer_requests(uow(database_url), "C1005") == ()


def test_only_the_ten_newest_requests_are_told(database_url):
    for n in range(12):
        open_scam_report(
            uow(database_url), "customer:C1004", "C1004", False, f"call {n}", NOW + dt.timedelta(minutes=n)
        )
    requests = customer_requests(uow(database_url), "C1004")
    assert len(requests) == 10 and requests[0].created_at == NOW + dt.timedelta(minutes=11)
    assert requests[-1].created_at == NOW + dt.timedelta(minutes=2)


def test_requests_of_an_unreachable_database_are_records_unavailable():
    with pytest.raises(RecordsUnavailable):
        customer_requests(uow("postgresql+psycopg2://nobody@127.0.0.1:1/none?connect_timeout=1"), "C1001")
    db.dispose_all()
