"""The agent console's use cases: the queue, claiming, transferring, notes, replies and resolving.

The queue is every ticket neither resolved nor withdrawn, most urgent first (urgent scam >
complaint and hardship > others), then the longest waiting. Claiming is one conditional
update, so of two agents claiming at once exactly one gets the ticket. A claimed ticket whose
agent has not replied within ``idle_minutes`` goes back to the queue the next time anyone
looks at it. Every action is written to the audit log with who and when.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from bot.domain.errors import RecordsUnavailable
from bot.domain.model import HandoffTicket
from bot.services import chat_log
from bot.services.staff import NoteView, Staff, StaffError, add_note_in, audit_in, notes_of
from bot.unit_of_work import UnitOfWork, UowFactory

PRIORITY_ORDER = {"urgent": 0, "high": 1, "normal": 2}


@dataclass(frozen=True)
class QueueItem:
    ticket_id: str
    conversation_id: str
    customer_id: str | None
    language: str
    priority: str
    reason: str
    summary: str
    created_at: dt.datetime
    wait_seconds: int
    assigned_to: str | None
    position: int

    @property
    def verified(self) -> bool:
        return self.customer_id is not None


@dataclass(frozen=True)
class TicketDetail:
    item: QueueItem
    lines: Sequence[chat_log.ChatLine]
    notes: Sequence[NoteView]
    last_customer_message_at: dt.datetime | None
    outcome: str | None = None
    resolved_by: str | None = None
    rating: int | None = None


def _order(t: HandoffTicket) -> tuple[int, dt.datetime, int]:
    return PRIORITY_ORDER.get(t.priority, 3), t.created_at, t.id


def _items(tickets: Sequence[HandoffTicket], now: dt.datetime) -> list[QueueItem]:
    ordered = sorted(tickets, key=_order)
    return [
        QueueItem(
            t.ticket_id,
            t.conversation_id,
            t.customer_id,
            t.language,
            t.priority,
            t.reason,
            t.summary,
            t.created_at,
            max(0, int((now - t.created_at).total_seconds())),
            t.assigned_to,
            k + 1,
        )  # fmt: skip
        for k, t in enumerate(ordered)
    ]


def queue(uow_factory: UowFactory, now: dt.datetime, idle_minutes: int) -> list[QueueItem]:
    """The open tickets in the order agents take them; idle claims released first."""
    try:
        with uow_factory() as uow:
            released = uow.tickets.release_idle(now - dt.timedelta(minutes=idle_minutes))
            for t in released:
                audit_in(uow, "system", "released_idle", now, t.ticket_id, idle_minutes=idle_minutes)
            items = _items(uow.tickets.in_queue(), now)
            uow.commit()
            return items
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def queue_position(uow_factory: UowFactory, conversation_id: str, now: dt.datetime) -> int | None:
    """The customer's place among the tickets nobody has claimed yet (1 = next), or None."""
    with uow_factory() as uow:
        waiting = [t.conversation_id for t in sorted(uow.tickets.in_queue(), key=_order) if t.assigned_to is None]
    return next((k + 1 for k, c in enumerate(waiting) if c == conversation_id), None)


def _open_ticket(uow: UnitOfWork, ticket_id: str) -> HandoffTicket:
    ticket = uow.tickets.by_ticket_id(ticket_id)
    if ticket is None:
        raise StaffError("no such ticket")
    return ticket


def claim(uow_factory: UowFactory, ticket_id: str, staff: Staff, now: dt.datetime) -> bool:
    """Take a ticket nobody has; False when someone else got it first (or it is closed)."""
    try:
        with uow_factory() as uow:
            won = uow.tickets.claim(ticket_id, staff.username, now)
            audit_in(uow, staff.username, "claim" if won else "claim_lost", now, ticket_id)
            uow.commit()
            return won
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def transfer(uow_factory: UowFactory, ticket_id: str, staff: Staff, to: str, now: dt.datetime) -> None:
    """Hand a ticket to another agent (its holder, or a supervisor, may)."""
    try:
        with uow_factory() as uow:
            ticket = _open_ticket(uow, ticket_id)
            _may_act(ticket, staff)
            if uow.staff.account(to) is None:
                raise StaffError("no such agent")
            if not uow.tickets.claim(ticket_id, to, now, take_over=True):
                raise StaffError("the ticket is closed")
            audit_in(uow, staff.username, "transfer", now, ticket_id, to=to)
            uow.commit()
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def _may_act(ticket: HandoffTicket, staff: Staff) -> None:
    if ticket.resolved_at is not None or ticket.withdrawn_at is not None:
        raise StaffError("the ticket is closed")
    if ticket.assigned_to != staff.username and not staff.supervisor:
        raise StaffError("claim the ticket first")


