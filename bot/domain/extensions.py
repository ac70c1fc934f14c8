"""Extension and instalment-plan policy: pure decisions on plain values.

Terms (the same for both options):
- The amount rescheduled is the overdue instalment amount plus the penalty interest accrued
  up to today; that penalty is frozen into the plan and no further penalty interest accrues
  on it while the plan's new instalments are paid on time.
- Defer N days: one new instalment of the whole amount, due today + N days.
- Split into N months: N monthly instalments, the first due one month from today; every
  instalment is the amount / N rounded down to the fen, the last one takes the remainder.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Literal

import yaml
from dateutil.relativedelta import relativedelta

from bot.domain.rules import OverdueItem

OptionKind = Literal["defer", "split"]


@dataclass(frozen=True)
class ExtensionPolicy:
    max_days_overdue: int
    cooldown_days: int
    max_amount: Decimal
    defer_days: tuple[int, ...]
    split_months: tuple[int, ...]

    @classmethod
    def from_file(cls, path: Path) -> ExtensionPolicy:
        """Read the policy from YAML; raises ValueError when a value breaks the policy's own limits."""
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        policy = cls(
            max_days_overdue=int(raw["max_days_overdue"]),
            cooldown_days=int(raw["cooldown_days"]),
            max_amount=Decimal(str(raw["max_amount"])),
            defer_days=tuple(int(d) for d in raw["defer_days"]),
            split_months=tuple(int(m) for m in raw["split_months"]),
        )
        if not policy.defer_days or any(not 0 < d <= 30 for d in policy.defer_days):
            raise ValueError("defer_days must be between 1 and 30")
        if not policy.split_months or any(m < 2 for m in policy.split_months):
            raise ValueError("split_months must be at least 2")
        return policy


@dataclass(frozen=True)
class ExtensionOption:
    kind: OptionKind
    count: int  # days for defer, months for split

    @property
    def code(self) -> str:
        return f"{self.kind}_{self.count}"

    @classmethod
    def from_code(cls, code: str) -> ExtensionOption:
        kind, _, count = code.partition("_")
        if kind not in ("defer", "split") or not count.isdigit():
            raise ValueError(f"not an extension option: {code!r}")
        return cls(kind, int(count))  # type: ignore[arg-type]


def options(policy: ExtensionPolicy) -> tuple[ExtensionOption, ...]:
    return tuple(ExtensionOption("defer", d) for d in policy.defer_days) + tuple(
        ExtensionOption("split", m) for m in policy.split_months
    )


@dataclass(frozen=True)
class LoanState:
    """What the policy needs to know about one loan today."""

    loan_id: str
    overdue: tuple[OverdueItem, ...]
    disputed: bool
    last_approved_extension: dt.date | None

    @property
    def amount(self) -> Decimal:
        return sum((i.amount + i.penalty for i in self.overdue), Decimal("0.00"))

    @property
    def max_days_overdue(self) -> int:
        return max((i.days_overdue for i in self.overdue), default=0)


@dataclass(frozen=True)
class Eligibility:
    self_service: bool
    reasons: tuple[str, ...]  # why a person must decide: too_late, recent_extension, disputed, over_limit
    rationale: str  # the checks and their values, for the record


def eligibility(loan: LoanState, policy: ExtensionPolicy, today: dt.date) -> Eligibility:
    """Self-service only when at most ``max_days_overdue`` late, no approved extension on the loan
    within ``cooldown_days``, the loan is not disputed, and the amount is within ``max_amount``."""
    reasons = []
    since = "never" if loan.last_approved_extension is None else loan.last_approved_extension.isoformat()
    rationale = (
        f"days_overdue={loan.max_days_overdue} (max {policy.max_days_overdue}); "
        f"last_approved_extension={since} (cooldown {policy.cooldown_days} days); "
        f"disputed={'yes' if loan.disputed else 'no'}; amount={loan.amount} (max {policy.max_amount})"
    )
    if loan.max_days_overdue > policy.max_days_overdue:
        reasons.append("too_late")
    if loan.last_approved_extension is not None and (today - loan.last_approved_extension).days < policy.cooldown_days:
        reasons.append("recent_extension")
    if loan.disputed:
        reasons.append("disputed")
    if loan.amount > policy.max_amount:
        reasons.append("over_limit")
    return Eligibility(self_service=not reasons, reasons=tuple(reasons), rationale=rationale)


@dataclass(frozen=True)
class PlannedInstalment:
    due_date: dt.date
    amount: Decimal


@dataclass(frozen=True)
class Terms:
    option: ExtensionOption
    overdue_amount: Decimal
    frozen_penalty: Decimal
    instalments: tuple[PlannedInstalment, ...]

    @property
    def total(self) -> Decimal:
        return self.overdue_amount + self.frozen_penalty


def terms(overdue: Sequence[OverdueItem], option: ExtensionOption, today: dt.date) -> Terms:
    """The exact new schedule for rescheduling ``overdue`` under ``option`` (see module docstring)."""
    amount = sum((i.amount for i in overdue), Decimal("0.00"))
    penalty = sum((i.penalty for i in overdue), Decimal("0.00"))
    total = amount + penalty
    plan: tuple[PlannedInstalment, ...]
    if option.kind == "defer":
        plan = (PlannedInstalment(today + dt.timedelta(days=option.count), total),)
    else:
        share = (total / option.count).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        plan = tuple(
            PlannedInstalment(
                today + relativedelta(months=k),
                share if k < option.count else total - share * (option.count - 1),
            )
            for k in range(1, option.count + 1)
        )
    return Terms(option=option, overdue_amount=amount, frozen_penalty=penalty, instalments=plan)
