"""Repositories: every query the services make, one class per kind of record, behind the unit of work.

Services never build SQL or touch a session; they ask a repository. Each repository has a
Protocol (what services may call) and an SQLAlchemy implementation here; the in-memory
implementations the service tests use are in ``tests/fakes.py``. Queries are shaped for the
indexes in the model (customer first).

The two outboxes (handoff tickets, SMS notices) claim rows before anything is sent: a claim
marks rows ``sending`` with a lease and a claim token and is committed on its own; the HTTP
call happens outside any transaction; the result is recorded only if the claim still holds.
A lease that expires (the worker died) makes the row claimable again.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Boolean, DateTime, Float, and_, case, func, literal, or_, select, update
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session, noload
from sqlalchemy.sql.elements import BooleanClauseList

from bot.domain.model import (
    AgentMessage,
    AgentNote,
    AnalyticsCursor,
    AnalyticsEvent,
    AnalyticsReject,
    AuditEntry,
    Case,
    CaseNote,
    ChatEntry,
    ChatRating,
    ContactPreference,
    Customer,
    ExtensionRequest,
    HandoffTicket,
    Instalment,
    Loan,
    NoticeHold,
    Repayment,
    ReviewMark,
    ReviewTag,
    SmsNotice,
    StaffAccount,
    StaffSession,
    VulnerabilityFlag,
)

#: Notice states that count as "a notice went (or is going) out" for cadence and caps.
NOTICE_RECORDED = ("pending", "sending", "sent")
#: Notice channels that reach the phone number (bot.domain.notices.PHONE_CHANNELS).
PHONE_CHANNELS = ("sms", "call")


# --- what services may ask -------------------------------------------------------------------


class LoanRecords(Protocol):
    def customer(self, customer_id: str) -> Customer | None: ...
    def loans_of(self, customer_id: str) -> Sequence[Loan]: ...
    def loan_of(self, customer_id: str, loan_id: str) -> Loan | None: ...
    def loan_for_update(self, customer_id: str, loan_id: str) -> Loan | None: ...
    def unpaid_instalments_of(self, customer_id: str) -> Sequence[Instalment]: ...
    def overdue_instalments_of_loan(self, loan_id: str, today: dt.date) -> Sequence[Instalment]: ...
    def overdue_instalments_on(self, day: dt.date) -> Sequence[tuple[Instalment, Loan, Customer]]: ...
    def repayments_of(self, customer_id: str, since: dt.datetime) -> Sequence[Repayment]: ...
    def max_seq(self, loan_id: str) -> int: ...
    def add_instalment(self, instalment: Instalment) -> None: ...
    def phone_on_record(self, phone: str) -> bool: ...
    def paid_late_counts(self, customer_ids: Iterable[str]) -> Counter[str]: ...


class ExtensionRecords(Protocol):
    def last_approved(self, loan_id: str) -> ExtensionRequest | None: ...
    def by_key(self, idempotency_key: str) -> ExtensionRequest | None: ...
    def of_customer(self, customer_id: str) -> Sequence[ExtensionRequest]: ...
    def active_plans_of(self, customer_id: str) -> Sequence[ExtensionRequest]: ...
    def add(self, request: ExtensionRequest) -> str: ...
    def by_reference(self, reference: str, for_update: bool = False) -> ExtensionRequest | None: ...
    def referred(self, limit: int) -> Sequence[ExtensionRequest]: ...


class CaseRecords(Protocol):
    def by_key(self, idempotency_key: str) -> Case | None: ...
    def by_reference(self, reference: str, for_update: bool = False) -> Case | None: ...
    def latest(self, case_type: str | None, limit: int) -> Sequence[Case]: ...
    def phones_under_review(self) -> set[str]: ...
    def of_customer(self, customer_id: str, limit: int) -> Sequence[Case]: ...
    def add(self, case: Case, prefix: str) -> str: ...
    def add_note(self, note: CaseNote) -> None: ...


class TicketRecords(Protocol):
    def add(self, ticket: HandoffTicket) -> str: ...
    def by_ticket_id(self, ticket_id: str) -> HandoffTicket | None: ...
    def latest(self, limit: int) -> Sequence[HandoffTicket]: ...
    def pending(self, ticket_id: str | None) -> Sequence[HandoffTicket]: ...
    def claim_due(
        self, now: dt.datetime, lease_until: dt.datetime, token: str, limit: int
    ) -> Sequence[HandoffTicket]: ...
    def record_delivered(self, ticket_id: int, token: str, at: dt.datetime, withdrawal: bool = False) -> bool: ...
    def record_failed(self, ticket_id: int, token: str, error: str, retry_at: dt.datetime) -> bool: ...
    def open_ticket_of(self, conversation_id: str) -> HandoffTicket | None: ...
    def add_message(self, message: AgentMessage) -> None: ...
    def unfetched_messages(self, conversation_id: str) -> Sequence[AgentMessage]: ...
    def in_queue(self) -> Sequence[HandoffTicket]: ...
    def latest_resolved_of(self, conversation_id: str, since: dt.datetime) -> HandoffTicket | None: ...
    def claim(self, ticket_id: str, username: str, now: dt.datetime, take_over: bool = False) -> bool: ...
    def release_idle(self, claimed_before: dt.datetime) -> Sequence[HandoffTicket]: ...


class NoticeRecords(Protocol):
    def of_customer(self, customer_id: str, since: dt.datetime) -> Sequence[tuple[SmsNotice, Instalment | None]]: ...
    def times_by_instalment(
        self, instalment_ids: Iterable[int], before: dt.datetime
    ) -> dict[int, list[tuple[dt.datetime, str]]]: ...
    def counts_per_phone_since(self, since: dt.datetime) -> Counter[str]: ...
    def counts_per_customer_since(self, since: dt.datetime) -> Counter[str]: ...
    def keys_recorded_since(self, since: dt.datetime) -> set[str]: ...
    def add(self, notice: SmsNotice) -> None: ...
    def holds_on(self, day: dt.date) -> set[tuple[int, str]]: ...
    def holds_of(self, customer_id: str, since: dt.date) -> list[tuple[dt.date, str]]: ...
    def to_phone(self, phone: str) -> Sequence[SmsNotice]: ...
    def add_hold(self, hold: NoticeHold) -> None: ...
    def claim_unsent(
        self,
        now: dt.datetime,
        lease_until: dt.datetime,
        token: str,
        limit: int,
        after_id: int = 0,
        channel: str = "sms",
    ) -> Sequence[SmsNotice]: ...
    def record_sent(self, notice_id: int, token: str, at: dt.datetime) -> bool: ...
    def record_failed(self, notice_id: int, token: str, error: str) -> bool: ...


class ContactPreferenceRecords(Protocol):
    def of(self, customer_id: str) -> ContactPreference | None: ...
    def of_customers(self, customer_ids: Iterable[str]) -> dict[str, ContactPreference]: ...
    def add(self, preference: ContactPreference) -> None: ...


class StaffRecords(Protocol):
    def account(self, username: str) -> StaffAccount | None: ...
    def accounts(self) -> Sequence[StaffAccount]: ...
    def add_account(self, account: StaffAccount) -> None: ...
    def add_session(self, session: StaffSession) -> None: ...
    def login_by_hash(self, token_hash: str) -> StaffSession | None: ...
    def audit(self, entry: AuditEntry) -> None: ...
    def audit_entries(self, limit: int, action: str | None = None) -> Sequence[AuditEntry]: ...
    def add_note(self, note: AgentNote) -> None: ...
    def notes_of(self, ticket_id: str) -> Sequence[AgentNote]: ...


class ReportRecords(Protocol):
    def events_between(self, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]: ...
    def tickets_between(self, start: dt.datetime, end: dt.datetime) -> Sequence[HandoffTicket]: ...
    def first_agent_reply_after(self, conversation_id: str, after: dt.datetime) -> dt.datetime | None: ...
    def ratings_between(self, start: dt.datetime, end: dt.datetime) -> Sequence[ChatRating]: ...
    def notice_counts_between(self, start: dt.datetime, end: dt.datetime) -> dict[str, int]: ...
    def hold_counts_between(self, first_day: dt.date, last_day: dt.date) -> dict[str, int]: ...
    def case_counts_between(self, start: dt.datetime, end: dt.datetime) -> dict[tuple[str, str], int]: ...
    def extension_counts_between(self, start: dt.datetime, end: dt.datetime) -> dict[str, int]: ...


class ChatRecords(Protocol):
    def lock_conversation(self, conversation_id: str) -> None: ...
    def last(self, conversation_id: str) -> ChatEntry | None: ...
    def add(self, entry: ChatEntry) -> None: ...
    def after(self, conversation_id: str, seq: int, limit: int) -> Sequence[ChatEntry]: ...
    def of_session(self, conversation_id: str, session: int, limit: int) -> Sequence[ChatEntry]: ...
    def add_rating(self, rating: ChatRating) -> None: ...
    def rating_of(self, conversation_id: str, session: int) -> ChatRating | None: ...


class AnalyticsRecords(Protocol):
    def add_events(self, rows: Sequence[dict[str, Any]]) -> int: ...
    def add_rejects(self, rows: Sequence[dict[str, Any]]) -> int: ...
    def cursor(self, name: str) -> int: ...
    def move_cursor(self, name: str, last_id: int, at: dt.datetime) -> None: ...


class ReviewRecords(Protocol):
    def events_between(
        self, start: dt.datetime, end: dt.datetime, conversation_ids: Sequence[str] | None, verified: bool | None
    ) -> list[dict[str, Any]]: ...
    def conversations_with(
        self, start: dt.datetime, end: dt.datetime, intent: str | None = None, below: float | None = None
    ) -> set[str]: ...
    def event(self, event_key: str) -> dict[str, Any] | None: ...
    def has_event_at(self, conversation_id: str, at: dt.datetime) -> bool: ...
    def tags_of(self, conversation_ids: Iterable[str]) -> Sequence[ReviewTag]: ...
    def tagged(self, tag: str, start: dt.datetime, end: dt.datetime) -> set[str]: ...
    def tag(self, conversation_id: str, started_at: dt.datetime, tag: str) -> ReviewTag | None: ...
    def add_tag(self, tag: ReviewTag) -> None: ...
    def remove(self, record: ReviewTag | ReviewMark) -> None: ...
    def marks_of(self, event_keys: Iterable[str]) -> Sequence[ReviewMark]: ...
    def mark(self, event_key: str) -> ReviewMark | None: ...
    def add_mark(self, mark: ReviewMark) -> None: ...
    def marks_between(self, start: dt.datetime | None, end: dt.datetime | None) -> Sequence[ReviewMark]: ...


class VulnerabilityRecords(Protocol):
    def active_of(self, customer_id: str) -> VulnerabilityFlag | None: ...
    def flagged_customers(self) -> set[str]: ...
    def add(self, flag: VulnerabilityFlag) -> None: ...


# --- SQLAlchemy implementations --------------------------------------------------------------


def _write_lock_on_sqlite(session: Session, model: type[ExtensionRequest] | type[Case]) -> None:
    """SQLite has no row locks: take the database's write lock now, by a write that changes nothing,
    so that what the transaction reads next cannot be changed by anyone else before it commits."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(model).where(literal(False)).values(id=model.id))


class SqlLoanRecords:
    def __init__(self, session: Session) -> None:
        self.session = session

    def customer(self, customer_id: str) -> Customer | None:
        return self.session.get(Customer, customer_id)

    def loans_of(self, customer_id: str) -> Sequence[Loan]:
        stmt = select(Loan).where(Loan.customer_id == customer_id).order_by(Loan.id)
        return self.session.execute(stmt).scalars().all()

    def loan_of(self, customer_id: str, loan_id: str) -> Loan | None:
        stmt = select(Loan).where(Loan.id == loan_id, Loan.customer_id == customer_id)
        return self.session.execute(stmt).scalars().first()

    def loan_for_update(self, customer_id: str, loan_id: str) -> Loan | None:
        """The customer's loan, row-locked until commit where the database supports it."""
        stmt = select(Loan).where(Loan.id == loan_id, Loan.customer_id == customer_id).with_for_update()
        return self.session.execute(stmt).scalars().first()

    def unpaid_instalments_of(self, customer_id: str) -> Sequence[Instalment]:
        stmt = (
            select(Instalment)
            .join(Loan, Loan.id == Instalment.loan_id)
            .where(Loan.customer_id == customer_id, Instalment.paid_at.is_(None), Instalment.status == "scheduled")
            .order_by(Instalment.due_date, Instalment.loan_id, Instalment.seq)
        )
        return self.session.execute(stmt).scalars().all()

    def overdue_instalments_of_loan(self, loan_id: str, today: dt.date) -> Sequence[Instalment]:
        stmt = (
            select(Instalment)
            .where(
                Instalment.loan_id == loan_id,
                Instalment.paid_at.is_(None),
                Instalment.status == "scheduled",
                Instalment.due_date < today,
            )
            .order_by(Instalment.due_date, Instalment.seq)
        )
        return self.session.execute(stmt).scalars().all()

    def overdue_instalments_on(self, day: dt.date) -> Sequence[tuple[Instalment, Loan, Customer]]:
        """Every unpaid scheduled instalment due before ``day``, with its loan and borrower."""
        stmt = (
            select(Instalment, Loan, Customer)
            .join(Loan, Loan.id == Instalment.loan_id)
            .join(Customer, Customer.id == Loan.customer_id)
            .where(Instalment.paid_at.is_(None), Instalment.status == "scheduled", Instalment.due_date < day)
            .order_by(Instalment.due_date, Instalment.id)
        )
        return [(i, loan, c) for i, loan, c in self.session.execute(stmt).all()]

    def repayments_of(self, customer_id: str, since: dt.datetime) -> Sequence[Repayment]:
        stmt = (
            select(Repayment)
            .join(Loan, Loan.id == Repayment.loan_id)
            .where(Loan.customer_id == customer_id, Repayment.paid_at >= since)
            .order_by(Repayment.paid_at)
        )
        return self.session.execute(stmt).scalars().all()

    def max_seq(self, loan_id: str) -> int:
        stmt = select(func.max(Instalment.seq)).where(Instalment.loan_id == loan_id)
        return int(self.session.execute(stmt).scalar() or 0)

    def add_instalment(self, instalment: Instalment) -> None:
        self.session.add(instalment)

    def phone_on_record(self, phone: str) -> bool:
        """Whether any customer's current number is ``phone`` (the only number notices go to)."""
        stmt = select(Customer.id).where(Customer.phone == phone).limit(1)
        return self.session.execute(stmt).first() is not None

    def paid_late_counts(self, customer_ids: Iterable[str]) -> Counter[str]:
        """Per customer: instalments (any of their loans) paid after the day they were due."""
        ids = list(dict.fromkeys(customer_ids))
        counts: Counter[str] = Counter()
        for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
            stmt = (
                select(Loan.customer_id, Instalment.due_date, Instalment.paid_at)
                .join(Loan, Loan.id == Instalment.loan_id)
                .where(Loan.customer_id.in_(chunk), Instalment.paid_at.is_not(None))
            )
            for customer_id, due_date, paid_at in self.session.execute(stmt):
                if paid_at.date() > due_date:  # compared here: SQL dates differ between the databases
                    counts[customer_id] += 1
        return counts


