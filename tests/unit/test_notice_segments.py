"""The segment rules (config/notice_segments.yml): a table of placements, and refused configurations."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain.notices import load_templates
from bot.domain.segments import SegmentConfigError, SegmentFacts, SegmentRules

CONFIG = Path(__file__).resolve().parents[2] / "config"
TEMPLATES = load_templates(CONFIG / "notice_templates.yml")
RULES = SegmentRules.from_file(CONFIG / "notice_segments.yml", TEMPLATES)


def facts(days: int = 5, paid_late: int = 0, on_plan: bool = False, hardship: bool = False, overdue: int = 1):
    return SegmentFacts(days, paid_late, on_plan, hardship, overdue)


@pytest.mark.parametrize(
    ("given", "segment", "first", "reminder"),
    [
        (facts(), "first_time_late", "overdue_first", "overdue_reminder"),
        (facts(overdue=2), "late_before", "overdue_first", "overdue_reminder"),  # another one is overdue too
        (facts(paid_late=1), "late_before", "overdue_first", "overdue_reminder"),
        (facts(paid_late=2), "often_late_pays", "overdue_reminder", "overdue_reminder"),
        (facts(on_plan=True, paid_late=3), "on_plan", "overdue_plan", "overdue_plan"),
        (facts(days=29), "first_time_late", "overdue_first", "overdue_reminder"),
        (facts(days=30), "long_overdue", "overdue_long", "overdue_long"),
        (facts(days=30, on_plan=True), "long_overdue", "overdue_long", "overdue_long"),
        # Hardship comes first, however long overdue: help before anything firmer.
        (facts(days=120, paid_late=5, hardship=True), "hardship", "overdue_care", "overdue_care"),
    ],
)
def test_the_first_matching_segment_chooses_the_templates(given, segment, first, reminder) -> None:
    placed = RULES.place(given)
    assert (placed.name, placed.first_template, placed.reminder_template) == (segment, first, reminder)


def test_every_reason_names_the_facts_in_both_languages() -> None:
    long = RULES.place(facts(days=45))
    assert "45" in long.why(facts(days=45), "zh") and "45 days" in long.why(facts(days=45), "en")
    often = RULES.place(facts(paid_late=3))
    assert "3" in often.why(facts(paid_late=3), "zh") and "paid 3 earlier" in often.why(facts(paid_late=3), "en")
    for segment in RULES.segments:
        for language in ("zh", "en"):
            assert segment.why(facts(days=31, paid_late=2, overdue=2), language)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"when": {"days_late": 3}}, "unknown condition 'days_late'"),
        ({"when": {"days_overdue_at_least": "30"}}, "must be a whole number"),
        ({"reason": {"zh": "只有中文"}}, "in zh and en"),
        ({"first_template": "overdue_shouting"}, "no notice template 'overdue_shouting'"),
    ],
)
def test_a_bad_segment_is_refused_with_what_is_wrong(change, message) -> None:
    segment = {
        "name": "x",
        "when": {"hardship": True},
        "first_template": "overdue_care",
        "reminder_template": "overdue_care",
        "reason": {"zh": "原因", "en": "why"},
        **change,
    }
    catch_all = {
        **segment,
        "name": "rest",
        "when": {},
        "first_template": "overdue_first",
        "reason": {"zh": "z", "en": "e"},
    }
    with pytest.raises(SegmentConfigError, match=message):
        SegmentRules.from_dict(
            {"segments": [segment, {**catch_all, "reminder_template": "overdue_reminder"}]}, TEMPLATES
        )


def test_the_rules_must_end_with_a_segment_for_everyone() -> None:
    only = {
        "name": "hardship", "when": {"hardship": True}, "first_template": "overdue_care",
        "reminder_template": "overdue_care", "reason": {"zh": "z", "en": "e"},
    }  # fmt: skip
    with pytest.raises(SegmentConfigError, match="last segment must have no conditions"):
        SegmentRules.from_dict({"segments": [only]}, TEMPLATES)
    with pytest.raises(SegmentConfigError, match="non-empty list"):
        SegmentRules.from_dict({"segments": []}, TEMPLATES)
