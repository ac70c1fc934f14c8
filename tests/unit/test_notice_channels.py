"""The channel rules as tables, with fixed bank-local times: which channel each segment's notice takes,
what a customer's preference changes, when a call may be placed, and that the caps and the quiet hours
hold every channel alike."""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bot.domain.notices import (
    ContactPreferences,
    NoticeCandidate,
    NoticePolicy,
    PolicyConfigError,
    decide,
    decide_call,
    load_templates,
)
from bot.domain.segments import SegmentConfigError, SegmentFacts, SegmentRules

CONFIG = Path(__file__).resolve().parents[2] / "config"
POLICY = NoticePolicy.from_file(CONFIG / "notice_policy.yml")
RULES = SegmentRules.from_file(CONFIG / "notice_segments.yml", load_templates(CONFIG / "notice_templates.yml"))
SEGMENT = {s.name: s for s in RULES.segments}
LONG_DUE = dt.date(2026, 10, 1)  # 60 days overdue on 2026-11-30
DUE = dt.date(2026, 11, 20)
MONDAY, SATURDAY, SUNDAY = dt.date(2026, 11, 30), dt.date(2026, 11, 28), dt.date(2026, 11, 29)


def at(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute))


def c(due: dt.date = DUE, **kw) -> NoticeCandidate:
    base = dict(
        due_date=due,
        paid=False,
        rescheduled=False,
        loan_disputed=False,
        number_under_review=False,
        previous_notices=(),
        notices_to_number_last_7_days=0,
    )
    return NoticeCandidate(**{**base, **kw})


def test_the_policy_files_say_when_calls_may_be_placed() -> None:
    assert POLICY.call_days == frozenset(range(5))  # Monday to Friday
    assert (POLICY.call_hours_start, POLICY.call_hours_end) == (dt.time(9), dt.time(18))
    assert (POLICY.quiet_hours_start, POLICY.quiet_hours_end) == (dt.time(22), dt.time(8))
    assert POLICY.max_notices_per_customer_per_week == 3 and POLICY.call_min_days_overdue == 30


@pytest.mark.parametrize(
    ("segment", "previous", "channel", "template"),
    [
        ("first_time_late", (), "in_app", "overdue_first"),  # a friendly first note in the app
        ("first_time_late", (at(DUE, 10) + dt.timedelta(days=1),), "sms", "overdue_reminder"),  # then SMS
        ("late_before", (), "sms", "overdue_first"),
        ("often_late_pays", (), "sms", "overdue_reminder"),
        ("on_plan", (), "sms", "overdue_plan"),
        ("long_overdue", (), "sms", "overdue_long"),
    ],
)
def test_the_segment_chooses_the_written_notices_channel(segment, previous, channel, template) -> None:
    decision = decide(c(previous_notices=previous), POLICY, at(MONDAY), SEGMENT[segment])
    assert (decision.send, decision.channel, decision.template, decision.segment) == (True, channel, template, segment)


def test_only_the_long_overdue_segment_adds_a_call() -> None:
    assert [s.name for s in RULES.segments if s.call] == ["long_overdue"]
    for name in ("hardship", "on_plan", "often_late_pays", "first_time_late", "late_before"):
        assert decide_call(c(LONG_DUE), POLICY, at(MONDAY), SEGMENT[name]) is None


@pytest.mark.parametrize(
    ("segment", "prefer", "channel", "note"),
    [
        ("first_time_late", "sms", "sms", "preferred_sms"),
        ("late_before", "in_app", "in_app", "preferred_in_app"),
        ("often_late_pays", "in_app", "in_app", "preferred_in_app"),
        # A notice that says the overdue is reported to the credit bureau stays an SMS to the number.
        ("long_overdue", "in_app", "sms", "kept_sms_for_segment"),
        ("late_before", None, "sms", None),
    ],
)
def test_a_customers_preference_changes_the_channel_where_the_rules_allow(segment, prefer, channel, note) -> None:
    decision = decide(c(), POLICY, at(MONDAY), SEGMENT[segment], ContactPreferences(prefer=prefer))
    assert decision.send and (decision.channel, decision.channel_note) == (channel, note)


def test_a_preference_for_a_channel_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValueError, match="prefer must be one of"):
        ContactPreferences(prefer="fax")