class SqlExtensionRecords:
    def __init__(self, session: Session) -> None:
        self.session = session

    def last_approved(self, loan_id: str) -> ExtensionRequest | None:
        stmt = (
            select(ExtensionRequest)
            .where(ExtensionRequest.loan_id == loan_id, ExtensionRequest.status == "approved")
            .order_by(ExtensionRequest.created_at.desc())
        )
        return self.session.execute(stmt).scalars().first()

    def by_key(self, idempotency_key: str) -> ExtensionRequest | None:
        stmt = select(ExtensionRequest).where(ExtensionRequest.idempotency_key == idempotency_key)
        return self.session.execute(stmt).scalars().first()

    def of_customer(self, customer_id: str) -> Sequence[ExtensionRequest]:
        stmt = select(ExtensionRequest).where(ExtensionRequest.customer_id == customer_id).order_by(ExtensionRequest.id)
        return self.session.execute(stmt).scalars().all()

    def active_plans_of(self, customer_id: str) -> Sequence[ExtensionRequest]:
        """Approved extensions or plans of the customer with an instalment still to pay."""
        unpaid = select(Instalment.extension_id).where(
            Instalment.paid_at.is_(None), Instalment.extension_id.is_not(None)
        )
        stmt = (
            select(ExtensionRequest)
            .where(
                ExtensionRequest.customer_id == customer_id,
                ExtensionRequest.status == "approved",
                ExtensionRequest.id.in_(unpaid),
            )
            .order_by(ExtensionRequest.id)
        )
        return self.session.execute(stmt).scalars().all()

    def add(self, request: ExtensionRequest) -> str:
        """Store a request and give it its reference, EXT-<year>-<id>, which needs the id."""
        self.session.add(request)
        self.session.flush()
        request.reference = f"EXT-{request.created_at.year}-{request.id:06d}"
        return request.reference

    def by_reference(self, reference: str, for_update: bool = False) -> ExtensionRequest | None:
        """The request with this reference; ``for_update``: locked until commit (a row lock on
        PostgreSQL, the database's write lock on SQLite), so two decisions on it take turns."""
        stmt = select(ExtensionRequest).where(ExtensionRequest.reference == reference)
        if for_update:
            _write_lock_on_sqlite(self.session, ExtensionRequest)
            stmt = stmt.with_for_update()
        return self.session.execute(stmt).scalars().first()

    def referred(self, limit: int) -> Sequence[ExtensionRequest]:
        """Requests referred to a colleague and not yet decided, oldest first."""
        stmt = (
            select(ExtensionRequest)
            .where(ExtensionRequest.status == "referred")
            .order_by(ExtensionRequest.created_at, ExtensionRequest.id)
            .limit(limit)
        )
        return self.session.execute(stmt).scalars().all()


