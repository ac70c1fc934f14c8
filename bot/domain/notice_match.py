"""What a customer says a text told them ("你们发短信说我欠3000块逾期45天", "text says I owe 3,000 and
I'm 45 days late"): the amounts, day counts and dates in it, to be compared with the notice log."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bot.language import normalise

_NUMBER = re.compile(r"(\d[\d,]*(?:\.\d{1,2})?)")
_DAYS_AFTER = re.compile(r"^\s*(?:天|日|days?\b|day\b)", re.I)
_DATE_AFTER = re.compile(r"^\s*(?:号|月|th\b|st\b|nd\b|rd\b|/)", re.I)
_ZH_DATE = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*(?:日|号)")


@dataclass(frozen=True)
class DescribedNotice:
    amounts: frozenset[Decimal]
    days: frozenset[int]
    dates: frozenset[tuple[int, int]]  # (month, day)

    @property
    def empty(self) -> bool:
        return not (self.amounts or self.days or self.dates)


def described_notice(text: str) -> DescribedNotice:
    """The amounts (≥ 100, money), day counts ("45天", "45 days") and month-day dates in ``text``."""
    t = normalise(text)
    dates = {(int(m[1]), int(m[2])) for m in _ZH_DATE.finditer(t)}
    without_dates = _ZH_DATE.sub(" ", t)
    amounts: set[Decimal] = set()
    days: set[int] = set()
    for m in _NUMBER.finditer(without_dates):
        after = without_dates[m.end() :]
        raw = m[1].replace(",", "")
        if _DAYS_AFTER.match(after):
            if raw.isdigit():
                days.add(int(raw))
            continue
        if _DATE_AFTER.match(after):
            continue
        try:
            value = Decimal(raw)
        except InvalidOperation:
            continue
        if value >= 100:
            amounts.add(value)
    return DescribedNotice(frozenset(amounts), frozenset(days), frozenset(dates))


#: A customer quoting the days overdue from memory may be a couple of days off.
DAYS_SLACK = 2


def fits(
    described: DescribedNotice,
    amount: Decimal | None,
    due_date: dt.date | None,
    sent_at: dt.datetime,
    today: dt.date,
) -> bool:
    """Whether a notice we sent fits what the customer described: the same instalment amount (to the
    yuan), or about the days overdue it stated or the instalment is overdue now, or the day it was sent."""
    if amount is not None and any(abs(a - amount) < 1 for a in described.amounts):
        return True
    if due_date is not None:
        counts = ((sent_at.date() - due_date).days, (today - due_date).days)
        if any(abs(stated - count) <= DAYS_SLACK for stated in described.days for count in counts):
            return True
    return (sent_at.month, sent_at.day) in described.dates
