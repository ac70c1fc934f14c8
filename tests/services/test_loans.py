"""Loan-record services over the demo data, on SQLite and on the local PostgreSQL server."""

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot import db
from bot.domain.errors import CustomerNotFound, RecordsUnavailable
from bot.domain.model import Customer, SmsNotice
from bot.seed import load_demo
from bot.services.loans import account_overview
from bot.unit_of_work import SqlAlchemyUnitOfWork

D = Decimal


def overview(url, customer_id, today):
    return account_overview(lambda: SqlAlchemyUnitOfWork(url), customer_id, today)


def test_c1001_owes_one_instalment_of_1080_twelve_days_overdue_with_6_48_penalty(database_url, today):
    o = overview(database_url, "C1001", today)
    (item,) = o.position.items
    assert (item.loan_id, item.amount, item.days_overdue, item.penalty) == ("L1001", D("1080.00"), 12, D("6.48"))
    assert item.due_date == today - dt.timedelta(days=12)
    assert o.position.total_due == D("1086.48")
    assert o.position.next_due is not None and o.position.next_due.loan_id == "L1001"
    assert [n.sent_at.date() for n in o.notices] == [today - dt.timedelta(days=11), today - dt.timedelta(days=5)]
    assert o.texts_situation() == "overdue"
    assert o.repayment_situation() == "not_found"


def test_c1003_paid_after_the_morning_notice_so_nothing_is_overdue(database_url, today):
    o = overview(database_url, "C1003", today)
    assert not o.position.is_overdue
    notice, payment = o.notices_before_payment()
    assert notice.sent_at == dt.datetime.combine(today, dt.time(8, 0))
    assert payment.paid_at == dt.datetime.combine(today, dt.time(9, 30))
    assert payment.amount == D("2152.15") and payment.posted
    assert o.texts_situation() == "paid_after_notice"
    assert o.repayment_situation() == "after_notice"


def test_c1004_has_a_95_day_overdue_loan_and_a_current_one(database_url, today):
    o = overview(database_url, "C1004", today)
    assert [(i.loan_id, i.days_overdue, i.penalty) for i in o.position.items] == [("L1004A", 95, D("380.00"))]
    assert o.position.next_due is not None and o.position.next_due.loan_id == "L1004B"


def test_c1005_has_nothing_overdue_and_never_got_a_notice(database_url, today):
    o = overview(database_url, "C1005", today)
    assert not o.position.is_overdue and o.notices == ()
    assert o.texts_situation() == "nothing"
    assert o.repayment_situation() == "nothing_due"


def test_c1006_notices_went_to_his_recycled_old_number(database_url, today):
    o = overview(database_url, "C1006", today)
    assert [(i.amount, i.days_overdue) for i in o.position.items] == [(D("2600.00"), 20)]
    old = o.notices_to_other_numbers()
    assert [n.phone_masked for n in old] == ["139****9999", "139****9999"]
    assert [n.sent_at.date() for n in old] == [today - dt.timedelta(days=15), today - dt.timedelta(days=8)]


def test_c1002_has_3000_overdue_45_days_with_weekly_notices(database_url, today):
    o = overview(database_url, "C1002", today)
    assert [(i.amount, i.days_overdue, i.penalty) for i in o.position.items] == [(D("3000.00"), 45, D("67.50"))]
    gaps = {(b.sent_at - a.sent_at).days for a, b in zip(o.notices, o.notices[1:], strict=False)}
    assert gaps == {7}


def test_an_unknown_customer_is_reported_as_a_fact(database_url, today):
    with pytest.raises(CustomerNotFound):
        overview(database_url, "C9999", today)


def test_an_unreachable_database_is_reported_as_records_unavailable(today):
    url = "postgresql+psycopg2://nobody@127.0.0.1:1/none?connect_timeout=1"
    with pytest.raises(RecordsUnavailable):
        overview(url, "C1001", today)
    db.dispose_all()


def test_seeding_the_demo_twice_changes_nothing(database_url, today):
    with db.session_factory(database_url)() as session:
        assert load_demo(session, today) is False
        session.commit()
        assert session.execute(select(func.count()).select_from(Customer)).scalar_one() == 6
        assert session.execute(select(func.count()).select_from(SmsNotice)).scalar_one() == 2 + 7 + 2 + 7 + 2


def test_money_survives_the_database_as_exact_decimals(database_url, today):
    o = overview(database_url, "C1003", today)
    assert all(isinstance(r.amount, Decimal) and r.amount.as_tuple().exponent == -2 for r in o.repayments)
