"""Pure business rules on plain values: days overdue, penalty interest, overdue position."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

#: Penalty interest per day on an overdue instalment: 0.05 % (CONTRACTS section 5).
DAILY_PENALTY_RATE = Decimal("0.0005")
FEN = Decimal("0.01")


def to_fen(value: Decimal) -> Decimal:
    """Round money to the fen, half up, as the bank's statements do."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def days_overdue(due_date: dt.date, today: dt.date) -> int:
    """Whole days past the due date; an instalment due today is not overdue yet."""
    return max(0, (today - due_date).days)


def penalty_interest(amount: Decimal, days: int, rate: Decimal = DAILY_PENALTY_RATE) -> Decimal:
    """Simple penalty interest: amount x daily rate x days overdue, rounded to the fen."""
    if days <= 0:
        return Decimal("0.00")
    return to_fen(amount * rate * days)


@dataclass(frozen=True)
class InstalmentState:
    """What the rules need to know about one instalment."""

    loan_id: str
    seq: int
    due_date: dt.date
    amount: Decimal
    paid: bool


@dataclass(frozen=True)
class OverdueItem:
    loan_id: str
    seq: int
    due_date: dt.date
    amount: Decimal
    days_overdue: int
    penalty: Decimal
    daily_rate: Decimal


@dataclass(frozen=True)
class UpcomingItem:
    loan_id: str
    seq: int
    due_date: dt.date
    amount: Decimal


@dataclass(frozen=True)
class OverduePosition:
    items: tuple[OverdueItem, ...]
    next_due: UpcomingItem | None

    @property
    def is_overdue(self) -> bool:
        return bool(self.items)

    @property
    def overdue_amount(self) -> Decimal:
        return sum((i.amount for i in self.items), Decimal("0.00"))

    @property
    def penalty_total(self) -> Decimal:
        return sum((i.penalty for i in self.items), Decimal("0.00"))

    @property
    def total_due(self) -> Decimal:
        return self.overdue_amount + self.penalty_total

    @property
    def max_days_overdue(self) -> int:
        return max((i.days_overdue for i in self.items), default=0)

    @property
    def overdue_since(self) -> dt.date | None:
        return min((i.due_date for i in self.items), default=None)


def overdue_position(instalments: Iterable[InstalmentState], today: dt.date) -> OverduePosition:
    """Every unpaid instalment past its due date, with penalty interest, and the next one due.

    An instalment is overdue from the day after its due date until it is paid. The next due
    instalment is the earliest unpaid one due today or later.
    """
    unpaid = sorted((i for i in instalments if not i.paid), key=lambda i: (i.due_date, i.loan_id, i.seq))
    items = tuple(
        OverdueItem(
            loan_id=i.loan_id,
            seq=i.seq,
            due_date=i.due_date,
            amount=i.amount,
            days_overdue=days_overdue(i.due_date, today),
            penalty=penalty_interest(i.amount, days_overdue(i.due_date, today)),
            daily_rate=DAILY_PENALTY_RATE,
        )
        for i in unpaid
        if i.due_date < today
    )
    upcoming = [i for i in unpaid if i.due_date >= today]
    next_due = (
        UpcomingItem(
            loan_id=upcoming[0].loan_id, seq=upcoming[0].seq, due_date=upcoming[0].due_date, amount=upcoming[0].amount
        )
        if upcoming
        else None
    )
    return OverduePosition(items=items, next_due=next_due)
