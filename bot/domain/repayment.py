"""How a repayment is applied and what it takes to repay on a given day: pure rules on plain values.

The rule is in config/repayment_policy.yml: a payment settles the oldest overdue instalment first,
within it the penalty interest before the instalment amount; penalty interest keeps accruing on
what is still unpaid. Repaying the whole loan early costs the overdue amounts with their penalty
to that day, the principal part of the instalments not yet due, and the current period's interest
up to that day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml
from dateutil.relativedelta import relativedelta

from bot.domain.rules import DAILY_PENALTY_RATE, OverduePosition, days_overdue, penalty_interest, to_fen

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class RepaymentPolicy:
    partial_payment_in_app: bool
    min_partial_payment: Decimal
    allocation_order: tuple[str, ...]
    early_repayment_fee: Decimal

    @classmethod
    def from_file(cls, path: Path) -> RepaymentPolicy:
        """Read the policy; raises ValueError for an order other than the two parts, each once."""
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        order = tuple(str(part) for part in raw["allocation_order"])
        if sorted(order) != ["instalment", "penalty"]:
            raise ValueError(f"allocation_order must name penalty and instalment once each, not {order}")
        return cls(
            partial_payment_in_app=bool(raw["partial_payment_in_app"]),
            min_partial_payment=Decimal(str(raw["min_partial_payment"])),
            allocation_order=order,
            early_repayment_fee=Decimal(str(raw["early_repayment_fee"])),
        )

    @property
    def penalty_first(self) -> bool:
        return self.allocation_order[0] == "penalty"


@dataclass(frozen=True)
class Allocation:
    loan_id: str
    seq: int
    to_penalty: Decimal
    to_instalment: Decimal
    instalment_left: Decimal

    @property
    def settled(self) -> bool:
        return self.instalment_left == ZERO


@dataclass(frozen=True)
class PartialPayment:
    amount: Decimal
    allocations: tuple[Allocation, ...]
    still_overdue: Decimal
    #: Penalty interest per day from then on, on the instalment amounts still unpaid.
    daily_penalty_after: Decimal
    unused: Decimal

    @property
    def clears_everything(self) -> bool:
        return self.still_overdue == ZERO


def apply_partial(position: OverduePosition, amount: Decimal, policy: RepaymentPolicy) -> PartialPayment:
    """What paying ``amount`` today does to the overdue position, applied as the policy says."""
    left = to_fen(amount)
    allocations = []
    unpaid = []
    for item in position.items:  # oldest first (overdue_position sorts by due date)
        parts = {"penalty": item.penalty, "instalment": item.amount}
        paid = {}
        for part in policy.allocation_order:
            paid[part] = min(left, parts[part])
            left -= paid[part]
        instalment_left = item.amount - paid["instalment"]
        penalty_left = item.penalty - paid["penalty"]
        if paid["penalty"] or paid["instalment"]:
            allocations.append(Allocation(item.loan_id, item.seq, paid["penalty"], paid["instalment"], instalment_left))
        unpaid.append((instalment_left, penalty_left))
    still = sum((i + p for i, p in unpaid), ZERO)
    daily = to_fen(sum((i for i, _ in unpaid), ZERO) * DAILY_PENALTY_RATE)
    return PartialPayment(to_fen(amount), tuple(allocations), still, daily, left)


@dataclass(frozen=True)
class ScheduledInstalment:
    """An instalment as the payoff rule needs it."""

    seq: int
    due_date: dt.date
    amount: Decimal
    paid: bool
    #: False for the instalments an extension or plan created: they carry no interest.
    original: bool = True


@dataclass(frozen=True)
class LoanPayoff:
    loan_id: str
    on: dt.date
    overdue: Decimal
    penalty: Decimal
    principal: Decimal
    interest: Decimal
    fee: Decimal

    @property
    def total(self) -> Decimal:
        return self.overdue + self.penalty + self.principal + self.interest + self.fee


def loan_payoff(
    loan_id: str,
    principal: Decimal,
    schedule: Sequence[ScheduledInstalment],
    on: dt.date,
    policy: RepaymentPolicy,
) -> LoanPayoff:
    """What repaying the whole loan on ``on`` costs (the rule in this module's docstring)."""
    originals = [i for i in schedule if i.original]
    scheduled_total = sum((i.amount for i in originals), ZERO)
    overdue = penalty = future_principal = interest = ZERO
    current_period_done = False
    for inst in sorted(schedule, key=lambda i: (i.due_date, i.seq)):
        if inst.paid:
            continue
        if inst.due_date < on:
            overdue += inst.amount
            penalty += penalty_interest(inst.amount, days_overdue(inst.due_date, on))
            continue
        if not inst.original or scheduled_total == ZERO:
            future_principal += inst.amount
            continue
        share = to_fen(principal * inst.amount / scheduled_total)
        future_principal += share
        if not current_period_done:
            current_period_done = True
            period_start = inst.due_date - relativedelta(months=1)
            period_days = (inst.due_date - period_start).days
            elapsed = min(max((on - period_start).days, 0), period_days)
            interest = to_fen((inst.amount - share) * elapsed / period_days)
    return LoanPayoff(loan_id, on, overdue, penalty, future_principal, interest, policy.early_repayment_fee)


@dataclass(frozen=True)
class FeeExplanation:
    """Why a payment was more than its instalment: penalty interest for the days it was late."""

    loan_id: str
    seq: int
    instalment_amount: Decimal
    paid_amount: Decimal
    due_date: dt.date
    paid_on: dt.date
    days_late: int
    penalty: Decimal

    @property
    def extra(self) -> Decimal:
        return self.paid_amount - self.instalment_amount

    @property
    def formula_matches(self) -> bool:
        return self.extra == self.penalty


def explain_extra(
    loan_id: str, seq: int, instalment_amount: Decimal, due_date: dt.date, paid_amount: Decimal, paid_on: dt.date
) -> FeeExplanation | None:
    """The penalty behind a payment above its instalment amount; None when nothing extra was paid."""
    if paid_amount <= instalment_amount:
        return None
    days = days_overdue(due_date, paid_on)
    return FeeExplanation(
        loan_id, seq, instalment_amount, paid_amount, due_date, paid_on, days, penalty_interest(instalment_amount, days)
    )
