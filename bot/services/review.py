"""Conversation review (issue 18): supervisors list conversation sessions by outcome, intent, confidence,
language, verified or anonymous and date, read one (masked), tag it, and mark a user message with the
intent it should have had; the marks are exported as Rasa NLU training data for a designer to add.

What is reviewed is the stored event stream (``analytics_events``), cut into sessions exactly as the
metrics cut it (``sessions_of`` in bot/analytics/metrics.py), and a session's outcomes are the metrics'
own (``outcomes`` there: escalated or contained, and possibly abandoned and/or fallback-ended). Only
engaged sessions are listed (the ones the figures count), newest first; a session is listed on the
bank-local day it started and judged on all its events.

A session is named by a key, ``<conversation id>@<start>``, where the start is the instant of its first
stored event (ISO, UTC as stored). Tags belong to that key; a tag whose start no longer opens a session
(an earlier event of the session was stored afterwards, by a reconcile) is shown on the session that
contains it. Marks belong to the message's own event (``event_key``). Only supervisors may do any of it,
and every tag, untag, mark, unmark and export is written to the audit log.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import math
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.analytics.metrics import OUTCOMES, Session, outcomes, sessions_of
from bot.domain.errors import RecordsUnavailable
from bot.domain.model import ReviewMark, ReviewTag
from bot.domain.review import ReviewRefused, is_button_press, nlu_yaml, normalise_tag, shown_text, training_example
from bot.services.staff import Staff, StaffError, audit_in
from bot.settings import REPO_ROOT
from bot.unit_of_work import UowFactory

#: A session never lasts a day (60 idle minutes end it, and the daily message cap forces such a gap), so
#: the events of the sessions that start in a period lie within a day either side of it.
MARGIN = dt.timedelta(days=1)
MAX_TAGS_PER_SESSION = 12
LANGUAGES = ("zh", "en")
WHO = ("verified", "anonymous")
INTENT_NAME = re.compile(r"^[A-Za-z0-9_]{1,80}$")
PREVIEW_CHARS = 80


# --- what the review shows --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewFilter:
    """Which sessions to list: those that started on the bank-local days ``since``..``until`` and match
    every filter given (None: any)."""

    since: dt.date
    until: dt.date
    outcome: str | None = None
    intent: str | None = None  # some user message had this intent
    below: float | None = None  # some user message had a confidence below this
    language: str | None = None
    verified: bool | None = None
    tag: str | None = None
    page: int = 1
    per_page: int = 25

    def params(self, page: int | None = None) -> dict[str, str]:
        """The filter as the console's query string (``parse_filter`` reads it back)."""
        out = {"since": self.since.isoformat(), "until": self.until.isoformat()}
        optional = {
            "outcome": self.outcome,
            "intent": self.intent,
            "below": None if self.below is None else f"{self.below:g}",
            "language": self.language,
            "who": None if self.verified is None else ("verified" if self.verified else "anonymous"),
            "tag": self.tag,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        out["page"] = str(page if page is not None else self.page)
        return out


@dataclass(frozen=True)
class TagView:
    tag: str
    created_by: str
    created_at: dt.datetime  # bank-local
    key: str  # the session key the tag was given under (the untag form names it)


@dataclass(frozen=True)
class MarkView:
    intent: str
    marked_by: str
    marked_at: dt.datetime  # bank-local


@dataclass(frozen=True)
class SessionSummary:
    key: str
    conversation_id: str
    verified: bool
    language: str
    started_at: dt.datetime  # bank-local
    last_at: dt.datetime  # bank-local
    outcomes: tuple[str, ...]
    user_messages: int
    lowest_confidence: float | None
    intents: tuple[str, ...]  # in the order they first came
    preview: str  # the first message the customer typed, masked
    tags: tuple[TagView, ...]
    marks: int = 0


@dataclass(frozen=True)
class SessionPage:
    filter: ReviewFilter
    items: tuple[SessionSummary, ...]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class Turn:
    """One line of a session as the reviewer reads it. ``kind``: user | bot | pause | resume | form_start |
    form_end. Texts are masked (secrets and phone numbers)."""

    kind: str
    at: dt.datetime  # bank-local
    text: str = ""
    name: str | None = None  # user: the intent recognised; form_start: the form
    confidence: float | None = None
    event_key: str | None = None
    button: bool = False  # a button press (a payload), not words: it cannot be marked
    mark: MarkView | None = None


@dataclass(frozen=True)
class SessionDetail:
    summary: SessionSummary
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class TrainingExport:
    """The marks of a period as Rasa NLU training data, with what was left out and why."""

    yaml: str
    examples: int
    intents: int
    marks: int
    conflicts: tuple[str, ...] = ()  # texts marked with different intents (the latest mark was kept)
    unknown_intents: tuple[str, ...] = ()  # marked intents the domain no longer has (left out)
    not_examples: int = 0  # marks whose text is no example (left out)
    by_intent: dict[str, int] = field(default_factory=dict)


# --- pure helpers ---------------------------------------------------------------------------------------


def session_key(conversation_id: str, started_at: dt.datetime) -> str:
    """The name of a session: its conversation and the instant (UTC, as stored) of its first event."""
    return f"{conversation_id}@{started_at.isoformat(timespec='microseconds')}"


def parse_key(key: str) -> tuple[str, dt.datetime]:
    """The conversation and start of a session key; ``ReviewRefused("no_such_session")`` for anything else."""
    conversation_id, _, start = key.rpartition("@")
    try:
        started_at = dt.datetime.fromisoformat(start)
    except ValueError:
        raise ReviewRefused("no_such_session") from None
    if not conversation_id or len(conversation_id) > 80 or started_at.tzinfo is not None:
        raise ReviewRefused("no_such_session")
    return conversation_id, started_at


def parse_filter(params: Mapping[str, str], today: dt.date, max_days: int, per_page: int) -> ReviewFilter:
    """The console's filter form as a ``ReviewFilter``: by default the last 7 bank-local days up to today;
    ``ReviewRefused`` with the first problem found (bad_date, dates_reversed, range_too_long, bad_outcome,
    bad_intent, bad_threshold, bad_language, bad_who, a tag's code, bad_page)."""

    def given(name: str) -> str | None:
        value = (params.get(name) or "").strip()
        return value or None

    try:
        until = dt.date.fromisoformat(given("until") or today.isoformat())
        since = dt.date.fromisoformat(given("since") or (until - dt.timedelta(days=6)).isoformat())
    except ValueError:
        raise ReviewRefused("bad_date") from None
    if until < since:
        raise ReviewRefused("dates_reversed")
    if (until - since).days + 1 > max_days:
        raise ReviewRefused("range_too_long")
    outcome = given("outcome")
    if outcome is not None and outcome not in OUTCOMES:
        raise ReviewRefused("bad_outcome")
    intent = given("intent")
    if intent is not None and not INTENT_NAME.match(intent):
        raise ReviewRefused("bad_intent")
    below = None
    if given("below") is not None:
        try:
            below = float(str(given("below")).replace(",", "."))
        except ValueError:
            raise ReviewRefused("bad_threshold") from None
        if not (math.isfinite(below) and 0 < below <= 1):
            raise ReviewRefused("bad_threshold")
    language = given("language")
    if language is not None and language not in LANGUAGES:
        raise ReviewRefused("bad_language")
    who = given("who")
    if who is not None and who not in WHO:
        raise ReviewRefused("bad_who")
    tag = given("tag")
    page_text = given("page") or "1"
    if not page_text.isdigit() or not 1 <= int(page_text) <= 100_000:
        raise ReviewRefused("bad_page")
    return ReviewFilter(
        since, until, outcome, intent, below, language,
        None if who is None else who == "verified",
        normalise_tag(tag) if tag is not None else None,
        int(page_text), per_page,
    )  # fmt: skip


def domain_files(path: Path) -> list[Path]:
    """The YAML files of the domain at ``path`` (a file, or a directory tree as Rasa walks it)."""
    if path.is_file():
        return [path]
    return sorted(
        Path(root) / name
        for root, _, names in os.walk(path, followlinks=True)
        for name in names
        if Path(name).suffix in (".yml", ".yaml")
    )


def resolve_domain(configured: Path) -> Path:
    """The domain path of the settings (DOMAIN_PATH): as given when it is absolute or exists from here, else
    from the repository root (where the servers are started)."""
    return configured if configured.is_absolute() or configured.exists() else REPO_ROOT / configured


@lru_cache(maxsize=4)
def domain_intents(path: Path) -> tuple[str, ...]:
    """The intents the domain at ``path`` declares (out_of_scope included), sorted: the only intents a
    message can be marked with."""
    found: set[str] = set()
    for file in domain_files(path):
        part = yaml.safe_load(file.read_text(encoding="utf-8"))
        if isinstance(part, dict):
            for item in part.get("intents") or ():
                # An intent with properties is a one-key mapping ({name: {use_entities: ...}}).
                found.add(sorted(item)[0] if isinstance(item, dict) else str(item))
    if not found:
        raise ValueError(f"no intents in the domain at {path}")
    return tuple(sorted(found))


def _utc_bounds(since: dt.date, until: dt.date, zone: str) -> tuple[dt.datetime, dt.datetime]:
    """The bank-local days since..until (both included) as naive UTC instants [start, end)."""
    tz = ZoneInfo(zone)
    start = dt.datetime.combine(since, dt.time()).replace(tzinfo=tz)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time()).replace(tzinfo=tz)
    return tuple(t.astimezone(dt.timezone.utc).replace(tzinfo=None) for t in (start, end))  # type: ignore[return-value]