def detail(uow_factory: UowFactory, ticket_id: str, now: dt.datetime) -> TicketDetail:
    """The ticket with the whole chat as the customer saw it (bot turns too, secrets masked) and its notes."""
    try:
        with uow_factory() as uow:
            ticket = _open_ticket(uow, ticket_id)
            in_queue = {i.ticket_id: i for i in _items(uow.tickets.in_queue(), now)}
            item = in_queue.get(ticket_id) or _items([ticket], now)[0]
            lines = [chat_log.ChatLine.of(e) for e in uow.chat.after(ticket.conversation_id, 0, 1000)]
            notes = notes_of(uow, ticket_id)
            closing = (ticket.outcome, ticket.resolved_by, ticket.rating)
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc
    last_user = next((line.at for line in reversed(lines) if line.kind == "user"), None)
    return TicketDetail(item, lines[-300:], notes, last_user, *closing)


@dataclass(frozen=True)
class TicketRef:
    ticket_id: str
    conversation_id: str
    customer_id: str | None


def may_reply(uow_factory: UowFactory, ticket_id: str, staff: Staff) -> TicketRef:
    """The ticket, if this staff member may write on it now (StaffError otherwise)."""
    with uow_factory() as uow:
        ticket = _open_ticket(uow, ticket_id)
        _may_act(ticket, staff)
        return TicketRef(ticket.ticket_id, ticket.conversation_id, ticket.customer_id)


def record_reply(uow_factory: UowFactory, ticket_id: str, staff: Staff, text: str, now: dt.datetime) -> None:
    """The agent's message went out: note the reply time (it keeps the claim) and audit it."""
    try:
        with uow_factory() as uow:
            ticket = _open_ticket(uow, ticket_id)
            ticket.last_agent_reply_at = now
            audit_in(uow, staff.username, "reply", now, ticket_id, text=text)
            uow.commit()
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def record_blocked(
    uow_factory: UowFactory, ticket_id: str, staff: Staff, text: str, codes: Sequence[str], now: dt.datetime
) -> None:
    """An agent message the compliance guard stopped: supervisors see every attempt."""
    try:
        with uow_factory() as uow:
            audit_in(uow, staff.username, "blocked_message", now, ticket_id, text=text, codes=list(codes))
            uow.commit()
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def add_note(uow_factory: UowFactory, ticket_id: str, staff: Staff, text: str, now: dt.datetime) -> None:
    if not text.strip():
        raise StaffError("the note is empty")
    try:
        with uow_factory() as uow:
            _open_ticket(uow, ticket_id)
            add_note_in(uow, ticket_id, staff.username, text, now)
            audit_in(uow, staff.username, "note", now, ticket_id)
            uow.commit()
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def resolve(uow_factory: UowFactory, ticket_id: str, staff: Staff, outcome: str, now: dt.datetime) -> None:
    """Close the ticket with its outcome (the caller hands the chat back to the assistant)."""
    if not outcome.strip():
        raise StaffError("say how it ended (the outcome)")
    try:
        with uow_factory() as uow:
            ticket = _open_ticket(uow, ticket_id)
            _may_act(ticket, staff)
            ticket.resolved_at, ticket.resolved_by, ticket.outcome = now, staff.username, outcome.strip()[:200]
            audit_in(uow, staff.username, "resolve", now, ticket_id, outcome=outcome.strip()[:200])
            uow.commit()
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def close_referrals(
    uow_factory: UowFactory, customer_id: str, staff: Staff, outcome: str, now: dt.datetime
) -> list[str]:
    """Resolve the customer's open extension-referral tickets once a supervisor decided; returns their ids."""
    try:
        with uow_factory() as uow:
            closed = []
            for t in uow.tickets.in_queue():
                if t.customer_id == customer_id and t.reason == "extension_referral":
                    t.resolved_at, t.resolved_by, t.outcome = now, staff.username, outcome[:200]
                    audit_in(uow, staff.username, "resolve", now, t.ticket_id, outcome=outcome[:200])
                    closed.append(t.ticket_id)
            uow.commit()
            return closed
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc
