"""Which overdue notices are due: pure rules on plain values, and the SMS templates.

A notice goes to the borrower's own current number only (the engine never looks anywhere
else for a number). None is sent in quiet hours, on a repaid or rescheduled instalment, on a
disputed loan, or to a number under wrong-number review; otherwise the first notice goes out on
the day after the due date, then reminders at the configured cadence, within a cap per
instalment and a cap per number per week.

A customer who asked us to note a difficult situation (an active vulnerability flag,
bot.domain.care) gets at most ``vulnerable_max_notices_per_week`` notices in any 7 days, whatever
the loan or instalment, and the care text, which leads with the help they can ask for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml

from bot.domain.privacy import mask_name
from bot.domain.rules import penalty_interest
from bot.domain.segments import Segment


@dataclass(frozen=True)
class NoticePolicy:
    first_notice_days_after_due: int
    reminder_every_days: int
    max_notices_per_instalment: int
    max_notices_per_phone_per_week: int
    quiet_hours_start: dt.time
    quiet_hours_end: dt.time
    vulnerable_max_notices_per_week: int

    @classmethod
    def from_file(cls, path: Path) -> NoticePolicy:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls(
            first_notice_days_after_due=int(raw["first_notice_days_after_due"]),
            reminder_every_days=int(raw["reminder_every_days"]),
            max_notices_per_instalment=int(raw["max_notices_per_instalment"]),
            max_notices_per_phone_per_week=int(raw["max_notices_per_phone_per_week"]),
            quiet_hours_start=dt.time.fromisoformat(raw["quiet_hours_start"]),
            quiet_hours_end=dt.time.fromisoformat(raw["quiet_hours_end"]),
            vulnerable_max_notices_per_week=int(raw["vulnerable_max_notices_per_week"]),
        )

    def quiet(self, at: dt.datetime) -> bool:
        t = at.time()
        if self.quiet_hours_start > self.quiet_hours_end:  # spans midnight
            return t >= self.quiet_hours_start or t < self.quiet_hours_end
        return self.quiet_hours_start <= t < self.quiet_hours_end


@dataclass(frozen=True)
class NoticeCandidate:
    """An unpaid instalment and what the rules need to know around it."""

    due_date: dt.date
    paid: bool
    rescheduled: bool
    loan_disputed: bool
    number_under_review: bool
    previous_notices: tuple[dt.datetime, ...]  # to this instalment, recorded (sent or pending)
    notices_to_number_last_7_days: int
    #: The borrower has an active vulnerability flag (they consented to our noting it).
    vulnerable: bool = False
    #: Notices recorded to this borrower, about any loan, in the last 7 days.
    notices_to_customer_last_7_days: int = 0


@dataclass(frozen=True)
class NoticeDecision:
    send: bool
    # why (not): first_notice, reminder, care_first_notice, care_reminder, quiet_hours, repaid,
    # rescheduled, disputed, ..., care_cap_per_week
    reason: str
    template: str | None = None
    segment: str | None = None  # the borrower's segment (bot.domain.segments) when one was given


def decide(
    candidate: NoticeCandidate, policy: NoticePolicy, at: dt.datetime, segment: Segment | None = None
) -> NoticeDecision:
    """Whether one notice about this instalment is due at ``at``, and why (not). For a customer with
    an active vulnerability flag the care rule applies on top: the weekly care cap, the care text.
    The borrower's ``segment`` chooses the template of a notice that is due (first or reminder); it
    changes nothing about whether one is due."""
    for blocked, reason in (
        (policy.quiet(at), "quiet_hours"),
        (candidate.paid, "repaid"),
        (candidate.rescheduled, "rescheduled"),
        (candidate.loan_disputed, "disputed"),
        (candidate.number_under_review, "number_under_review"),
    ):
        if blocked:
            return NoticeDecision(False, reason)
    if (at.date() - candidate.due_date).days < policy.first_notice_days_after_due:
        return NoticeDecision(False, "not_due_yet")
    if len(candidate.previous_notices) >= policy.max_notices_per_instalment:
        return NoticeDecision(False, "cap_per_instalment")
    if (
        candidate.previous_notices
        and (at.date() - max(candidate.previous_notices).date()).days < policy.reminder_every_days
    ):
        return NoticeDecision(False, "cadence")
    if candidate.notices_to_number_last_7_days >= policy.max_notices_per_phone_per_week:
        return NoticeDecision(False, "cap_per_number")
    if candidate.vulnerable:
        if candidate.notices_to_customer_last_7_days >= policy.vulnerable_max_notices_per_week:
            return NoticeDecision(False, "care_cap_per_week")
        reason = "care_reminder" if candidate.previous_notices else "care_first_notice"
        return NoticeDecision(True, reason, "overdue_care", segment.name if segment else None)
    if candidate.previous_notices:
        template = segment.reminder_template if segment else "overdue_reminder"
        return NoticeDecision(True, "reminder", template, segment.name if segment else None)
    template = segment.first_template if segment else "overdue_first"
    return NoticeDecision(True, "first_notice", template, segment.name if segment else None)


def load_templates(path: Path) -> dict[str, dict[str, str]]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def render_notice(
    templates: dict[str, dict[str, str]],
    template: str,
    language: str,
    name: str,
    loan_id: str,
    seq: int,
    amount: Decimal,
    days: int,
) -> str:
    """The SMS text: the customer's language, the name masked (张*), amounts with two decimals, and
    the penalty so far worked out as the template shows it (amount x 0.05% x days)."""
    text = templates[template].get(language) or templates[template]["zh"]
    return text.format(
        masked_name=mask_name(name),
        loan_id=loan_id,
        seq=seq,
        amount=f"{amount:,.2f}",
        days=days,
        penalty=f"{penalty_interest(amount, days):,.2f}",
    )