def _local(at: dt.datetime, zone: str) -> dt.datetime:
    return at.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def _supervisor(staff: Staff) -> None:
    if not staff.supervisor:
        raise StaffError("supervisors only")


def _words(row: Mapping[str, Any]) -> bool:
    """A user message the customer typed (not the session start, not a button press)."""
    return row.get("name") != "session_start" and not is_button_press(str(row.get("text") or ""))


@dataclass
class _Grouped:
    """The sessions of some conversations with their own stored events (the metrics' sessions)."""

    found: list[Session]
    rows: dict[int, list[dict[str, Any]]]  # id(session) -> its events in order
    starts: dict[str, list[dt.datetime]]  # conversation -> its sessions' starts, ascending
    by_start: dict[str, list[Session]]

    @classmethod
    def of(cls, rows: list[dict[str, Any]]) -> _Grouped:
        sessions = sessions_of(rows)
        by_start: dict[str, list[Session]] = defaultdict(list)
        for s in sessions:
            by_start[s.conversation_id].append(s)
        for found in by_start.values():
            found.sort(key=lambda s: s.started_at)
        starts = {c: [s.started_at for s in found] for c, found in by_start.items()}
        grouped = cls(sessions, {id(s): [] for s in sessions}, starts, by_start)
        for row in rows:
            owner = grouped.containing(str(row["conversation_id"]), row["at"])
            if owner is not None:
                grouped.rows[id(owner)].append(row)
        for events in grouped.rows.values():
            events.sort(key=lambda r: (r["at"], r.get("id") or 0))
        return grouped

    def containing(self, conversation_id: str, at: dt.datetime) -> Session | None:
        """The session of the conversation that had begun at ``at`` (the latest to start at or before it)."""
        k = bisect.bisect_right(self.starts.get(conversation_id, []), at) - 1
        return self.by_start[conversation_id][k] if k >= 0 else None


