"""Which segment an overdue borrower is in, and why: a transparent, ordered rule set (pure).

The rules live in ``config/notice_segments.yml`` and are read top to bottom; the first segment whose
conditions all hold is the borrower's. The facts come from the borrower's own records only
(``SegmentFacts``), so a person can check every placement by hand, and the reason names the facts
that placed them. A segment chooses the notice template (its tone) and the channels (the written
notice's, SMS or in-app, and whether a call task is added) and nothing else: the caps, the cadence and
the quiet hours of the notice policy apply to every segment and channel alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: Condition name -> (fact it reads, how it compares).
CONDITIONS = {
    "hardship": ("hardship", "is"),
    "on_plan": ("on_plan", "is"),
    "days_overdue_at_least": ("days_overdue", ">="),
    "days_overdue_at_most": ("days_overdue", "<="),
    "paid_late_before_at_least": ("paid_late_before", ">="),
    "paid_late_before_at_most": ("paid_late_before", "<="),
    "overdue_instalments_at_most": ("overdue_instalments", "<="),
}
LANGUAGES = ("zh", "en")
#: Channels of a written notice (bot.domain.notices.WRITTEN_CHANNELS; kept here so this module stands alone).
WRITTEN = ("sms", "in_app")


class SegmentConfigError(ValueError):
    """notice_segments.yml says something the rules cannot apply."""


@dataclass(frozen=True)
class SegmentFacts:
    """What the rules know of one overdue instalment's borrower, from their own records."""

    days_overdue: int
    paid_late_before: int  # earlier instalments (any of their loans) paid after their due date
    on_plan: bool  # the instalment was created by an approved extension or plan
    hardship: bool  # an active vulnerability flag the borrower consented to
    overdue_instalments: int = 1  # their instalments overdue now, this one included (any loan)


@dataclass(frozen=True)
class Segment:
    name: str
    when: Mapping[str, Any]
    first_template: str
    reminder_template: str
    reason: Mapping[str, str] = field(default_factory=dict)
    first_channel: str = "sms"  # the first notice's channel: sms | in_app
    reminder_channel: str = "sms"  # the reminders' channel
    call: bool = False  # a call task as well, when the call rules allow (bot.domain.notices.decide_call)

    def channels(self) -> str:
        """The channels in words for people (explain): e.g. "in_app first, then sms; plus a call"."""
        written = (
            self.first_channel
            if self.first_channel == self.reminder_channel
            else f"{self.first_channel} first, then {self.reminder_channel}"
        )
        return written + ("; plus a call" if self.call else "")

    def matches(self, facts: SegmentFacts) -> bool:
        for condition, wanted in self.when.items():
            fact, how = CONDITIONS[condition]
            value = getattr(facts, fact)
            if how == "is" and bool(value) != bool(wanted):
                return False
            if how == ">=" and value < wanted:
                return False
            if how == "<=" and value > wanted:
                return False
        return True

    def why(self, facts: SegmentFacts, language: str) -> str:
        text = self.reason.get(language) or self.reason["zh"]
        return text.format(days=facts.days_overdue, paid_late=facts.paid_late_before, overdue=facts.overdue_instalments)


@dataclass(frozen=True)
class SegmentRules:
    segments: tuple[Segment, ...]

    @classmethod
    def from_file(cls, path: Path, templates: Mapping[str, Any] | None = None) -> SegmentRules:
        return cls.from_dict(yaml.safe_load(path.read_text(encoding="utf-8")), templates)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], templates: Mapping[str, Any] | None = None) -> SegmentRules:
        """Check and read the rules; SegmentConfigError naming the segment and what is wrong."""
        entries = raw.get("segments") if isinstance(raw, Mapping) else None
        if not isinstance(entries, list) or not entries:
            raise SegmentConfigError("notice_segments.yml needs a non-empty list 'segments'")
        segments = []
        for entry in entries:
            name = str(entry.get("name") or "?")
            when = entry.get("when") or {}
            if not isinstance(when, Mapping):
                raise SegmentConfigError(f"segment {name}: 'when' must be a mapping")
            for condition, value in when.items():
                if condition not in CONDITIONS:
                    raise SegmentConfigError(f"segment {name}: unknown condition {condition!r}")
                if CONDITIONS[condition][1] != "is" and (not isinstance(value, int) or isinstance(value, bool)):
                    raise SegmentConfigError(f"segment {name}: {condition} must be a whole number")
            reason = entry.get("reason") or {}
            if set(reason) != set(LANGUAGES):
                raise SegmentConfigError(f"segment {name}: the reason must be given in zh and en")
            for key in ("first_channel", "reminder_channel"):
                if entry.get(key, "sms") not in WRITTEN:
                    raise SegmentConfigError(f"segment {name}: {key} must be one of {', '.join(WRITTEN)}")
            if not isinstance(entry.get("call", False), bool):
                raise SegmentConfigError(f"segment {name}: call must be true or false")
            segment = Segment(
                name=name,
                when=dict(when),
                first_template=str(entry.get("first_template")),
                reminder_template=str(entry.get("reminder_template")),
                reason={k: str(v) for k, v in reason.items()},
                first_channel=str(entry.get("first_channel", "sms")),
                reminder_channel=str(entry.get("reminder_channel", "sms")),
                call=bool(entry.get("call", False)),
            )
            if templates is not None:
                for template in (segment.first_template, segment.reminder_template):
                    if template not in templates:
                        raise SegmentConfigError(f"segment {name}: no notice template {template!r}")
            segments.append(segment)
        if segments[-1].when:
            raise SegmentConfigError("the last segment must have no conditions, so that everyone has one")
        names = [s.name for s in segments]
        if len(set(names)) != len(names):
            raise SegmentConfigError("segment names must be unique")
        return cls(tuple(segments))

    def place(self, facts: SegmentFacts) -> Segment:
        """The first segment whose conditions all hold (the last one has none)."""
        return next(s for s in self.segments if s.matches(facts))
