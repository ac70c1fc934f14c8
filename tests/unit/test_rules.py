import datetime as dt
from decimal import Decimal

import pytest

from bot.domain.rules import InstalmentState, days_overdue, overdue_position, penalty_interest

TODAY = dt.date(2026, 11, 28)
D = Decimal


@pytest.mark.parametrize(
    ("amount", "days", "expected"),
    [
        ("1080.00", 12, "6.48"),  # C1001 in the demo data
        ("3000.00", 45, "67.50"),
        ("8000.00", 95, "380.00"),
        ("2600.00", 20, "26.00"),
        ("1.00", 1, "0.00"),  # 0.0005 rounds down
        ("10.00", 1, "0.01"),  # 0.005 rounds half up to one fen
        ("999.99", 3, "1.50"),  # 1.499985
        ("1080.00", 0, "0.00"),
        ("1080.00", -3, "0.00"),
    ],
)
def test_penalty_interest_is_amount_times_daily_rate_times_days_rounded_half_up_to_the_fen(amount, days, expected):
    assert penalty_interest(D(amount), days) == D(expected)


def test_an_instalment_due_today_is_not_overdue_and_one_due_yesterday_is_one_day_overdue():
    assert days_overdue(TODAY, TODAY) == 0
    assert days_overdue(TODAY - dt.timedelta(days=1), TODAY) == 1
    assert days_overdue(TODAY + dt.timedelta(days=5), TODAY) == 0


def test_overdue_position_lists_unpaid_past_instalments_with_penalties_and_the_next_one_due():
    instalments = [
        InstalmentState("L1", 1, TODAY - dt.timedelta(days=40), D("500.00"), paid=True),
        InstalmentState("L1", 2, TODAY - dt.timedelta(days=12), D("1080.00"), paid=False),
        InstalmentState("L2", 1, TODAY - dt.timedelta(days=3), D("200.00"), paid=False),
        InstalmentState("L1", 3, TODAY + dt.timedelta(days=18), D("1080.00"), paid=False),
        InstalmentState("L2", 2, TODAY + dt.timedelta(days=27), D("200.00"), paid=False),
    ]
    position = overdue_position(instalments, TODAY)
    assert [(i.loan_id, i.seq, i.days_overdue, i.penalty) for i in position.items] == [
        ("L1", 2, 12, D("6.48")),
        ("L2", 1, 3, D("0.30")),
    ]
    assert position.overdue_amount == D("1280.00")
    assert position.penalty_total == D("6.78")
    assert position.total_due == D("1286.78")
    assert position.max_days_overdue == 12
    assert position.overdue_since == TODAY - dt.timedelta(days=12)
    assert position.next_due is not None
    assert (position.next_due.loan_id, position.next_due.seq) == ("L1", 3)


def test_a_customer_who_has_paid_everything_due_has_no_overdue_position():
    position = overdue_position(
        [InstalmentState("L1", 1, TODAY - dt.timedelta(days=2), D("2150.00"), paid=True)], TODAY
    )
    assert not position.is_overdue
    assert position.total_due == D("0.00")
    assert position.next_due is None