def _tag_views(grouped: _Grouped, tags: Iterable[ReviewTag]) -> dict[int, list[TagView]]:
    out: dict[int, list[TagView]] = defaultdict(list)
    for t in tags:
        owner = grouped.containing(t.conversation_id, t.started_at)
        if owner is not None and t.started_at <= owner.last_at:
            key = session_key(t.conversation_id, t.started_at)
            out[id(owner)].append(TagView(t.tag, t.created_by, t.created_at, key))
    return out


def _summary(
    s: Session, rows: Sequence[Mapping[str, Any]], tags: Sequence[TagView], zone: str, now: dt.datetime,
    idle: dt.timedelta, marks: int = 0,
) -> SessionSummary:  # fmt: skip
    said = [r for r in rows if r["event_type"] == "user" and r.get("name") != "session_start"]
    confidences = [float(r["intent_confidence"]) for r in said if r.get("intent_confidence") is not None]
    intents = tuple(dict.fromkeys(str(r.get("name") or "") for r in said))
    typed = next((shown_text(r.get("text")) for r in said if _words(r)), "")
    return SessionSummary(
        key=session_key(s.conversation_id, s.started_at),
        conversation_id=s.conversation_id,
        verified=s.verified,
        language=s.language,
        started_at=_local(s.started_at, zone),
        last_at=_local(s.last_at, zone),
        outcomes=outcomes(s, now, idle),
        user_messages=len(said),
        lowest_confidence=min(confidences) if confidences else None,
        intents=intents,
        preview=typed if len(typed) <= PREVIEW_CHARS else typed[: PREVIEW_CHARS - 1] + "…",
        tags=tuple(sorted(tags, key=lambda t: t.tag)),
        marks=marks,
    )


def _matches(f: ReviewFilter, s: Session, rows: Sequence[Mapping[str, Any]], summary: SessionSummary) -> bool:
    said = [r for r in rows if r["event_type"] == "user" and r.get("name") != "session_start"]
    return (
        (f.outcome is None or f.outcome in summary.outcomes)
        and (f.language is None or s.language == f.language)
        and (f.verified is None or s.verified == f.verified)
        and (f.intent is None or any(r.get("name") == f.intent for r in said))
        and (
            f.below is None
            or any(r.get("intent_confidence") is not None and float(r["intent_confidence"]) < f.below for r in said)
        )
        and (f.tag is None or any(t.tag == f.tag for t in summary.tags))
    )


# --- use cases --------------------------------------------------------------------------------------------


def list_sessions(
    uow_factory: UowFactory, f: ReviewFilter, zone: str, now_utc: dt.datetime, idle: dt.timedelta
) -> SessionPage:
    """The engaged sessions that started on the filter's bank-local days and match it, newest first, one
    page of them. ``now_utc`` (naive UTC) and ``idle`` (the session expiry) decide abandonment, as in the
    report."""
    utc_start, utc_end = _utc_bounds(f.since, f.until, zone)
    try:
        with uow_factory() as uow:
            # Narrow to the conversations that can match before reading their events.
            candidates: set[str] | None = None
            if f.intent is not None or f.below is not None:
                candidates = uow.review.conversations_with(utc_start, utc_end + MARGIN, f.intent, f.below)
            if f.tag is not None:
                tagged = uow.review.tagged(f.tag, utc_start - MARGIN, utc_end + MARGIN)
                candidates = tagged if candidates is None else candidates & tagged
            if candidates is not None and not candidates:
                return SessionPage(f, (), 0, 1, 1)
            rows = uow.review.events_between(
                utc_start - MARGIN, utc_end + MARGIN, None if candidates is None else sorted(candidates), f.verified
            )
            grouped = _Grouped.of(rows)
            started = [s for s in grouped.found if s.engaged and utc_start <= s.started_at < utc_end]
            tags = _tag_views(grouped, uow.review.tags_of({s.conversation_id for s in started}))
            found = []
            for s in started:
                summary = _summary(s, grouped.rows[id(s)], tags.get(id(s), []), zone, now_utc, idle)
                if _matches(f, s, grouped.rows[id(s)], summary):
                    found.append((s, summary))
            found.sort(key=lambda pair: (pair[0].started_at, pair[0].conversation_id), reverse=True)
            pages = max(1, math.ceil(len(found) / f.per_page))
            page = min(f.page, pages)
            shown = found[(page - 1) * f.per_page : page * f.per_page]
            keys = {
                str(r["event_key"]): id(s) for s, _ in shown for r in grouped.rows[id(s)] if r["event_type"] == "user"
            }
            marked: dict[int, int] = defaultdict(int)
            for m in uow.review.marks_of(keys):
                marked[keys[m.event_key]] += 1
            items = tuple(dataclasses.replace(summary, marks=marked.get(id(s), 0)) for s, summary in shown)
            return SessionPage(f, items, len(found), page, pages)
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def session_detail(
    uow_factory: UowFactory, key: str, zone: str, now_utc: dt.datetime, idle: dt.timedelta
) -> SessionDetail:
    """One session as stored: the customer's messages (masked) with the intent and confidence recognised
    and any mark, the bot's replies, hand-overs and forms; ``ReviewRefused("no_such_session")`` if the key
    names no session."""
    conversation_id, start = parse_key(key)
    try:
        with uow_factory() as uow:
            rows = uow.review.events_between(start - MARGIN, start + MARGIN, [conversation_id], None)
            grouped = _Grouped.of(rows)
            s = grouped.containing(conversation_id, start)
            if s is None or start > s.last_at:
                raise ReviewRefused("no_such_session")
            mine = grouped.rows[id(s)]
            tags = _tag_views(grouped, uow.review.tags_of([conversation_id])).get(id(s), [])
            marks = {
                m.event_key: MarkView(m.intent, m.marked_by, m.marked_at)
                for m in uow.review.marks_of(str(r["event_key"]) for r in mine if r["event_type"] == "user")
            }
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc
    turns = []
    for r in mine:
        at, kind = _local(r["at"], zone), r["event_type"]
        if kind == "user" and r.get("name") != "session_start":
            text = str(r.get("text") or "")
            turns.append(
                Turn(
                    "user",
                    at,
                    shown_text(text),
                    r.get("name"),
                    r.get("intent_confidence"),
                    str(r["event_key"]),
                    button=not _words(r),
                    mark=marks.get(str(r["event_key"])),
                )  # fmt: skip
            )
        elif kind == "bot":
            turns.append(Turn("bot", at, shown_text(r.get("text"))))
        elif kind in ("pause", "resume"):
            turns.append(Turn(kind, at))
        elif kind == "active_loop":
            raw = r.get("name") or r.get("value")
            form = str(raw).strip('"') if raw not in (None, "null", "") else None
            turns.append(Turn("form_start", at, name=form) if form else Turn("form_end", at))
    summary = _summary(s, mine, tags, zone, now_utc, idle, marks=len(marks))
    return SessionDetail(summary, tuple(turns))


def tag_session(uow_factory: UowFactory, staff: Staff, key: str, text: str, now: dt.datetime) -> str:
    """Give a session a tag (``normalise_tag``'s rule); returns the tag as stored. ReviewRefused: the tag's
    own codes, no_such_session, tag_exists, too_many_tags."""
    _supervisor(staff)
    tag = normalise_tag(text)
    conversation_id, start = parse_key(key)
    try:
        with uow_factory() as uow:
            if not uow.review.has_event_at(conversation_id, start):
                raise ReviewRefused("no_such_session")
            present = [t.tag for t in uow.review.tags_of([conversation_id]) if t.started_at == start]
            if tag in present:
                raise ReviewRefused("tag_exists")
            if len(present) >= MAX_TAGS_PER_SESSION:
                raise ReviewRefused("too_many_tags")
            uow.review.add_tag(
                ReviewTag(
                    conversation_id=conversation_id,
                    started_at=start,
                    tag=tag,
                    created_by=staff.username,
                    created_at=now,
                )  # fmt: skip
            )
            audit_in(uow, staff.username, "review_tag", now, None, session=key, tag=tag)
            uow.commit()
            return tag
    except IntegrityError:
        raise ReviewRefused("tag_exists") from None  # the same tag, added at the same moment by someone else
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def untag_session(uow_factory: UowFactory, staff: Staff, key: str, tag: str, now: dt.datetime) -> None:
    """Take a tag off the session it was given under (``key``); ReviewRefused("no_such_tag") if it has none."""
    _supervisor(staff)
    conversation_id, start = parse_key(key)
    try:
        with uow_factory() as uow:
            found = uow.review.tag(conversation_id, start, tag.strip())
            if found is None:
                raise ReviewRefused("no_such_tag")
            uow.review.remove(found)
            audit_in(uow, staff.username, "review_untag", now, None, session=key, tag=found.tag)
            uow.commit()
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def mark_message(
    uow_factory: UowFactory, staff: Staff, key: str, event_key: str, intent: str, known_intents: Iterable[str],
    now: dt.datetime,
) -> MarkView:  # fmt: skip
    """Record the intent a user message of the session should have had (one of the domain's intents); a
    second mark changes it. ReviewRefused: unknown_intent, no_such_message, not_words (a button press)."""
    _supervisor(staff)
    if intent not in set(known_intents):
        raise ReviewRefused("unknown_intent")
    conversation_id, start = parse_key(key)
    try:
        return _mark(uow_factory, staff, key, conversation_id, start, event_key, intent, now)
    except IntegrityError:
        # Someone marked it first at the same moment: this mark changes theirs.
        return _mark(uow_factory, staff, key, conversation_id, start, event_key, intent, now)
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def _mark(
    uow_factory: UowFactory, staff: Staff, key: str, conversation_id: str, start: dt.datetime, event_key: str,
    intent: str, now: dt.datetime,
) -> MarkView:  # fmt: skip
    with uow_factory() as uow:
        event = uow.review.event(event_key)
        if (
            event is None
            or event["event_type"] != "user"
            or event["conversation_id"] != conversation_id
            or not start <= event["at"] < start + MARGIN
        ):
            raise ReviewRefused("no_such_message")
        text = shown_text(event.get("text"))
        if event.get("name") == "session_start" or training_example(text) is None:
            raise ReviewRefused("not_words")
        mark = uow.review.mark(event_key)
        previous = mark.intent if mark is not None else None
        if mark is None:
            mark = ReviewMark(
                event_key=event_key, conversation_id=conversation_id, started_at=start, message_at=event["at"],
                text=text, predicted_intent=event.get("name"), confidence=event.get("intent_confidence"),
                intent=intent, marked_by=staff.username, marked_at=now,
            )  # fmt: skip
            uow.review.add_mark(mark)
        elif previous == intent:
            return MarkView(mark.intent, mark.marked_by, mark.marked_at)  # nothing changes
        else:
            mark.intent, mark.marked_by, mark.marked_at = intent, staff.username, now
        audit_in(
            uow, staff.username, "review_mark", now, None,
            session=key, event_key=event_key, intent=intent, previous=previous, predicted=event.get("name"),
        )  # fmt: skip
        view = MarkView(mark.intent, mark.marked_by, mark.marked_at)
        uow.commit()
        return view


def unmark_message(uow_factory: UowFactory, staff: Staff, key: str, event_key: str, now: dt.datetime) -> str:
    """Clear a message's mark; returns the intent it had. ReviewRefused("not_marked") if it has none."""
    _supervisor(staff)
    conversation_id, _ = parse_key(key)
    try:
        with uow_factory() as uow:
            mark = uow.review.mark(event_key)
            if mark is None or mark.conversation_id != conversation_id:
                raise ReviewRefused("not_marked")
            previous = mark.intent
            uow.review.remove(mark)
            audit_in(
                uow, staff.username, "review_unmark", now, None, session=key, event_key=event_key, previous=previous
            )
            uow.commit()
            return previous
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def export_training_data(
    uow_factory: UowFactory, known_intents: Iterable[str], since: dt.date | None, until: dt.date | None,
    username: str, now: dt.datetime,
) -> TrainingExport:  # fmt: skip
    """The messages marked on the bank-local days since..until (open bounds: all) as Rasa NLU training
    data: one example per text, under the intent of its latest mark when two marks disagree; marks with an
    intent the domain no longer has, or whose text is no example, are left out and counted. The export is
    audited (who, the period, how many)."""
    known = set(known_intents)
    start = dt.datetime.combine(since, dt.time()) if since is not None else None
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time()) if until is not None else None
    try:
        with uow_factory() as uow:
            marks = [(m.text, m.intent) for m in uow.review.marks_between(start, end)]  # oldest first
            latest: dict[str, str] = {}
            seen: dict[str, set[str]] = defaultdict(set)
            unknown: set[str] = set()
            not_examples = 0
            for text, intent in marks:
                example = training_example(text)
                if intent not in known:
                    unknown.add(intent)
                elif example is None:
                    not_examples += 1
                else:
                    latest[example] = intent  # a later mark of the same text wins
                    seen[example].add(intent)
            by_intent: dict[str, list[str]] = defaultdict(list)
            for example, intent in latest.items():
                by_intent[intent].append(example)
            period = f"{since.isoformat() if since else '…'} – {until.isoformat() if until else '…'}"
            text = nlu_yaml(
                by_intent,
                [
                    f"Marked in the console's conversation review, {period} (bank days); exported {now:%Y-%m-%d %H:%M}.",
                    f"{len(latest)} examples from {len(marks)} marks. Review before adding to data/nlu/.",
                ],
            )
            conflicts = tuple(sorted(t for t, intents in seen.items() if len(intents) > 1))
            audit_in(
                uow, username, "review_export", now, None,
                since=since.isoformat() if since else None, until=until.isoformat() if until else None,
                marks=len(marks), examples=len(latest), conflicts=len(conflicts), unknown=sorted(unknown),
            )  # fmt: skip
            uow.commit()
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc
    return TrainingExport(
        text, len(latest), len(by_intent), len(marks), conflicts, tuple(sorted(unknown)), not_examples,
        {intent: len(examples) for intent, examples in sorted(by_intent.items())},
    )  # fmt: skip