CALL_TABLE = [
    # (candidate, when, preferences, send, reason)
    (c(LONG_DUE), at(MONDAY), None, True, "call"),
    (c(LONG_DUE), at(MONDAY, 9, 0), None, True, "call"),
    (c(LONG_DUE), at(MONDAY, 8, 59), None, False, "call_outside_working_hours"),
    (c(LONG_DUE), at(MONDAY, 17, 59), None, True, "call"),
    (c(LONG_DUE), at(MONDAY, 18, 0), None, False, "call_outside_working_hours"),
    (c(LONG_DUE), at(MONDAY, 21, 0), None, False, "call_outside_working_hours"),  # an SMS could still go
    (c(LONG_DUE), at(MONDAY, 22, 0), None, False, "quiet_hours"),
    (c(LONG_DUE), at(MONDAY, 7, 0), None, False, "quiet_hours"),
    (c(LONG_DUE), at(SATURDAY), None, False, "call_outside_working_hours"),
    (c(LONG_DUE), at(SUNDAY, 12), None, False, "call_outside_working_hours"),
    (c(LONG_DUE), at(dt.date(2027, 1, 1)), None, False, "call_outside_working_hours"),  # a Friday, a holiday
    (c(dt.date(2026, 11, 1)), at(MONDAY), None, False, "call_not_long_overdue"),  # 29 days
    (c(dt.date(2026, 10, 31)), at(MONDAY), None, True, "call"),  # 30 days
    (c(LONG_DUE), at(MONDAY), ContactPreferences(no_calls=True), False, "call_customer_asked_no_calls"),
    (c(LONG_DUE, vulnerable=True), at(MONDAY), None, False, "call_care_no_calls"),
    (c(LONG_DUE, previous_calls=(at(MONDAY) - dt.timedelta(days=6),)), at(MONDAY), None, False, "call_cadence"),
    (c(LONG_DUE, previous_calls=(at(MONDAY) - dt.timedelta(days=7),)), at(MONDAY), None, True, "call"),
    (
        c(LONG_DUE, previous_calls=tuple(at(MONDAY) - dt.timedelta(days=7 * k) for k in range(1, 4))),
        at(MONDAY),
        None,
        False,
        "call_cap_per_instalment",
    ),
    (c(LONG_DUE, paid=True), at(MONDAY), None, False, "repaid"),
    (c(LONG_DUE, loan_disputed=True), at(MONDAY), None, False, "disputed"),
    (c(LONG_DUE, number_under_review=True), at(MONDAY), None, False, "number_under_review"),
]


@pytest.mark.parametrize(("candidate", "when", "preferences", "send", "reason"), CALL_TABLE)
def test_a_call_is_placed_only_on_working_days_in_working_hours_for_long_overdue(
    candidate, when, preferences, send, reason
) -> None:
    decision = decide_call(candidate, POLICY, when, SEGMENT["long_overdue"], preferences)
    assert decision is not None and (decision.send, decision.reason, decision.channel) == (send, reason, "call")
    if send:
        assert decision.template == "call_overdue"


def test_a_customer_who_asked_for_no_calls_still_gets_the_written_notice() -> None:
    prefs = ContactPreferences(no_calls=True, prefer="in_app")
    written = decide(c(LONG_DUE), POLICY, at(MONDAY), SEGMENT["long_overdue"], prefs)
    assert written.send and written.channel == "sms"  # the credit-bureau notice stays an SMS
    other = decide(c(), POLICY, at(MONDAY), SEGMENT["late_before"], prefs)
    assert other.send and other.channel == "in_app"


@pytest.mark.parametrize("hour", [22, 23, 0, 3, 7])
@pytest.mark.parametrize("segment", ["first_time_late", "late_before", "long_overdue", "hardship"])
def test_the_quiet_hours_hold_every_channel(segment, hour) -> None:
    day = MONDAY if hour >= 22 else MONDAY + dt.timedelta(days=1)
    for prefer in (None, "in_app", "sms"):
        written = decide(c(LONG_DUE), POLICY, at(day, hour), SEGMENT[segment], ContactPreferences(prefer=prefer))
        assert (written.send, written.reason) == (False, "quiet_hours")
    call = decide_call(c(LONG_DUE), POLICY, at(day, hour), SEGMENT[segment])
    assert call is None or (call.send, call.reason) == (False, "quiet_hours")


def test_the_weekly_cap_per_customer_counts_every_channel() -> None:
    # Three notices this week, whatever their channels: nothing more on any channel.
    full = c(LONG_DUE, notices_to_customer_last_7_days=3)
    assert decide(full, POLICY, at(MONDAY), SEGMENT["late_before"]).reason == "cap_per_customer"
    in_app = decide(full, POLICY, at(MONDAY), SEGMENT["late_before"], ContactPreferences(prefer="in_app"))
    assert (in_app.send, in_app.reason, in_app.channel) == (False, "cap_per_customer", "in_app")
    call = decide_call(full, POLICY, at(MONDAY), SEGMENT["long_overdue"])
    assert call is not None and (call.send, call.reason) == (False, "cap_per_customer")
    # One slot left: the SMS takes it, and the call counts the SMS just recorded.
    two = c(LONG_DUE, notices_to_customer_last_7_days=2)
    assert decide(two, POLICY, at(MONDAY), SEGMENT["long_overdue"]).send
    after_sms = replace(two, notices_to_customer_last_7_days=3, previous_notices=(at(MONDAY),))
    assert decide_call(after_sms, POLICY, at(MONDAY), SEGMENT["long_overdue"]).reason == "cap_per_customer"


def test_the_cap_per_instalment_counts_calls_and_in_app_messages_too() -> None:
    six = tuple(at(MONDAY) - dt.timedelta(days=3 * k) for k in range(1, 7))
    mixed = c(LONG_DUE, previous_notices=six, previous_written=six[:3], previous_calls=six[3:])
    assert decide(mixed, POLICY, at(MONDAY), SEGMENT["long_overdue"]).reason == "cap_per_instalment"
    call = decide_call(mixed, POLICY, at(MONDAY), SEGMENT["long_overdue"])
    assert call is not None and call.reason == "cap_per_instalment"


def test_the_reminder_cadence_counts_written_notices_and_the_call_cadence_counts_calls() -> None:
    yesterday_call = (at(MONDAY) - dt.timedelta(days=1),)
    long_ago = (at(MONDAY) - dt.timedelta(days=8),)
    candidate = c(
        LONG_DUE,
        previous_notices=long_ago + yesterday_call,
        previous_written=long_ago,
        previous_calls=yesterday_call,
    )
    assert decide(candidate, POLICY, at(MONDAY), SEGMENT["long_overdue"]).reason == "reminder"
    assert decide_call(candidate, POLICY, at(MONDAY), SEGMENT["long_overdue"]).reason == "call_cadence"


def test_the_cap_per_number_counts_sms_and_calls_but_not_in_app_messages() -> None:
    full = c(notices_to_number_last_7_days=3)
    assert decide(full, POLICY, at(MONDAY), SEGMENT["late_before"]).reason == "cap_per_number"
    in_app = decide(full, POLICY, at(MONDAY), SEGMENT["late_before"], ContactPreferences(prefer="in_app"))
    assert in_app.send and in_app.channel == "in_app"


def test_the_servers_time_zone_changes_no_decision(monkeypatch) -> None:
    if not hasattr(time, "tzset"):
        pytest.skip("no time.tzset on this platform")
    cases = [(candidate, when, prefs) for candidate, when, prefs, _, _ in CALL_TABLE]

    def decisions():
        return [
            (decide(k, POLICY, w, SEGMENT["long_overdue"], p), decide_call(k, POLICY, w, SEGMENT["long_overdue"], p))
            for k, w, p in cases
        ]

    here = decisions()
    for zone in ("America/Los_Angeles", "UTC", "Pacific/Kiritimati"):
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        assert decisions() == here
    monkeypatch.delenv("TZ", raising=False)
    os.environ.pop("TZ", None)
    time.tzset()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"call_days": ["mon", "someday"]}, "call_days must be"),
        ({"call_days": []}, "call_days must be"),
        ({"call_hours_start": "18:00", "call_hours_end": "09:00"}, "call_hours_start must be before"),
    ],
)
def test_a_bad_call_policy_is_refused_with_what_is_wrong(tmp_path, change, message) -> None:
    import yaml

    raw = yaml.safe_load((CONFIG / "notice_policy.yml").read_text(encoding="utf-8"))
    path = tmp_path / "policy.yml"
    path.write_text(yaml.safe_dump({**raw, **change}), encoding="utf-8")
    with pytest.raises(PolicyConfigError, match=message):
        NoticePolicy.from_file(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"first_channel": "fax"}, "first_channel must be one of sms, in_app"),
        ({"reminder_channel": "call"}, "reminder_channel must be one of"),
        ({"call": "yes"}, "call must be true or false"),
    ],
)
def test_a_bad_segment_channel_is_refused(change, message) -> None:
    import yaml

    raw = yaml.safe_load((CONFIG / "notice_segments.yml").read_text(encoding="utf-8"))
    raw["segments"][0] = {**raw["segments"][0], **change}
    with pytest.raises(SegmentConfigError, match=message):
        SegmentRules.from_dict(raw)


def test_explain_words_name_each_segments_channels() -> None:
    assert SEGMENT["first_time_late"].channels() == "in_app first, then sms"
    assert SEGMENT["long_overdue"].channels() == "sms; plus a call"
    assert RULES.place(SegmentFacts(45, 0, False, False)).name == "long_overdue"
