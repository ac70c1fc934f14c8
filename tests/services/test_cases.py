import datetime as dt

import pytest

from bot.services.cases import (
    InvalidPhoneNumber,
    get_case,
    list_cases,
    number_under_review,
    open_identity_misuse_case,
    open_scam_report,
    open_wrong_number_case,
)
from bot.services.extensions import extension_offer
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