class SqlCaseRecords:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_key(self, idempotency_key: str) -> Case | None:
        return self.session.execute(select(Case).where(Case.idempotency_key == idempotency_key)).scalars().first()

    def by_reference(self, reference: str, for_update: bool = False) -> Case | None:
        """The case with this reference; ``for_update``: locked until commit (as for extension requests)."""
        stmt = select(Case).where(Case.reference == reference)
        if for_update:
            _write_lock_on_sqlite(self.session, Case)
            stmt = stmt.with_for_update()
        return self.session.execute(stmt).scalars().first()

    def latest(self, case_type: str | None, limit: int) -> Sequence[Case]:
        stmt = select(Case).order_by(Case.id.desc()).limit(limit)
        if case_type:
            stmt = stmt.where(Case.type == case_type)
        return self.session.execute(stmt).scalars().all()

    def phones_under_review(self) -> set[str]:
        """Numbers a wrong-number case holds: no notice goes there. Every wrong-number case holds its
        number, whatever its status, until a colleague's decision lifts it (bot/services/decisions.py);
        closing a case alone never does."""
        stmt = select(Case.phone).where(Case.type == "wrong_number", Case.suppression_lifted_at.is_(None))
        return {p for p in self.session.execute(stmt).scalars() if p}

    def of_customer(self, customer_id: str, limit: int) -> Sequence[Case]:
        """The customer's latest cases of every type, newest first."""
        stmt = (
            select(Case)
            .where(Case.customer_id == customer_id)
            .order_by(Case.created_at.desc(), Case.id.desc())
            .limit(limit)
        )
        return self.session.execute(stmt).scalars().all()

    def add(self, case: Case, prefix: str) -> str:
        """Store a case and give it its reference, <PREFIX>-<year>-<id>."""
        self.session.add(case)
        self.session.flush()
        case.reference = f"{prefix}-{case.created_at.year}-{case.id:06d}"
        return case.reference

    def add_note(self, note: CaseNote) -> None:
        self.session.add(note)


Outbox = TypeVar("Outbox", HandoffTicket, SmsNotice)


