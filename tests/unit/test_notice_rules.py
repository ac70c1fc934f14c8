"""The notice schedule as a table, with a fixed clock."""

import datetime as dt
from pathlib import Path

import pytest

from bot.domain.notices import NoticeCandidate, NoticePolicy, decide

POLICY = NoticePolicy.from_file(Path(__file__).resolve().parents[2] / "config" / "notice_policy.yml")
DUE = dt.date(2026, 11, 16)


def at(day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute)


def c(**kw) -> NoticeCandidate:
    base = dict(
        due_date=DUE,
        paid=False,
        rescheduled=False,
        loan_disputed=False,
        number_under_review=False,
        previous_notices=(),
        notices_to_number_last_7_days=0,
    )
    return NoticeCandidate(**{**base, **kw})


@pytest.mark.parametrize(
    ("candidate", "when", "send", "reason"),
    [
        (c(), at(16), False, "not_due_yet"),  # due today: not overdue yet
        (c(), at(17), True, "first_notice"),  # the day after the due date
        (c(), at(17, 7, 59), False, "quiet_hours"),
        (c(), at(17, 8, 0), True, "first_notice"),
        (c(), at(17, 21, 59), True, "first_notice"),
        (c(), at(17, 22, 0), False, "quiet_hours"),
        (c(), at(18, 2), False, "quiet_hours"),
        (c(previous_notices=(at(17),)), at(20), False, "cadence"),
        (c(previous_notices=(at(17),)), at(24), True, "reminder"),
        (
            c(previous_notices=tuple(at(17) - dt.timedelta(days=7 * k) for k in range(6))),
            at(28),
            False,
            "cap_per_instalment",
        ),
        (c(notices_to_number_last_7_days=3), at(17), False, "cap_per_number"),
        (c(notices_to_number_last_7_days=2), at(17), True, "first_notice"),
        (c(paid=True), at(20), False, "repaid"),
        (c(rescheduled=True), at(20), False, "rescheduled"),
        (c(loan_disputed=True), at(20), False, "disputed"),
        (c(number_under_review=True), at(20), False, "number_under_review"),
    ],
)
def test_notice_schedule(candidate, when, send, reason):
    decision = decide(candidate, POLICY, when)
    assert (decision.send, decision.reason) == (send, reason)
    if send:
        assert decision.template == ("overdue_reminder" if candidate.previous_notices else "overdue_first")
