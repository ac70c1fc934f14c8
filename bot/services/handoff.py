"""Handoff tickets: stored first, then delivered to the helpdesk with retries (outbox), never lost.

Also the agent side: messages for a customer's app and what the agent needs in ten seconds.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import requests
import yaml
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.clock import Clock
from bot.domain.care import care_priority, care_summary_line
from bot.domain.errors import RecordsUnavailable
from bot.domain.model import AgentMessage, HandoffTicket
from bot.domain.secrets import mask_secrets
from bot.services import chat_log
from bot.settings import get_settings
from bot.unit_of_work import UowFactory

logger = logging.getLogger(__name__)
PRIORITY = {
    "request_human": "normal",
    "low_confidence": "normal",
    "extension_referral": "normal",
    "complaint": "high",
    # The customer said they are struggling (actions.handoff.said_they_struggle): first in line.
    "hardship": "high",
    "urgent_scam": "urgent",
}
MAX_BACKOFF_SECONDS = 300


@dataclass(frozen=True)
class ServiceHours:
    """When agents answer, in the bank's local time (``at`` is a bank-local time from the clock)."""

    open_from: dt.time
    open_until: dt.time
    first_reply_minutes: int

    def is_open(self, at: dt.datetime) -> bool:
        return self.open_from <= at.time() < self.open_until

    def next_opening(self, at: dt.datetime) -> dt.datetime:
        today = dt.datetime.combine(at.date(), self.open_from)
        return today if at < today else today + dt.timedelta(days=1)


@lru_cache(maxsize=1)
def service_hours() -> ServiceHours:
    raw = yaml.safe_load(get_settings().config_file("handoff.yml").read_text(encoding="utf-8"))
    return ServiceHours(
        dt.time.fromisoformat(raw["open_from"]),
        dt.time.fromisoformat(raw["open_until"]),
        int(raw["first_reply_minutes"]),
    )


@dataclass(frozen=True)
class TicketView:
    ticket_id: str
    conversation_id: str
    customer_id: str | None
    reason: str
    language: str
    priority: str
    summary: str
    status: str
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    transcript: list[dict[str, Any]]
    withdrawn_at: dt.datetime | None = None

    @property
    def delivery_key(self) -> str:
        """The Idempotency-Key of what is sent next: the ticket, or later its withdrawal."""
        return f"{self.ticket_id}/withdrawn" if self.withdrawn_at else self.ticket_id

    def payload(self) -> dict[str, Any]:
        """The helpdesk webhook body (CONTRACTS section 6); a withdrawal is the same body with
        ``"status": "withdrawn"`` and when."""
        withdrawal = {"status": "withdrawn", "withdrawn_at": self.withdrawn_at.isoformat()} if self.withdrawn_at else {}
        return {
            **withdrawal,
            "ticket_id": self.ticket_id,
            "conversation_id": self.conversation_id,
            "customer_id": self.customer_id,
            "reason": self.reason,
            "language": self.language,
            "priority": self.priority,
            "summary": self.summary,
            "created_at": self.created_at.isoformat(),
            "transcript": self.transcript,
        }


def _view(t: HandoffTicket) -> TicketView:
    return TicketView(
        t.ticket_id, t.conversation_id, t.customer_id, t.reason, t.language, t.priority, t.summary, t.status,
        t.attempts, t.last_error, t.created_at, t.delivered_at, json.loads(t.transcript), t.withdrawn_at,
    )  # fmt: skip


def summarize(
    reason: str, customer_id: str | None, wanted: Iterable[str], references: Iterable[str], account: str | None
) -> str:
    """A few lines an agent reads in ten seconds: who, why now, what they wanted, what the bot did."""
    lines = [
        f"Why: {reason}",
        f"Who: {'customer ' + customer_id + ' (verified by app token)' if customer_id else 'anonymous visitor (not verified: disclose nothing)'}",
        f"Wanted: {', '.join(dict.fromkeys(wanted)) or 'unclear'}",
    ]
    if account:
        lines.append(f"Loans: {account}")
    refs = list(dict.fromkeys(references))
    lines.append(f"Bot did: {', '.join(refs) if refs else 'answered questions only'}")
    return "\n".join(lines)


