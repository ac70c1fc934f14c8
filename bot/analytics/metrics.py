"""Conversation metrics from the stored event stream (pure: rows in, figures out).

A *session* is the run of a conversation's events between two ``session_started`` events (Rasa's
sessions). Every figure is computed for each split: ``all``, ``language=zh``, ``language=en``,
``verified`` and ``anonymous`` (the language of a session is the last value its ``language``
slot took, Chinese when it never took one). The definitions, with their formulas, are in
``docs/analytics.md``; this module is their one implementation.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FALLBACK_INTENTS = frozenset({"nlu_fallback"})
CLOSING_INTENTS = frozenset({"goodbye", "thank"})
SPLITS = ("all", "language=zh", "language=en", "verified", "anonymous")


@dataclass
class Session:
    conversation_id: str
    verified: bool
    started_at: dt.datetime
    last_at: dt.datetime
    language: str = "zh"
    intents: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    paused: bool = False
    asked_for_person: bool = False  # the customer's own request_human led to the pause
    unhonoured_request: bool = False  # request_human not followed by a pause within two turns
    fallback_streak: bool = False  # two misunderstood messages in a row
    forms_started: list[str] = field(default_factory=list)
    forms_submitted: list[str] = field(default_factory=list)
    #: For each form run of the session, in order: the form and the slots it asked for (its steps).
    form_steps: list[tuple[str, list[str]]] = field(default_factory=list)
    form_open_at_end: bool = False

    @property
    def engaged(self) -> bool:
        """The customer wrote at least one message of their own (not only the session start)."""
        return any(i != "session_start" for i in self.intents)

    @property
    def closed_kindly(self) -> bool:
        return any(i in CLOSING_INTENTS for i in self.intents)

    @property
    def ended_in_fallback(self) -> bool:
        """The customer's last message was misunderstood (an NLU fallback)."""
        return bool(self.intents) and self.intents[-1] in FALLBACK_INTENTS

    def abandoned(self, now: dt.datetime, idle: dt.timedelta) -> bool:
        """``abandonment_rate``'s sessions: no escalation and no goodbye or thanks, idle longer than the
        session expiry at ``now``, and the last message misunderstood or a form left open."""
        return (
            not self.paused
            and not self.closed_kindly
            and now - self.last_at > idle
            and (self.form_open_at_end or self.ended_in_fallback)
        )

    def splits(self) -> tuple[str, ...]:
        return ("all", f"language={self.language}", "verified" if self.verified else "anonymous")


def sessions_of(rows: Iterable[Mapping[str, Any]]) -> list[Session]:
    """Group stored events (dicts with conversation_id, verified, event_type, name, value, at) into sessions."""
    by_conversation: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_conversation[str(row["conversation_id"])].append(row)
    sessions: list[Session] = []
    for conversation_id, events in by_conversation.items():
        events.sort(key=lambda r: r["at"])
        current: Session | None = None
        open_form: str | None = None
        waiting_request = -1  # user turns since an unanswered request_human; -1: none pending
        streak = 0
        for row in events:
            kind, name, at = row["event_type"], row.get("name"), row["at"]
            if current is None or kind == "session_started":
                if current is not None:
                    current.form_open_at_end = open_form is not None
                    sessions.append(current)
                current = Session(conversation_id, bool(row.get("verified")), at, at)
                open_form, waiting_request, streak = None, -1, 0
                if kind == "session_started":
                    continue
            current.last_at = max(current.last_at, at)
            if kind == "user":
                intent = str(name or "")
                current.intents.append(intent)
                current.texts.append(str(row.get("text") or ""))
                streak = streak + 1 if intent in FALLBACK_INTENTS else 0
                if streak >= 2:
                    current.fallback_streak = True
                if waiting_request >= 0:
                    waiting_request += 1
                    if waiting_request > 2:
                        current.unhonoured_request, waiting_request = True, -1
                if intent == "request_human" and waiting_request < 0 and not current.paused:
                    waiting_request = 0
            elif kind == "pause":
                current.paused = True
                if waiting_request >= 0:
                    current.asked_for_person = True
                waiting_request = -1
            elif kind == "slot" and name == "language" and row.get("value") in ('"zh"', '"en"', "zh", "en"):
                current.language = str(row["value"]).strip('"')
            elif kind == "slot" and name == "requested_slot" and open_form is not None:
                step = _plain(row.get("value"))
                asked = current.form_steps[-1][1]
                if step and step not in asked:
                    asked.append(step)
            elif kind == "active_loop":
                raw = row.get("name") or row.get("value")  # the loop's name (None when the loop ends)
                form = str(raw).strip('"') if raw not in (None, "null", "") else None
                if form:
                    open_form = form
                    current.forms_started.append(form)
                    current.form_steps.append((form, []))
                elif open_form is not None:
                    if not _cancelled(current):
                        current.forms_submitted.append(open_form)
                    open_form = None
        if current is not None:
            current.form_open_at_end = open_form is not None
            sessions.append(current)
    return sessions


def _plain(value: object) -> str | None:
    """A stored slot value (JSON text, as the store keeps it) as a plain string; None for null/empty."""
    if value in (None, "", "null"):
        return None
    return str(value).strip('"') or None


def _cancelled(session: Session) -> bool:
    return bool(session.intents) and session.intents[-1] in ("deny", "cancel", "stop")


#: The outcome sets a session can be listed by (conversation review): ``escalated`` and ``contained`` are the
#: sessions ``escalation_rate`` and ``containment_rate`` count (every engaged session is exactly one of them);
#: ``abandoned`` are ``abandonment_rate``'s, and ``fallback_ended`` those whose last message was misunderstood.
OUTCOMES = ("escalated", "contained", "abandoned", "fallback_ended")


def outcomes(session: Session, now: dt.datetime, idle: dt.timedelta) -> tuple[str, ...]:
    """The outcome sets of ``OUTCOMES`` an engaged session belongs to (none for one that is not engaged), by the
    same definitions the figures use: escalated or contained, and possibly abandoned and/or fallback-ended."""
    if not session.engaged:
        return ()
    found = ["escalated" if session.paused else "contained"]
    if session.abandoned(now, idle):
        found.append("abandoned")
    if session.ended_in_fallback:
        found.append("fallback_ended")
    return tuple(found)


@dataclass(frozen=True)
class Figure:
    metric: str
    split: str
    value: float


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def conversation_figures(sessions: Sequence[Session], now: dt.datetime, idle: dt.timedelta) -> list[Figure]:
    """The event-stream figures of docs/analytics.md for every split."""
    out: list[Figure] = []
    for split in SPLITS:
        mine = [s for s in sessions if split in s.splits() and s.engaged]
        engaged = len(mine)
        escalated = [s for s in mine if s.paused]
        asked = [s for s in escalated if s.asked_for_person]
        user_messages = sum(len([i for i in s.intents if i != "session_start"]) for s in mine)
        fallbacks = sum(sum(1 for i in s.intents if i in FALLBACK_INTENTS) for s in mine)
        abandoned = [s for s in mine if s.abandoned(now, idle)]
        started = sum(len(s.forms_started) for s in mine)
        submitted = sum(len(s.forms_submitted) for s in mine)
        out += [
            Figure("engaged_sessions", split, engaged),
            Figure("user_messages", split, user_messages),
            Figure("containment_rate", split, _rate(engaged - len(escalated), engaged)),
            Figure("escalation_rate", split, _rate(len(escalated), engaged)),
            Figure("escalation_asked_rate", split, _rate(len(asked), engaged)),
            Figure("escalation_bot_rate", split, _rate(len(escalated) - len(asked), engaged)),
            Figure("fallback_rate", split, _rate(fallbacks, user_messages)),
            Figure("abandonment_rate", split, _rate(len(abandoned), engaged)),
            Figure(
                "doom_loop_rate",
                split,
                _rate(sum(1 for s in mine if s.fallback_streak or s.unhonoured_request), engaged),
            ),
            Figure("forms_started", split, started),
            Figure("forms_submitted", split, submitted),
            Figure("form_completion_rate", split, _rate(submitted, started)),
        ]
    return out


def form_funnels(sessions: Sequence[Session]) -> list[Figure]:
    """Per form: started, each step reached, submitted (split ``form=<name>`` and
    ``form=<name>,step=<slot>``). A step is a slot the form asked for; a run counts once per step
    however often it asked. Steps are listed from the most reached to the least, which is the
    order customers meet them in a form that asks in a fixed order."""
    started: dict[str, int] = defaultdict(int)
    submitted: dict[str, int] = defaultdict(int)
    reached: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    first_seen: dict[str, dict[str, int]] = defaultdict(dict)
    for s in sessions:
        if not s.engaged:
            continue
        for f in s.forms_started:
            started[f] += 1
        for f in s.forms_submitted:
            submitted[f] += 1
        for form, steps in s.form_steps:
            for position, step in enumerate(steps):
                reached[form][step] += 1
                first_seen[form][step] = min(first_seen[form].get(step, position), position)
    out: list[Figure] = []
    for form in sorted(started):
        out.append(Figure("form_started", f"form={form}", started[form]))
        steps = sorted(reached[form], key=lambda k: (-reached[form][k], first_seen[form][k], k))
        out += [Figure("form_step", f"form={form},step={step}", reached[form][step]) for step in steps]
        out.append(Figure("form_submitted", f"form={form}", submitted[form]))
    return out


def top_unrecognised(sessions: Sequence[Session], limit: int = 20) -> list[tuple[str, int]]:
    """The misunderstood messages (already masked), grouped case- and space-insensitively, most frequent first."""
    counts: dict[str, int] = defaultdict(int)
    shown: dict[str, str] = {}
    for s in sessions:
        for intent, text in zip(s.intents, s.texts, strict=False):
            if intent in FALLBACK_INTENTS and text:
                key = " ".join(text.lower().split())
                counts[key] += 1
                shown.setdefault(key, text)
    return [(shown[k], n) for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(sorted(values), n=100, method="inclusive")[int(q) - 1])
