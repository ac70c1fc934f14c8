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


@pytest.mark.parametrize(
    ("candidate", "when", "send", "reason"),
    [
        (c(vulnerable=True), at(17), True, "care_first_notice"),
        (c(vulnerable=True, previous_notices=(at(17),)), at(24), True, "care_reminder"),
        # One notice in any 7 days, about any of the customer's loans, where others could get three.
        (c(vulnerable=True, notices_to_customer_last_7_days=1), at(17), False, "care_cap_per_week"),
        (c(vulnerable=False, notices_to_customer_last_7_days=1), at(17), True, "first_notice"),
        # Every other rule still applies first.
        (c(vulnerable=True), at(17, 22, 0), False, "quiet_hours"),
        (c(vulnerable=True, loan_disputed=True), at(20), False, "disputed"),
        (c(vulnerable=True, previous_notices=(at(17),)), at(20), False, "cadence"),
        (c(vulnerable=True, notices_to_number_last_7_days=3), at(17), False, "cap_per_number"),
    ],
)
def test_a_customer_who_asked_for_care_gets_at_most_one_notice_a_week_in_the_care_text(candidate, when, send, reason):
    decision = decide(candidate, POLICY, when)
    assert (decision.send, decision.reason) == (send, reason)
    if send:
        assert decision.template == ("overdue_care" if candidate.vulnerable else "overdue_first")


def test_the_weekly_care_cap_comes_from_the_policy_file():
    assert POLICY.vulnerable_max_notices_per_week == 1
    assert POLICY.vulnerable_max_notices_per_week < POLICY.max_notices_per_phone_per_week