def create_ticket(
    uow_factory: UowFactory,
    conversation_id: str,
    customer_id: str | None,
    reason: str,
    language: str,
    summary: str,
    transcript: list[dict[str, Any]],
    now: dt.datetime,
    waits_for_person: bool = True,
) -> TicketView:
    """Store a ticket (secrets in the transcript masked) for the delivery worker. Returns it.

    ``waits_for_person``: the chat now waits for a person (the customer's page shows "queued");
    False for a ticket that does not pause the chat, such as an extension referral.

    A customer who asked us to note a difficult situation (an active vulnerability flag) is answered
    sooner, priority at least ``high``, and the summary's first line tells the agent so."""
    masked = [{**m, "text": mask_secrets(str(m.get("text") or ""))} for m in transcript]
    priority, summary = PRIORITY.get(reason, "normal"), mask_secrets(summary)
    try:
        with uow_factory() as uow:
            flag = uow.vulnerability_flags.active_of(customer_id) if customer_id else None
            if flag is not None:
                priority = care_priority(priority)
                summary = f"{care_summary_line(flag.reason, flag.consent_at)}\n{summary}"
            ticket = HandoffTicket(
                ticket_id=f"pending-{now.timestamp()}-{conversation_id}"[:40],
                conversation_id=conversation_id,
                customer_id=customer_id,
                reason=reason,
                language=language if language in ("zh", "en") else "zh",
                priority=priority,
                summary=summary[:2000],
                transcript=json.dumps(masked, ensure_ascii=False),
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            uow.tickets.add(ticket)
            uow.commit()
            view = _view(ticket)
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc
    if not waits_for_person:
        return view
    try:  # the customer's page shows that the chat now waits for a person; the ticket stands regardless
        chat_log.append(uow_factory, conversation_id, [chat_log.Line("status", view.ticket_id, status="queued")], now)
    except RecordsUnavailable:
        logger.warning("the chat line for ticket %s could not be stored", view.ticket_id)
    return view


class HttpPoster(Protocol):
    def post(self, url: str, json: dict[str, Any], headers: dict[str, str], timeout: float) -> requests.Response: ...


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0


#: Tickets claimed at once by one worker; each claim is leased for long enough to send them all.
CLAIM_BATCH = 10


def deliver_due(
    uow_factory: UowFactory,
    url: str,
    clock: Clock,
    http: HttpPoster | None = None,
    timeout: float = 5.0,
    limit: int = 100,
    lease_seconds: float | None = None,
) -> DeliveryReport:
    """POST every ticket whose time has come, with ``Idempotency-Key: <ticket_id>``.

    Outbox protocol: claim a batch (status ``sending``, a lease, committed), send outside any
    transaction, then record each result if the claim still holds. A 2xx marks it delivered;
    anything else (or no answer) records the error and schedules the next attempt with
    exponential backoff (2, 4, 8 ... seconds, at most 5 minutes). A worker that dies holding a
    claim leaves the rows ``sending``; once the lease expires another worker sends them (with the
    same key, so a helpdesk that already got one drops the repeat). Several workers at once
    each get different tickets.
    """
    poster: Any = http or requests.Session()
    report = DeliveryReport()
    lease = dt.timedelta(seconds=lease_seconds if lease_seconds is not None else CLAIM_BATCH * (timeout + 1) + 30)
    while report.delivered + report.failed < limit:
        token = uuid.uuid4().hex
        lease_until = clock.now() + lease
        with uow_factory() as uow:
            claimed = [
                (t.id, view.delivery_key, t.attempts, view.payload(), view.withdrawn_at is not None)
                for t in uow.tickets.claim_due(clock.now(), lease_until, token, CLAIM_BATCH)
                for view in (_view(t),)
            ]
            uow.commit()
        if not claimed:
            break
        for row_id, key, attempts, payload, withdrawal in claimed:
            if clock.now() + dt.timedelta(seconds=timeout) >= lease_until:
                return report  # the lease would run out mid-call: the rest go to whoever claims them next
            try:
                reply = poster.post(url, json=payload, headers={"Idempotency-Key": key}, timeout=timeout)
                ok, error = 200 <= reply.status_code < 300, f"HTTP {reply.status_code}"
            except requests.RequestException as exc:
                ok, error = False, f"{type(exc).__name__}"
            at = clock.now()
            with uow_factory() as uow:
                if ok:
                    kept = uow.tickets.record_delivered(row_id, token, at, withdrawal)
                else:
                    retry_at = at + dt.timedelta(seconds=min(2**attempts, MAX_BACKOFF_SECONDS))
                    kept = uow.tickets.record_failed(row_id, token, error, retry_at)
                uow.commit()
            if not kept:
                logger.warning("ticket %s: claim expired before its result was recorded", key)
            if ok:
                report.delivered += 1
            else:
                report.failed += 1
    return report


def deliver_now(uow_factory: UowFactory, url: str | None, clock: Clock, timeout: float = 3.0) -> None:
    """Try the helpdesk right away, after a ticket or a withdrawal is stored (no-op without a URL).

    Never raises: the record is already safe, and the worker retries whatever this does not deliver.
    """
    if not url:
        return
    try:
        deliver_due(uow_factory, url, clock, timeout=timeout)
    except Exception:  # noqa: BLE001 - stored first; the worker delivers it
        logger.warning("immediate delivery to the helpdesk failed; the worker will retry", exc_info=True)


def waiting_ticket(uow_factory: UowFactory, conversation_id: str) -> TicketView | None:
    """The ticket a paused conversation is waiting on (its latest one not withdrawn), or None."""
    try:
        with uow_factory() as uow:
            t = uow.tickets.open_ticket_of(conversation_id)
            return _view(t) if t else None
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def withdraw_ticket(uow_factory: UowFactory, conversation_id: str, now: dt.datetime) -> TicketView | None:
    """The customer goes back to the assistant before a person answered: withdraw the ticket.

    One the helpdesk never received is simply never sent. One it has (or may have, mid-send)
    is queued again as a withdrawal, the same body with ``"status": "withdrawn"`` and the key
    ``<ticket_id>/withdrawn``, so the helpdesk stops waiting for an agent. Returns the ticket,
    or None when there was none to withdraw.
    """
    try:
        with uow_factory() as uow:
            t = uow.tickets.open_ticket_of(conversation_id)
            if t is None or t.status == "withdrawn":
                return None
            t.withdrawn_at = now
            if t.status == "pending" and t.delivered_at is None:
                t.status = "withdrawn"  # the helpdesk never had it
            elif t.status == "delivered":
                t.status, t.next_attempt_at, t.attempts = "pending", now, 0
            # "sending": the worker's result puts it back to pending (record_delivered)
            uow.commit()
            return _view(t)
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def list_tickets(uow_factory: UowFactory, limit: int = 50) -> list[TicketView]:
    with uow_factory() as uow:
        return [_view(t) for t in uow.tickets.latest(limit)]


def get_ticket(uow_factory: UowFactory, ticket_id: str) -> TicketView | None:
    with uow_factory() as uow:
        t = uow.tickets.by_ticket_id(ticket_id)
        return _view(t) if t else None


def retry_now(uow_factory: UowFactory, ticket_id: str | None, now: dt.datetime) -> int:
    """Make one pending ticket (or all) due now. Returns how many."""
    with uow_factory() as uow:
        tickets = uow.tickets.pending(ticket_id)
        for t in tickets:
            t.next_attempt_at = now
        uow.commit()
        return len(tickets)


def post_agent_message(
    uow_factory: UowFactory, conversation_id: str, text: str, sender: str, now: dt.datetime
) -> list[chat_log.ChatLine]:
    """A message for the customer's app from an agent (``sender`` "agent") or the hand-back notice
    ("bot"), with its lines in the chat: an agent's first reply after the handoff is preceded by
    "agent joined", the hand-back notice by "back to the assistant". Returns the lines."""
    lines = []
    if sender == "bot":
        lines.append(chat_log.Line("status", status="bot_back"))
    lines.append(chat_log.Line("agent" if sender == "agent" else "bot", text[:2000]))
    for _attempt in range(chat_log.SEQ_RETRIES):
        try:
            with uow_factory() as uow:
                if sender == "agent" and chat_log.waiting_for_person(uow, conversation_id):
                    lines.insert(0, chat_log.Line("status", status="agent_joined"))
                added = chat_log.append_in(uow, conversation_id, lines, now)
                uow.tickets.add_message(
                    AgentMessage(
                        conversation_id=conversation_id,
                        sender=sender,
                        text=text[:2000],
                        created_at=now,
                        chat_seq=added[-1].seq,
                    )
                )
                uow.commit()
                return [chat_log.ChatLine.of(e) for e in added]
        except IntegrityError:
            lines = [line for line in lines if line.status != "agent_joined"]
            continue
    raise RecordsUnavailable()


def fetch_agent_messages(uow_factory: UowFactory, conversation_id: str, now: dt.datetime) -> list[dict[str, Any]]:
    """Messages from the agent (or the hand-back notice) not yet shown in the app; marks them shown."""
    with uow_factory() as uow:
        rows = uow.tickets.unfetched_messages(conversation_id)
        for row in rows:
            row.fetched_at = now
        uow.commit()
        return [{"sender": row.sender, "text": row.text, "seq": row.chat_seq} for row in rows]


def rate_resolved_ticket(uow_factory: UowFactory, conversation_id: str, rating: int, since: dt.datetime) -> str | None:
    """Store the customer's rating with the ticket a person resolved for them since ``since`` (the latest
    one not rated yet); returns its id, or None when no person handled this chat."""
    try:
        with uow_factory() as uow:
            ticket = uow.tickets.latest_resolved_of(conversation_id, since)
            if ticket is None or ticket.rating is not None:
                return None
            ticket.rating = rating
            uow.commit()
            return ticket.ticket_id
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc
