"""Which overdue notices are due: pure rules on plain values, and the SMS templates.

A notice goes to the borrower's own current number only (the engine never looks anywhere
else for a number). None is sent in quiet hours, on a repaid or rescheduled instalment, on a
disputed loan, or to a number under wrong-number review; otherwise the first notice goes out on
the day after the due date, then reminders at the configured cadence, within a cap per
instalment and a cap per number per week.

A customer who asked us to note a difficult situation (an active vulnerability flag,
bot.domain.care) gets at most ``vulnerable_max_notices_per_week`` notices in any 7 days, whatever
the loan or instalment, and the care text, which leads with the help they can ask for.

Channels (``CHANNELS``): a written notice goes by SMS or as an in-app message into the verified
customer's own chat; a long-overdue instalment may also get an outbound call task. One set of caps
covers them all: the cap per instalment and the cap per customer per week count every channel, the
quiet hours hold every channel, and calls are placed only on working days within working hours. The
borrower's segment names the channels (``Segment.first_channel``/``reminder_channel``/``call``);
the customer's contact preferences change them where the rules allow (``apply_preferences``).
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

#: Where a notice goes. "sms": the borrower's own current number; "in_app": the verified customer's
#: own chat page (history and live stream), never an anonymous visitor's; "call": a call task for the
#: dialer to the borrower's own current number.
CHANNELS = ("sms", "in_app", "call")
WRITTEN_CHANNELS = ("sms", "in_app")
#: Channels that reach the phone number (the cap per number counts these).
PHONE_CHANNELS = ("sms", "call")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class PolicyConfigError(ValueError):
    """notice_policy.yml says something the rules cannot apply."""


def _weekdays(raw: object) -> frozenset[int]:
    names = [str(d).lower()[:3] for d in (raw if isinstance(raw, list) else [])]
    unknown = [d for d in names if d not in WEEKDAYS]
    if unknown or not names:
        raise PolicyConfigError(f"call_days must be a non-empty list of {', '.join(WEEKDAYS)}; got {raw!r}")
    return frozenset(WEEKDAYS.index(d) for d in names)


@dataclass(frozen=True)
class NoticePolicy:
    first_notice_days_after_due: int
    reminder_every_days: int
    max_notices_per_instalment: int
    max_notices_per_phone_per_week: int
    quiet_hours_start: dt.time
    quiet_hours_end: dt.time
    vulnerable_max_notices_per_week: int
    #: Every channel together, about any of the customer's loans, in any 7 days.
    max_notices_per_customer_per_week: int = 3
    #: Calls: only for instalments at least this many days overdue, at most one per instalment every
    #: ``call_every_days`` and ``max_calls_per_instalment`` in all, only on ``call_days`` that are not
    #: ``call_holidays``, from ``call_hours_start`` to ``call_hours_end`` (bank time).
    call_min_days_overdue: int = 30
    call_every_days: int = 7
    max_calls_per_instalment: int = 3
    call_days: frozenset[int] = frozenset(range(5))
    call_hours_start: dt.time = dt.time(9, 0)
    call_hours_end: dt.time = dt.time(18, 0)
    call_holidays: frozenset[dt.date] = frozenset()
    #: Segments whose written notice stays an SMS whatever the customer prefers (a notice that says
    #: the overdue is reported to the credit bureau goes to the registered number in writing).
    sms_kept_for_segments: frozenset[str] = frozenset()

    @classmethod
    def from_file(cls, path: Path) -> NoticePolicy:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        defaults = cls(0, 0, 0, 0, dt.time(22), dt.time(8), 0)
        policy = cls(
            first_notice_days_after_due=int(raw["first_notice_days_after_due"]),
            reminder_every_days=int(raw["reminder_every_days"]),
            max_notices_per_instalment=int(raw["max_notices_per_instalment"]),
            max_notices_per_phone_per_week=int(raw["max_notices_per_phone_per_week"]),
            quiet_hours_start=dt.time.fromisoformat(raw["quiet_hours_start"]),
            quiet_hours_end=dt.time.fromisoformat(raw["quiet_hours_end"]),
            vulnerable_max_notices_per_week=int(raw["vulnerable_max_notices_per_week"]),
            max_notices_per_customer_per_week=int(
                raw.get("max_notices_per_customer_per_week", defaults.max_notices_per_customer_per_week)
            ),
            call_min_days_overdue=int(raw.get("call_min_days_overdue", defaults.call_min_days_overdue)),
            call_every_days=int(raw.get("call_every_days", defaults.call_every_days)),
            max_calls_per_instalment=int(raw.get("max_calls_per_instalment", defaults.max_calls_per_instalment)),
            call_days=_weekdays(raw["call_days"]) if "call_days" in raw else defaults.call_days,
            call_hours_start=dt.time.fromisoformat(raw.get("call_hours_start", "09:00")),
            call_hours_end=dt.time.fromisoformat(raw.get("call_hours_end", "18:00")),
            call_holidays=frozenset(dt.date.fromisoformat(str(d)) for d in raw.get("call_holidays") or ()),
            sms_kept_for_segments=frozenset(str(s) for s in raw.get("sms_kept_for_segments") or ()),
        )
        if policy.call_hours_start >= policy.call_hours_end:
            raise PolicyConfigError("call_hours_start must be before call_hours_end (calls never span midnight)")
        return policy

    def quiet(self, at: dt.datetime) -> bool:
        """The quiet hours, for every channel."""
        t = at.time()
        if self.quiet_hours_start > self.quiet_hours_end:  # spans midnight
            return t >= self.quiet_hours_start or t < self.quiet_hours_end
        return self.quiet_hours_start <= t < self.quiet_hours_end

    def call_time(self, at: dt.datetime) -> bool:
        """Whether ``at`` is within working hours on a working day (calls only then)."""
        return (
            at.weekday() in self.call_days
            and at.date() not in self.call_holidays
            and self.call_hours_start <= at.time() < self.call_hours_end
            and not self.quiet(at)
        )


@dataclass(frozen=True)
class ContactPreferences:
    """What the customer asked: no calls, and in-app or SMS for written notices (None: no preference)."""

    no_calls: bool = False
    prefer: str | None = None

    def __post_init__(self) -> None:
        if self.prefer not in (None, *WRITTEN_CHANNELS):
            raise ValueError(f"prefer must be one of {', '.join(WRITTEN_CHANNELS)} or None")


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
    #: Notices recorded to this borrower, about any loan, in the last 7 days (every channel).
    notices_to_customer_last_7_days: int = 0
    #: Of ``previous_notices``, when the written ones (SMS, in-app) and the calls were recorded.
    #: None: all previous notices were written (the rules before channels).
    previous_written: tuple[dt.datetime, ...] | None = None
    previous_calls: tuple[dt.datetime, ...] = ()
    #: Call tasks to this borrower's number recorded in the last 7 days are in
    #: ``notices_to_number_last_7_days`` (SMS and calls reach the number; in-app messages do not).


@dataclass(frozen=True)
class NoticeDecision:
    send: bool
    # why (not): first_notice, reminder, care_first_notice, care_reminder, quiet_hours, repaid,
    # rescheduled, disputed, ..., care_cap_per_week
    reason: str
    template: str | None = None
    segment: str | None = None  # the borrower's segment (bot.domain.segments) when one was given
    channel: str = "sms"  # where it goes (CHANNELS); a held decision names the channel it was for
    #: Why the channel is not the segment's own, if it is not (a preference, or a rule kept it).
    channel_note: str | None = None


def _blocked(candidate: NoticeCandidate, policy: NoticePolicy, at: dt.datetime) -> str | None:
    """The rules that hold back every channel alike, in order: quiet hours, then the instalment's state."""
    for blocked, reason in (
        (policy.quiet(at), "quiet_hours"),
        (candidate.paid, "repaid"),
        (candidate.rescheduled, "rescheduled"),
        (candidate.loan_disputed, "disputed"),
        (candidate.number_under_review, "number_under_review"),
    ):
        if blocked:
            return reason
    if (at.date() - candidate.due_date).days < policy.first_notice_days_after_due:
        return "not_due_yet"
    return None


