"""Care for customers who told us they are struggling, noted on their account only with consent.

A verified customer who says they are under great strain, ill, out of work or thinking of harming
themselves is asked whether the bank may note it. With consent a vulnerability flag is recorded
(bot.services.care); while it is active, notices come less often and lead with help
(bot.domain.notices), and a person who picks up their handoff ticket sees it first and sooner.
The customer may withdraw consent at any time, which clears the flag.
"""

from __future__ import annotations

import datetime as dt

#: Why a customer asked us to note a difficult situation (``vulnerability_flags.reason``).
VULNERABILITY_REASONS = ("distress", "self_harm", "illness", "job_loss", "hardship")

#: Handoff priorities, lowest first.
PRIORITIES = ("normal", "high", "urgent")
#: The least priority a ticket of a customer with an active flag gets.
CARE_PRIORITY = "high"


def care_priority(priority: str) -> str:
    """A flagged customer's ticket is answered sooner: at least ``high``, an ``urgent`` one stays urgent."""
    rank = {p: i for i, p in enumerate(PRIORITIES)}
    return priority if rank.get(priority, 0) >= rank[CARE_PRIORITY] else CARE_PRIORITY


def care_summary_line(reason: str, consent_at: dt.datetime) -> str:
    """The first line of a flagged customer's ticket summary, so the agent reads it before anything else."""
    return f"Care: the customer asked us to note a difficult situation ({reason}, since {consent_at:%Y-%m-%d}); be patient, offer an extension or plan, no pressure to pay"
