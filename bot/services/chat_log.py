"""The chat as the customer sees it: numbered lines grouped into sessions, and satisfaction ratings.

Every line the customer's page shows is stored here when it happens: what the customer wrote
(masked; a button's title instead of its payload), the bot's replies, agent messages, status
changes (queued for a person, agent joined, back to the assistant, chat ended) and the bank's
in-app notices (kind ``notice``: an overdue reminder or a correction the notice engine delivered
into a verified customer's own chat). A line's ``seq``
is its number within the conversation, given in commit order: writers of one conversation take turns
(an advisory lock on PostgreSQL; SQLite has one writer at a time) and one that still loses the
race for a number retries with the next, so a page that has seen line n and asks for the lines after n
never misses one or sees one twice, whichever process wrote it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import yaml
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.domain.errors import RecordsUnavailable
from bot.domain.model import ChatEntry, ChatRating
from bot.settings import get_settings
from bot.unit_of_work import UnitOfWork, UowFactory

logger = logging.getLogger(__name__)

KINDS = ("user", "bot", "agent", "status", "notice")
STATUSES = ("queued", "agent_joined", "bot_back", "ended")
SEQ_RETRIES = 10


@dataclass(frozen=True)
class ChatSettings:
    idle_minutes: int  # config key session_idle_minutes
    history_lines: int
    stream_seconds: int
    poll_seconds_embedded: float
    poll_seconds_redis: float
    max_streams_per_conversation: int


@lru_cache(maxsize=1)
def chat_settings() -> ChatSettings:
    raw = yaml.safe_load(get_settings().config_file("chat.yml").read_text(encoding="utf-8"))
    return ChatSettings(
        int(raw["session_idle_minutes"]),
        int(raw["history_lines"]),
        int(raw["stream_seconds"]),
        float(raw["poll_seconds_embedded"]),
        float(raw["poll_seconds_redis"]),
        int(raw["max_streams_per_conversation"]),
    )


def idle_minutes() -> int:
    """Minutes of silence after which a customer's message opens a new chat session."""
    return chat_settings().idle_minutes


@dataclass(frozen=True)
class Line:
    """A line to add: ``kind`` user | bot | agent | status | notice; status lines carry ``status`` and a
    detail in ``text``."""

    kind: str
    text: str = ""
    buttons: Sequence[dict[str, str]] = field(default_factory=tuple)
    status: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown chat line kind {self.kind!r}")
        if (self.kind == "status") != (self.status in STATUSES):
            raise ValueError("status lines, and only they, carry one of " + ", ".join(STATUSES))


@dataclass(frozen=True)
class ChatLine:
    seq: int
    chat_session: int
    kind: str
    text: str
    buttons: tuple[dict[str, str], ...]
    status: str | None
    at: dt.datetime

    def payload(self) -> dict[str, Any]:
        """The line as the page receives it; ``at`` and ``time`` are the bank's local time."""
        out: dict[str, Any] = {
            "seq": self.seq,
            "session": self.chat_session,
            "kind": self.kind,
            "text": self.text,
            "at": self.at.isoformat(timespec="seconds"),
            "time": self.at.strftime("%H:%M"),
        }
        if self.buttons:
            out["buttons"] = [dict(b) for b in self.buttons]
        if self.status:
            out["status"] = self.status
        return out

    @classmethod
    def of(cls, e: ChatEntry) -> ChatLine:
        buttons = tuple(json.loads(e.buttons)) if e.buttons else ()
        return cls(e.seq, e.chat_session, e.kind, e.text, buttons, e.status, e.created_at)


_view = ChatLine.of


def waiting_for_person(uow: UnitOfWork, conversation_id: str) -> bool:
    """Whether the latest hand-over line of the current session is "queued" (no agent has joined yet)."""
    uow.chat.lock_conversation(conversation_id)  # two agents writing at once: one "joined" line
    last = uow.chat.last(conversation_id)
    if last is None:
        return False
    for entry in reversed(uow.chat.of_session(conversation_id, last.chat_session, chat_settings().history_lines)):
        if entry.status in ("queued", "agent_joined", "bot_back", "ended"):
            return entry.status == "queued"
    return False


def _shown_as(uow: UnitOfWork, conversation_id: str, last: ChatEntry | None, text: str) -> str:
    """What the customer's message is shown as: the title of the button it is the payload of, if any
    (among the bot's lines since the customer last wrote), else the text itself."""
    if last is None or not text.startswith("/"):
        return text
    for entry in reversed(uow.chat.of_session(conversation_id, last.chat_session, 20)):
        if entry.kind == "user":
            break
        for button in json.loads(entry.buttons) if entry.buttons else ():
            if button.get("payload") == text and button.get("title"):
                return str(button["title"])
    return text


def append_in(uow: UnitOfWork, conversation_id: str, lines: Sequence[Line], now: dt.datetime) -> list[ChatEntry]:
    """Add lines inside the caller's unit of work (numbered after the conversation's last line).

    A customer line or a bank notice after an ended chat or after ``session_idle_minutes`` of
    silence opens the next session (so the reopened page shows the notice); every other line belongs
    to the current one (an agent's reply the next morning still belongs to the chat that asked for it).
    """
    idle = dt.timedelta(minutes=idle_minutes())
    uow.chat.lock_conversation(conversation_id)
    last = uow.chat.last(conversation_id)
    added = []
    for line in lines:
        seq, session = (last.seq + 1, last.chat_session) if last else (1, 1)
        if last and line.kind in ("user", "notice") and (last.status == "ended" or now - last.created_at > idle):
            session += 1
        text = _shown_as(uow, conversation_id, last, line.text) if line.kind == "user" else line.text
        entry = ChatEntry(
            conversation_id=conversation_id,
            seq=seq,
            chat_session=session,
            kind=line.kind,
            text=text,
            buttons=json.dumps(
                [{"title": b["title"], "payload": b["payload"]} for b in line.buttons], ensure_ascii=False
            )
            if line.buttons
            else None,
            status=line.status,
            created_at=now,
        )
        uow.chat.add(entry)
        added.append(entry)
        last = entry
    return added


def append(uow_factory: UowFactory, conversation_id: str, lines: Sequence[Line], now: dt.datetime) -> list[ChatLine]:
    """Store lines in one transaction; returns them numbered. RecordsUnavailable if the database fails."""
    if not lines:
        return []
    for attempt in range(SEQ_RETRIES):
        try:
            with uow_factory() as uow:
                added = append_in(uow, conversation_id, lines, now)
                uow.commit()
                return [_view(e) for e in added]
        except IntegrityError:  # another writer took the number: number again after its line
            logger.info("chat line number taken for %s (attempt %d); numbering again", conversation_id, attempt + 1)
        except SQLAlchemyError as exc:
            raise RecordsUnavailable() from exc
    raise RecordsUnavailable()


@dataclass(frozen=True)
class History:
    """What a reopened page shows: the current session's lines (none once it ended) and the last number."""

    chat_session: int
    ended: bool
    last_seq: int
    lines: list[ChatLine]


def history(uow_factory: UowFactory, conversation_id: str) -> History:
    try:
        with uow_factory() as uow:
            last = uow.chat.last(conversation_id)
            if last is None:
                return History(0, False, 0, [])
            if last.status == "ended":
                return History(last.chat_session, True, last.seq, [])
            lines = uow.chat.of_session(conversation_id, last.chat_session, chat_settings().history_lines)
            return History(last.chat_session, False, last.seq, [_view(e) for e in lines])
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def lines_after(uow_factory: UowFactory, conversation_id: str, seq: int, limit: int = 200) -> list[ChatLine]:
    try:
        with uow_factory() as uow:
            return [_view(e) for e in uow.chat.after(conversation_id, seq, limit)]
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


class AlreadyRated(Exception):
    """This chat session has a rating already; the first answer stands."""


def _add_rating(
    uow: UnitOfWork,
    conversation_id: str,
    chat_session: int,
    customer_id: str | None,
    language: str,
    rating: int,
    now: dt.datetime,
) -> None:
    if uow.chat.rating_of(conversation_id, chat_session) is not None:
        raise AlreadyRated()
    uow.chat.add_rating(
        ChatRating(
            conversation_id=conversation_id,
            chat_session=chat_session,
            customer_id=customer_id,
            language=language if language in ("zh", "en") else "zh",
            rating=rating,
            created_at=now,
        )
    )


def rate_chat(
    uow_factory: UowFactory,
    conversation_id: str,
    customer_id: str | None,
    language: str,
    rating: int,
    now: dt.datetime,
) -> int | None:
    """Store the rating (1-5) of the current chat session without ending it (the question asked when
    a person hands the chat back: the customer may go on with the assistant). Returns the session
    rated, or None when there is no chat yet. A second rating of the same session raises AlreadyRated."""
    if not 1 <= rating <= 5:
        raise ValueError("rating must be 1-5")
    for _attempt in range(SEQ_RETRIES):
        try:
            with uow_factory() as uow:
                uow.chat.lock_conversation(conversation_id)
                last = uow.chat.last(conversation_id)
                if last is None:
                    return None
                _add_rating(uow, conversation_id, last.chat_session, customer_id, language, rating, now)
                uow.commit()
                return last.chat_session
        except IntegrityError:
            continue  # the same rating twice at once: look again (the second finds the first)
        except SQLAlchemyError as exc:
            raise RecordsUnavailable() from exc
    raise RecordsUnavailable()


def end_chat(
    uow_factory: UowFactory,
    conversation_id: str,
    customer_id: str | None,
    language: str,
    rating: int | None,
    now: dt.datetime,
) -> ChatLine | None:
    """End the current chat session (an ``ended`` line) and store the rating (1-5) if given.

    Ending an ended chat adds nothing; a rating sent after ending still counts once. Returns the
    ``ended`` line added, or None when the chat had already ended (or never began)."""
    if rating is not None and not 1 <= rating <= 5:
        raise ValueError("rating must be 1-5")
    for _attempt in range(SEQ_RETRIES):
        try:
            with uow_factory() as uow:
                uow.chat.lock_conversation(conversation_id)
                last = uow.chat.last(conversation_id)
                if last is None:
                    return None
                added = (
                    []
                    if last.status == "ended"
                    else append_in(uow, conversation_id, [Line("status", status="ended")], now)
                )
                if rating is not None:
                    _add_rating(uow, conversation_id, last.chat_session, customer_id, language, rating, now)
                uow.commit()
                return _view(added[0]) if added else None
        except IntegrityError:
            continue  # a line numbered concurrently, or the same rating twice at once: look again
        except SQLAlchemyError as exc:
            raise RecordsUnavailable() from exc
    raise RecordsUnavailable()