def apply_preferences(
    channel: str, segment: Segment | None, preferences: ContactPreferences | None, policy: NoticePolicy
) -> tuple[str, str | None]:
    """The written notice's channel after the customer's preference: SMS <-> in-app as they asked,
    except for the segments whose notice the policy keeps an SMS. Returns (channel, note)."""
    if preferences is None or preferences.prefer is None or preferences.prefer == channel:
        return channel, None
    if segment is not None and segment.name in policy.sms_kept_for_segments and channel == "sms":
        return "sms", "kept_sms_for_segment"
    return preferences.prefer, f"preferred_{preferences.prefer}"


def decide(
    candidate: NoticeCandidate,
    policy: NoticePolicy,
    at: dt.datetime,
    segment: Segment | None = None,
    preferences: ContactPreferences | None = None,
) -> NoticeDecision:
    """Whether one written notice (SMS or in-app) about this instalment is due at ``at``, and why (not).
    For a customer with an active vulnerability flag the care rule applies on top: the weekly care cap,
    the care text. The borrower's ``segment`` chooses the template and the channel of a notice that is
    due (first or reminder), the customer's ``preferences`` may change the channel (apply_preferences);
    neither changes whether one is due. The caps count every channel."""
    segment_name = segment.name if segment else None
    reason = _blocked(candidate, policy, at)
    if reason:
        return NoticeDecision(False, reason, segment=segment_name)
    written = candidate.previous_written if candidate.previous_written is not None else candidate.previous_notices
    first = not written
    channel = (segment.first_channel if first else segment.reminder_channel) if segment else "sms"
    channel, note = apply_preferences(channel, segment, preferences, policy)

    def held(reason: str) -> NoticeDecision:
        return NoticeDecision(False, reason, segment=segment_name, channel=channel, channel_note=note)

    if len(candidate.previous_notices) >= policy.max_notices_per_instalment:
        return held("cap_per_instalment")
    if written and (at.date() - max(written).date()).days < policy.reminder_every_days:
        return held("cadence")
    if channel in PHONE_CHANNELS and candidate.notices_to_number_last_7_days >= policy.max_notices_per_phone_per_week:
        return held("cap_per_number")
    if candidate.vulnerable:
        if candidate.notices_to_customer_last_7_days >= policy.vulnerable_max_notices_per_week:
            return held("care_cap_per_week")
        reason = "care_first_notice" if first else "care_reminder"
        return NoticeDecision(True, reason, "overdue_care", segment_name, channel, note)
    if candidate.notices_to_customer_last_7_days >= policy.max_notices_per_customer_per_week:
        return held("cap_per_customer")
    if not first:
        template = segment.reminder_template if segment else "overdue_reminder"
        return NoticeDecision(True, "reminder", template, segment_name, channel, note)
    template = segment.first_template if segment else "overdue_first"
    return NoticeDecision(True, "first_notice", template, segment_name, channel, note)


def decide_call(
    candidate: NoticeCandidate,
    policy: NoticePolicy,
    at: dt.datetime,
    segment: Segment | None,
    preferences: ContactPreferences | None = None,
) -> NoticeDecision | None:
    """Whether a call task about this instalment is due at ``at``: None when the borrower's segment
    asks for no call; otherwise the decision, held back with a reason starting ``call_`` or by a rule
    of every channel (quiet hours, the instalment's state). The candidate's counts include a written
    notice this run has just recorded: the caps count every channel.

    A call needs: the instalment at least ``call_min_days_overdue`` days overdue; no active
    vulnerability flag (those customers get the care text, never a call); the customer has not asked
    for no calls; a working day within working hours; at most one call per instalment every
    ``call_every_days``, ``max_calls_per_instalment`` in all; and the shared caps (per instalment, per
    customer per week, per number per week)."""
    if segment is None or not segment.call:
        return None
    segment_name = segment.name

    def held(reason: str) -> NoticeDecision:
        return NoticeDecision(False, reason, segment=segment_name, channel="call")

    reason = _blocked(candidate, policy, at)
    if reason:
        return held(reason)
    if (at.date() - candidate.due_date).days < policy.call_min_days_overdue:
        return held("call_not_long_overdue")
    if candidate.vulnerable:
        return held("call_care_no_calls")
    if preferences is not None and preferences.no_calls:
        return held("call_customer_asked_no_calls")
    # The caps of every channel (a call counts like any notice), then the call's own rules.
    if len(candidate.previous_notices) >= policy.max_notices_per_instalment:
        return held("cap_per_instalment")
    if candidate.notices_to_customer_last_7_days >= policy.max_notices_per_customer_per_week:
        return held("cap_per_customer")
    if candidate.notices_to_number_last_7_days >= policy.max_notices_per_phone_per_week:
        return held("cap_per_number")
    if len(candidate.previous_calls) >= policy.max_calls_per_instalment:
        return held("call_cap_per_instalment")
    if candidate.previous_calls and (at.date() - max(candidate.previous_calls).date()).days < policy.call_every_days:
        return held("call_cadence")
    if not policy.call_time(at):
        return held("call_outside_working_hours")
    return NoticeDecision(True, "call", "call_overdue", segment_name, "call")


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