def _claim(
    session: Session,
    model: type[Outbox],
    claimable: Any,
    lease_until: dt.datetime,
    token: str,
    limit: int,
    *options: Any,
) -> Sequence[Outbox]:
    """The outbox claim: mark up to ``limit`` claimable rows ``sending`` under ``token`` and return them.

    PostgreSQL skips rows another worker is claiming; the condition is repeated in the UPDATE so
    that on SQLite, which has no row locks, a row another worker claimed first is not taken.
    """
    ids = (
        session.execute(
            select(model.id).where(claimable).order_by(model.id).limit(limit).with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    if not ids:
        return []
    session.execute(
        update(model)
        .where(model.id.in_(ids), claimable)
        .values(status="sending", lease_expires_at=lease_until, claim_token=token, attempts=model.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    stmt = select(model).options(*options).where(model.claim_token == token).order_by(model.id)
    return session.execute(stmt.execution_options(populate_existing=True)).scalars().all()


def _finish(session: Session, model: type[Outbox], row_id: int, token: str, values: dict[str, object]) -> bool:
    """Record a send's result, only if the row is still ``sending`` under this claim; True if it was."""
    result = session.execute(
        update(model)
        .where(model.id == row_id, model.claim_token == token, model.status == "sending")
        .values(claim_token=None, lease_expires_at=None, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(cast(CursorResult, result).rowcount)  # type: ignore[type-arg]


def _ticket_claimable(now: dt.datetime) -> BooleanClauseList:  # type: ignore[type-arg]
    return or_(
        and_(HandoffTicket.status == "pending", HandoffTicket.next_attempt_at <= now),
        and_(HandoffTicket.status == "sending", HandoffTicket.lease_expires_at <= now),
    )


class SqlTicketRecords:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, ticket: HandoffTicket) -> str:
        """Store a ticket and give it its id, HO-<year>-<id>."""
        self.session.add(ticket)
        self.session.flush()
        ticket.ticket_id = f"HO-{ticket.created_at:%Y}-{ticket.id:06d}"
        return ticket.ticket_id

    def by_ticket_id(self, ticket_id: str) -> HandoffTicket | None:
        stmt = select(HandoffTicket).where(HandoffTicket.ticket_id == ticket_id)
        return self.session.execute(stmt).scalars().first()

    def latest(self, limit: int) -> Sequence[HandoffTicket]:
        return (
            self.session.execute(select(HandoffTicket).order_by(HandoffTicket.id.desc()).limit(limit)).scalars().all()
        )

    def pending(self, ticket_id: str | None) -> Sequence[HandoffTicket]:
        stmt = select(HandoffTicket).where(HandoffTicket.status == "pending")
        if ticket_id:
            stmt = stmt.where(HandoffTicket.ticket_id == ticket_id)
        return self.session.execute(stmt).scalars().all()

    def claim_due(self, now: dt.datetime, lease_until: dt.datetime, token: str, limit: int) -> Sequence[HandoffTicket]:
        """Mark up to ``limit`` due tickets (or ones whose lease expired) as ``sending`` under ``token``."""
        return _claim(self.session, HandoffTicket, _ticket_claimable(now), lease_until, token, limit)

    def _finish(self, ticket_id: int, token: str, **values: object) -> bool:
        return _finish(self.session, HandoffTicket, ticket_id, token, values)

    def record_delivered(self, ticket_id: int, token: str, at: dt.datetime, withdrawal: bool = False) -> bool:
        """The helpdesk accepted what was sent: the ticket (delivered, or pending again when the
        customer withdrew it meanwhile, so the helpdesk hears that too) or its withdrawal."""
        if withdrawal:
            return self._finish(ticket_id, token, status="withdrawn", last_error=None)
        status: Any = case((HandoffTicket.withdrawn_at.is_(None), "delivered"), else_="pending")
        return self._finish(ticket_id, token, status=status, delivered_at=at, next_attempt_at=at, last_error=None)

    def open_ticket_of(self, conversation_id: str) -> HandoffTicket | None:
        """The conversation's latest ticket that the customer has not withdrawn."""
        stmt = (
            select(HandoffTicket)
            .where(HandoffTicket.conversation_id == conversation_id, HandoffTicket.withdrawn_at.is_(None))
            .order_by(HandoffTicket.id.desc())
        )
        return self.session.execute(stmt).scalars().first()

    def record_failed(self, ticket_id: int, token: str, error: str, retry_at: dt.datetime) -> bool:
        return self._finish(ticket_id, token, status="pending", last_error=error[:200], next_attempt_at=retry_at)

    def add_message(self, message: AgentMessage) -> None:
        self.session.add(message)

    def unfetched_messages(self, conversation_id: str) -> Sequence[AgentMessage]:
        stmt = (
            select(AgentMessage)
            .where(AgentMessage.conversation_id == conversation_id, AgentMessage.fetched_at.is_(None))
            .order_by(AgentMessage.id)
        )
        return self.session.execute(stmt).scalars().all()

    def in_queue(self) -> Sequence[HandoffTicket]:
        """Tickets a person still has to handle: neither resolved nor withdrawn (oldest first)."""
        stmt = (
            select(HandoffTicket)
            .where(HandoffTicket.resolved_at.is_(None), HandoffTicket.withdrawn_at.is_(None))
            .order_by(HandoffTicket.created_at, HandoffTicket.id)
        )
        return self.session.execute(stmt).scalars().all()

    def latest_resolved_of(self, conversation_id: str, since: dt.datetime) -> HandoffTicket | None:
        stmt = (
            select(HandoffTicket)
            .where(HandoffTicket.conversation_id == conversation_id, HandoffTicket.resolved_at >= since)
            .order_by(HandoffTicket.resolved_at.desc(), HandoffTicket.id.desc())
            .limit(1)
        )
        return self.session.execute(stmt).scalars().first()

    def claim(self, ticket_id: str, username: str, now: dt.datetime, take_over: bool = False) -> bool:
        """Assign an open ticket in one statement: of two agents claiming at once exactly one wins.
        ``take_over`` (a transfer) assigns it whoever has it."""
        stmt = update(HandoffTicket).where(
            HandoffTicket.ticket_id == ticket_id,
            HandoffTicket.resolved_at.is_(None),
            HandoffTicket.withdrawn_at.is_(None),
        )
        if not take_over:
            stmt = stmt.where(HandoffTicket.assigned_to.is_(None))
        result = self.session.execute(
            stmt.values(assigned_to=username, claimed_at=now, last_agent_reply_at=None).execution_options(
                synchronize_session=False
            )
        )
        return cast(CursorResult, result).rowcount == 1  # type: ignore[type-arg]

    def release_idle(self, claimed_before: dt.datetime) -> Sequence[HandoffTicket]:
        """Open tickets claimed before ``claimed_before`` whose agent has not replied since: back to the queue."""
        stmt = select(HandoffTicket).where(
            HandoffTicket.resolved_at.is_(None),
            HandoffTicket.withdrawn_at.is_(None),
            HandoffTicket.assigned_to.is_not(None),
            HandoffTicket.claimed_at < claimed_before,
            or_(HandoffTicket.last_agent_reply_at.is_(None), HandoffTicket.last_agent_reply_at < claimed_before),
        )
        idle = self.session.execute(stmt.with_for_update(skip_locked=True)).scalars().all()
        for ticket in idle:
            ticket.assigned_to, ticket.claimed_at = None, None
        return idle


def _notice_claimable(now: dt.datetime) -> BooleanClauseList:  # type: ignore[type-arg]
    return or_(
        SmsNotice.status.in_(("pending", "failed")),
        and_(SmsNotice.status == "sending", SmsNotice.lease_expires_at <= now),
    )


class SqlNoticeRecords:
    def __init__(self, session: Session) -> None:
        self.session = session

    def of_customer(self, customer_id: str, since: dt.datetime) -> Sequence[tuple[SmsNotice, Instalment | None]]:
        stmt = (
            select(SmsNotice)
            .where(SmsNotice.customer_id == customer_id, SmsNotice.sent_at >= since)
            .order_by(SmsNotice.sent_at)
        )
        return [(n, n.instalment) for n in self.session.execute(stmt).scalars().all()]

    def times_by_instalment(
        self, instalment_ids: Iterable[int], before: dt.datetime
    ) -> dict[int, list[tuple[dt.datetime, str]]]:
        """When, and on which channel, notices about each instalment were recorded (not counting failed
        ones), before ``before``."""
        ids = list(instalment_ids)
        times: dict[int, list[tuple[dt.datetime, str]]] = {}
        for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
            stmt = select(SmsNotice.instalment_id, SmsNotice.sent_at, SmsNotice.channel).where(
                SmsNotice.instalment_id.in_(chunk), SmsNotice.status.in_(NOTICE_RECORDED), SmsNotice.sent_at < before
            )
            for instalment_id, sent_at, channel in self.session.execute(stmt):
                times.setdefault(instalment_id, []).append((sent_at, str(channel)))
        return times

    def counts_per_phone_since(self, since: dt.datetime) -> Counter[str]:
        """Notices that reached each number (SMS and calls; an in-app message reaches no number)."""
        stmt = (
            select(SmsNotice.phone, func.count())
            .where(
                SmsNotice.sent_at > since,
                SmsNotice.status.in_(NOTICE_RECORDED),
                SmsNotice.channel.in_(PHONE_CHANNELS),
            )
            .group_by(SmsNotice.phone)
        )
        return Counter({phone: int(count) for phone, count in self.session.execute(stmt)})

    def counts_per_customer_since(self, since: dt.datetime) -> Counter[str]:
        stmt = (
            select(SmsNotice.customer_id, func.count())
            .where(SmsNotice.sent_at > since, SmsNotice.status.in_(NOTICE_RECORDED))
            .group_by(SmsNotice.customer_id)
        )
        return Counter({customer_id: int(count) for customer_id, count in self.session.execute(stmt)})

    def keys_recorded_since(self, since: dt.datetime) -> set[str]:
        stmt = select(SmsNotice.idempotency_key).where(
            SmsNotice.idempotency_key.is_not(None), SmsNotice.sent_at >= since
        )
        return {k for k in self.session.execute(stmt).scalars() if k}

    def add(self, notice: SmsNotice) -> None:
        self.session.add(notice)

    def holds_on(self, day: dt.date) -> set[tuple[int, str]]:
        """(instalment id, reason) of every hold already recorded for ``day``."""
        stmt = select(NoticeHold.instalment_id, NoticeHold.reason).where(NoticeHold.day == day)
        return {(int(i), str(r)) for i, r in self.session.execute(stmt)}

    def add_hold(self, hold: NoticeHold) -> None:
        self.session.add(hold)

    def to_phone(self, phone: str) -> Sequence[SmsNotice]:
        """Every notice that reached ``phone`` (SMS and calls, corrections included), oldest first."""
        stmt = (
            select(SmsNotice)
            .where(SmsNotice.phone == phone, SmsNotice.channel.in_(PHONE_CHANNELS))
            .order_by(SmsNotice.sent_at, SmsNotice.id)
        )
        return self.session.execute(stmt.options(noload(SmsNotice.instalment))).scalars().all()

    def holds_of(self, customer_id: str, since: dt.date) -> list[tuple[dt.date, str]]:
        """(day, reason) of the holds on a customer's notices from ``since`` on, oldest first."""
        stmt = (
            select(NoticeHold.day, NoticeHold.reason)
            .where(NoticeHold.customer_id == customer_id, NoticeHold.day >= since)
            .order_by(NoticeHold.day, NoticeHold.reason)
        )
        return [(d, str(r)) for d, r in self.session.execute(stmt)]

    def claim_unsent(
        self,
        now: dt.datetime,
        lease_until: dt.datetime,
        token: str,
        limit: int,
        after_id: int = 0,
        channel: str = "sms",
    ) -> Sequence[SmsNotice]:
        """Mark up to ``limit`` unsent notices of ``channel`` (pending, failed, or with an expired lease)
        with ids above ``after_id`` as ``sending``."""
        claimable = and_(SmsNotice.id > after_id, SmsNotice.channel == channel, _notice_claimable(now))
        # Sending needs only the notice itself, not its (eagerly joined) instalment.
        return _claim(self.session, SmsNotice, claimable, lease_until, token, limit, noload(SmsNotice.instalment))

    def _finish(self, notice_id: int, token: str, **values: object) -> bool:
        return _finish(self.session, SmsNotice, notice_id, token, values)

    def record_sent(self, notice_id: int, token: str, at: dt.datetime) -> bool:
        return self._finish(notice_id, token, status="sent", delivered_at=at, last_error=None)

    def record_failed(self, notice_id: int, token: str, error: str) -> bool:
        return self._finish(notice_id, token, status="failed", last_error=error[:200])


class SqlContactPreferenceRecords:
    def __init__(self, session: Session) -> None:
        self.session = session

    def of(self, customer_id: str) -> ContactPreference | None:
        return self.session.get(ContactPreference, customer_id)

    def of_customers(self, customer_ids: Iterable[str]) -> dict[str, ContactPreference]:
        ids = sorted(set(customer_ids))
        found: dict[str, ContactPreference] = {}
        for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
            stmt = select(ContactPreference).where(ContactPreference.customer_id.in_(chunk))
            found.update({p.customer_id: p for p in self.session.execute(stmt).scalars()})
        return found

    def add(self, preference: ContactPreference) -> None:
        self.session.add(preference)


class SqlVulnerabilityRecords:
    def __init__(self, session: Session) -> None:
        self.session = session

    def active_of(self, customer_id: str) -> VulnerabilityFlag | None:
        stmt = select(VulnerabilityFlag).where(
            VulnerabilityFlag.customer_id == customer_id, VulnerabilityFlag.cleared_at.is_(None)
        )
        return self.session.execute(stmt).scalars().first()

    def flagged_customers(self) -> set[str]:
        """Customers with an active flag: the notice engine writes to them with care."""
        stmt = select(VulnerabilityFlag.customer_id).where(VulnerabilityFlag.cleared_at.is_(None))
        return set(self.session.execute(stmt).scalars())

    def add(self, flag: VulnerabilityFlag) -> None:
        self.session.add(flag)
        self.session.flush()  # a second active flag of the customer fails here, inside the use case


class SqlStaffRecords:
    def __init__(self, session: Session) -> None:
        self.session = session

    def account(self, username: str) -> StaffAccount | None:
        stmt = select(StaffAccount).where(StaffAccount.username == username)
        return self.session.execute(stmt).scalars().first()

    def accounts(self) -> Sequence[StaffAccount]:
        return self.session.execute(select(StaffAccount).order_by(StaffAccount.username)).scalars().all()

    def add_account(self, account: StaffAccount) -> None:
        self.session.add(account)
        self.session.flush()

    def add_session(self, session: StaffSession) -> None:
        self.session.add(session)

    def login_by_hash(self, token_hash: str) -> StaffSession | None:
        stmt = select(StaffSession).where(StaffSession.token_hash == token_hash)
        return self.session.execute(stmt).scalars().first()

    def audit(self, entry: AuditEntry) -> None:
        self.session.add(entry)

    def audit_entries(self, limit: int, action: str | None = None) -> Sequence[AuditEntry]:
        stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if action:
            stmt = stmt.where(AuditEntry.action == action)
        return self.session.execute(stmt).scalars().all()

    def add_note(self, note: AgentNote) -> None:
        self.session.add(note)

    def notes_of(self, ticket_id: str) -> Sequence[AgentNote]:
        stmt = select(AgentNote).where(AgentNote.ticket_id == ticket_id).order_by(AgentNote.id)
        return self.session.execute(stmt).scalars().all()


class SqlChatRecords:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock_conversation(self, conversation_id: str) -> None:
        """Writers of one conversation's lines take turns until commit: on PostgreSQL a transaction-scoped
        advisory lock; on SQLite the database's write lock, taken now (by a write that changes nothing)
        so that the last line is read inside it. The unique number catches anything else."""
        dialect = self.session.get_bind().dialect.name
        if dialect == "postgresql":
            self.session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(conversation_id, 0))))
        elif dialect == "sqlite":
            self.session.execute(update(ChatEntry).where(literal(False)).values(seq=ChatEntry.seq))

    def last(self, conversation_id: str) -> ChatEntry | None:
        stmt = select(ChatEntry).where(ChatEntry.conversation_id == conversation_id).order_by(ChatEntry.seq.desc())
        return self.session.execute(stmt.limit(1)).scalars().first()

    def add(self, entry: ChatEntry) -> None:
        self.session.add(entry)
        self.session.flush()  # a concurrent writer's line with the same seq fails here, inside the use case

    def after(self, conversation_id: str, seq: int, limit: int) -> Sequence[ChatEntry]:
        stmt = (
            select(ChatEntry)
            .where(ChatEntry.conversation_id == conversation_id, ChatEntry.seq > seq)
            .order_by(ChatEntry.seq)
            .limit(limit)
        )
        return self.session.execute(stmt).scalars().all()

    def of_session(self, conversation_id: str, session: int, limit: int) -> Sequence[ChatEntry]:
        """The session's last ``limit`` lines, oldest first."""
        stmt = (
            select(ChatEntry)
            .where(ChatEntry.conversation_id == conversation_id, ChatEntry.chat_session == session)
            .order_by(ChatEntry.seq.desc())
            .limit(limit)
        )
        return list(reversed(self.session.execute(stmt).scalars().all()))

    def add_rating(self, rating: ChatRating) -> None:
        self.session.add(rating)
        self.session.flush()

    def rating_of(self, conversation_id: str, session: int) -> ChatRating | None:
        stmt = select(ChatRating).where(
            ChatRating.conversation_id == conversation_id, ChatRating.chat_session == session
        )
        return self.session.execute(stmt).scalars().first()


#: The analytics consumer's table (bot/analytics); read here as a plain table for the reports.
_ANALYTICS_EVENTS = sa_table(
    "analytics_events",
    sa_column("conversation_id"),
    sa_column("verified", Boolean),
    sa_column("event_type"),
    sa_column("name"),
    sa_column("intent_confidence", Float),
    sa_column("text"),
    sa_column("value"),
    sa_column("at", DateTime),
)


class SqlReportRecords:
    """What the analytics report reads: the stored events (UTC ``at``) and the records (bank-local times)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def events_between(self, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
        t = _ANALYTICS_EVENTS
        stmt = select(t).where(t.c.at >= start, t.c.at < end).order_by(t.c.conversation_id, t.c.at)
        return [dict(row._mapping) for row in self.session.execute(stmt)]

    def tickets_between(self, start: dt.datetime, end: dt.datetime) -> Sequence[HandoffTicket]:
        stmt = select(HandoffTicket).where(HandoffTicket.created_at >= start, HandoffTicket.created_at < end)
        return self.session.execute(stmt.order_by(HandoffTicket.id)).scalars().all()

    def first_agent_reply_after(self, conversation_id: str, after: dt.datetime) -> dt.datetime | None:
        stmt = select(func.min(AgentMessage.created_at)).where(
            AgentMessage.conversation_id == conversation_id,
            AgentMessage.sender == "agent",
            AgentMessage.created_at >= after,
        )
        return self.session.execute(stmt).scalar()

    def ratings_between(self, start: dt.datetime, end: dt.datetime) -> Sequence[ChatRating]:
        stmt = select(ChatRating).where(ChatRating.created_at >= start, ChatRating.created_at < end)
        return self.session.execute(stmt).scalars().all()

    def notice_counts_between(self, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
        stmt = (
            select(SmsNotice.status, func.count())
            .where(SmsNotice.sent_at >= start, SmsNotice.sent_at < end)
            .group_by(SmsNotice.status)
        )
        return {str(status): int(n) for status, n in self.session.execute(stmt)}

    def hold_counts_between(self, first_day: dt.date, last_day: dt.date) -> dict[str, int]:
        """Held-back notices (instalment-days) by reason, for the bank days ``first_day``..``last_day``."""
        stmt = (
            select(NoticeHold.reason, func.count())
            .where(NoticeHold.day >= first_day, NoticeHold.day <= last_day)
            .group_by(NoticeHold.reason)
        )
        return {str(reason): int(n) for reason, n in self.session.execute(stmt)}

    def case_counts_between(self, start: dt.datetime, end: dt.datetime) -> dict[tuple[str, str], int]:
        stmt = (
            select(Case.type, Case.status, func.count())
            .where(Case.created_at >= start, Case.created_at < end)
            .group_by(Case.type, Case.status)
        )
        return {(str(kind), str(status)): int(n) for kind, status, n in self.session.execute(stmt)}

    def extension_counts_between(self, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
        stmt = (
            select(ExtensionRequest.status, func.count())
            .where(ExtensionRequest.created_at >= start, ExtensionRequest.created_at < end)
            .group_by(ExtensionRequest.status)
        )
        return {str(status): int(n) for status, n in self.session.execute(stmt)}


class SqlAnalyticsRecords:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_events(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert analytics events; a row whose ``event_key`` is already stored is skipped. Returns how many were new."""
        return _insert_new(self.session, AnalyticsEvent, "event_key", rows)

    def add_rejects(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert rejected messages; one already stored (same ``reject_key``) is skipped. Returns how many were new."""
        return _insert_new(self.session, AnalyticsReject, "reject_key", rows)

    def cursor(self, name: str) -> int:
        """The last id read from the source ``name`` (0 before the first read)."""
        stmt = select(AnalyticsCursor.last_id).where(AnalyticsCursor.name == name)
        return int(self.session.execute(stmt).scalar() or 0)

    def move_cursor(self, name: str, last_id: int, at: dt.datetime) -> None:
        cursor = self.session.get(AnalyticsCursor, name)
        if cursor is None:
            self.session.add(AnalyticsCursor(name=name, last_id=last_id, updated_at=at))
        else:
            cursor.last_id, cursor.updated_at = last_id, at


def _insert_new(
    session: Session, model: type[AnalyticsEvent] | type[AnalyticsReject], key: str, rows: Sequence[dict[str, Any]]
) -> int:
    """INSERT ... ON CONFLICT (key) DO NOTHING of every row, as one executemany (PostgreSQL and SQLite);
    returns how many rows were new.

    Only a conflict on ``key`` is ignored (unlike SQLite's INSERT OR IGNORE, which would also drop a row
    breaking any other constraint). The statement is compiled once and cached, where a multi-row VALUES
    would be compiled anew for every batch (5x slower here). Rows go in key order, so two writers
    inserting overlapping batches (a consumer and a reconcile) take the key locks in the same order
    and cannot deadlock.
    """
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[no-redef]
    else:  # pragma: no cover - the bot runs on these two
        raise NotImplementedError(f"no idempotent insert for {dialect}")
    ordered = sorted(rows, key=lambda row: row[key])
    stmt = dialect_insert(model).on_conflict_do_nothing(index_elements=[key])
    if dialect == "postgresql":
        # psycopg2 runs it as pages of multi-row VALUES; RETURNING names the rows inserted (rowcount would
        # count only the last page).
        return len(session.execute(stmt.returning(model.id), ordered).all())
    return cast(CursorResult, session.execute(stmt, ordered)).rowcount  # type: ignore[type-arg]  # sqlite3 sums executemany


#: What the conversation review reads of a stored event.
_REVIEW_COLUMNS = (
    AnalyticsEvent.id,
    AnalyticsEvent.event_key,
    AnalyticsEvent.conversation_id,
    AnalyticsEvent.verified,
    AnalyticsEvent.event_type,
    AnalyticsEvent.name,
    AnalyticsEvent.intent_confidence,
    AnalyticsEvent.text,
    AnalyticsEvent.value,
    AnalyticsEvent.at,
)


def _chunks(items: Iterable[str], size: int = 500) -> Iterable[list[str]]:
    ordered = sorted(set(items))
    for i in range(0, len(ordered), size):
        yield ordered[i : i + size]


class SqlReviewRecords:
    """The conversation review: stored events (``at`` naive UTC) read by period or conversation, and the
    supervisors' tags on sessions and intent marks on user messages."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def events_between(
        self, start: dt.datetime, end: dt.datetime, conversation_ids: Sequence[str] | None, verified: bool | None
    ) -> list[dict[str, Any]]:
        """Every event from ``start`` to before ``end``, of the given conversations only (all when None),
        of verified or anonymous conversations only (both when None); by conversation, then time."""
        e = AnalyticsEvent
        stmt = select(*_REVIEW_COLUMNS).where(e.at >= start, e.at < end)
        if verified is not None:
            stmt = stmt.where(e.verified.is_(verified))
        stmt = stmt.order_by(e.conversation_id, e.at, e.id)
        if conversation_ids is None:
            return [dict(row._mapping) for row in self.session.execute(stmt)]
        rows: list[dict[str, Any]] = []
        for chunk in _chunks(conversation_ids):
            rows += [dict(row._mapping) for row in self.session.execute(stmt.where(e.conversation_id.in_(chunk)))]
        return rows

    def conversations_with(
        self, start: dt.datetime, end: dt.datetime, intent: str | None = None, below: float | None = None
    ) -> set[str]:
        """Conversations with a user message from ``start`` to before ``end`` with that intent and/or a
        confidence below ``below``."""
        e = AnalyticsEvent
        stmt = select(e.conversation_id).distinct().where(e.event_type == "user", e.at >= start, e.at < end)
        if intent is not None:
            stmt = stmt.where(e.name == intent)
        if below is not None:
            stmt = stmt.where(e.intent_confidence < below)
        return set(self.session.execute(stmt).scalars())

    def event(self, event_key: str) -> dict[str, Any] | None:
        stmt = select(*_REVIEW_COLUMNS).where(AnalyticsEvent.event_key == event_key)
        row = self.session.execute(stmt).first()
        return dict(row._mapping) if row is not None else None

    def has_event_at(self, conversation_id: str, at: dt.datetime) -> bool:
        e = AnalyticsEvent
        stmt = select(e.id).where(e.conversation_id == conversation_id, e.at == at)
        return self.session.execute(stmt.limit(1)).first() is not None

    def tags_of(self, conversation_ids: Iterable[str]) -> Sequence[ReviewTag]:
        tags: list[ReviewTag] = []
        for chunk in _chunks(conversation_ids):
            stmt = select(ReviewTag).where(ReviewTag.conversation_id.in_(chunk)).order_by(ReviewTag.id)
            tags += self.session.execute(stmt).scalars().all()
        return tags

    def tagged(self, tag: str, start: dt.datetime, end: dt.datetime) -> set[str]:
        """Conversations with a session tagged ``tag`` that started from ``start`` to before ``end``."""
        stmt = select(ReviewTag.conversation_id).where(
            ReviewTag.tag == tag, ReviewTag.started_at >= start, ReviewTag.started_at < end
        )
        return set(self.session.execute(stmt).scalars())

    def tag(self, conversation_id: str, started_at: dt.datetime, tag: str) -> ReviewTag | None:
        stmt = select(ReviewTag).where(
            ReviewTag.conversation_id == conversation_id, ReviewTag.started_at == started_at, ReviewTag.tag == tag
        )
        return self.session.execute(stmt).scalars().first()

    def add_tag(self, tag: ReviewTag) -> None:
        self.session.add(tag)
        self.session.flush()  # the same tag added concurrently fails here, inside the use case

    def remove(self, record: ReviewTag | ReviewMark) -> None:
        self.session.delete(record)

    def marks_of(self, event_keys: Iterable[str]) -> Sequence[ReviewMark]:
        marks: list[ReviewMark] = []
        for chunk in _chunks(event_keys):
            marks += self.session.execute(select(ReviewMark).where(ReviewMark.event_key.in_(chunk))).scalars().all()
        return marks

    def mark(self, event_key: str) -> ReviewMark | None:
        return self.session.execute(select(ReviewMark).where(ReviewMark.event_key == event_key)).scalars().first()

    def add_mark(self, mark: ReviewMark) -> None:
        self.session.add(mark)
        self.session.flush()  # a concurrent first mark of the same message fails here, inside the use case

    def marks_between(self, start: dt.datetime | None, end: dt.datetime | None) -> Sequence[ReviewMark]:
        """Marks made from ``start`` to before ``end`` (bank-local; either bound may be open), oldest first."""
        stmt = select(ReviewMark)
        if start is not None:
            stmt = stmt.where(ReviewMark.marked_at >= start)
        if end is not None:
            stmt = stmt.where(ReviewMark.marked_at < end)
        return self.session.execute(stmt.order_by(ReviewMark.marked_at, ReviewMark.id)).scalars().all()
