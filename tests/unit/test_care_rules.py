"""The care rules for a customer with an active vulnerability flag, as tables."""

import datetime as dt

import pytest

from bot.domain.care import PRIORITIES, VULNERABILITY_REASONS, care_priority, care_summary_line
from bot.domain.model import VulnerabilityFlag


@pytest.mark.parametrize(
    ("priority", "expected"),
    [
        ("normal", "high"),  # a request for a person, low confidence, an extension referral
        ("high", "high"),  # a complaint
        ("urgent", "urgent"),  # money already sent to a scammer: never lowered
        ("unheard-of", "high"),
    ],
)
def test_a_flagged_customers_ticket_is_at_least_high_and_an_urgent_one_stays_urgent(priority, expected):
    assert care_priority(priority) == expected
    assert care_priority(priority) in PRIORITIES


def test_the_care_line_names_the_reason_and_the_day_of_consent_for_the_agent():
    line = care_summary_line("job_loss", dt.datetime(2026, 11, 28, 14, 5))
    assert line.startswith("Care: the customer asked us to note a difficult situation")
    assert "job_loss" in line and "2026-11-28" in line and "\n" not in line


def test_every_vulnerability_reason_fits_its_column():
    assert VULNERABILITY_REASONS == ("distress", "self_harm", "illness", "job_loss", "hardship")
    width = VulnerabilityFlag.__table__.c.reason.type.length
    assert all(len(reason) <= width for reason in VULNERABILITY_REASONS)
