"""Loan records: customers, loans, the instalment schedule, repayments, the SMS notice log, cases,
handoff tickets, the care flags customers asked for, the chat as the customer saw it, the
analytics events of every conversation, and the conversation review's tags and marks.

Times are naive datetimes in the bank's local time zone (Asia/Shanghai by default), except
``analytics_events.at``, Rasa's event instant as naive UTC; dates are calendar dates in that zone.
Money is Decimal in Numeric(12, 2).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, declarative_base, relationship
from sqlalchemy.sql.schema import Column, MetaData
from sqlalchemy.types import TypeDecorator, TypeEngine

# Deterministic constraint names so Alembic migrations are portable across SQLite and PostgreSQL.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
Base = declarative_base(metadata=metadata)


class Money(TypeDecorator):  # type: ignore[type-arg]
    """Numeric(12, 2) as Decimal on every database.

    PostgreSQL stores exact numerics. SQLite has no decimal type, so values are bound as
    text and read back through str(), never through binary float arithmetic.
    """

    impl = Numeric(12, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(24))  # type: ignore[arg-type]  # stubs want a class; an instance is right
        return dialect.type_descriptor(Numeric(12, 2, asdecimal=True))  # type: ignore[arg-type]

    def process_bind_param(self, value: Any, dialect: Dialect) -> Decimal | str | None:
        if value is None:
            return None
        value = Decimal(value).quantize(Decimal("0.01"))
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)).quantize(Decimal("0.01"))


class Customer(Base):
    __tablename__ = "customers"

    id: str = Column(String(32), primary_key=True)
    name: str = Column(String(100), nullable=False)
    phone: str = Column(String(20), nullable=False, index=True)
    language: str = Column(String(2), nullable=False, default="zh")
    created_at: dt.datetime = Column(DateTime, nullable=False)

    loans: Mapped[list[Loan]] = relationship("Loan", back_populates="customer", order_by="Loan.id")


class Loan(Base):
    __tablename__ = "loans"

    id: str = Column(String(32), primary_key=True)
    customer_id: str = Column(ForeignKey("customers.id"), nullable=False, index=True)
    principal: Decimal = Column(Money(), nullable=False)
    disbursed_on: dt.date = Column(Date, nullable=False)
    status: str = Column(String(16), nullable=False, default="active")
    # Set while the customer disputes the loan (identity misuse); notices and self-service pause.
    disputed_at: Mapped[dt.datetime | None] = Column(DateTime, nullable=True)  # type: ignore[misc]  # plugin ignores nullable

    customer: Mapped[Customer] = relationship("Customer", back_populates="loans")
    instalments: Mapped[list[Instalment]] = relationship("Instalment", back_populates="loan", order_by="Instalment.seq")


class Instalment(Base):
    """One scheduled repayment of a loan. Settled when ``paid_at`` is set."""

    __tablename__ = "instalments"
    __table_args__ = (
        UniqueConstraint("loan_id", "seq", name="uq_instalments_loan_id_seq"),
        # Overdue lookups: unpaid instalments of a loan ordered by due date.
        Index("ix_instalments_loan_unpaid", "loan_id", "paid_at", "due_date"),
        Index("ix_instalments_extension_id", "extension_id"),
    )

    id: int = Column(Integer, primary_key=True, autoincrement=True)
    loan_id: str = Column(ForeignKey("loans.id"), nullable=False)
    seq: int = Column(Integer, nullable=False)
    due_date: dt.date = Column(Date, nullable=False)
    amount: Decimal = Column(Money(), nullable=False)
    paid_at: Mapped[dt.datetime | None] = Column(DateTime, nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    # "scheduled", or "rescheduled" once an approved extension or plan replaced it.
    status: str = Column(String(16), nullable=False, default="scheduled", server_default="scheduled")
    # Set on the new instalments that an approved extension or plan created.
    extension_id: int | None = Column(ForeignKey("extension_requests.id"), nullable=True)

    loan: Mapped[Loan] = relationship("Loan", back_populates="instalments")


class Repayment(Base):
    """Money received. ``posted_at`` is when it was applied to the loan (None: still pending)."""

    __tablename__ = "repayments"
    __table_args__ = (Index("ix_repayments_loan_paid", "loan_id", "paid_at"),)

    id: int = Column(Integer, primary_key=True, autoincrement=True)
    loan_id: str = Column(ForeignKey("loans.id"), nullable=False)
    instalment_id: int | None = Column(ForeignKey("instalments.id"), nullable=True)
    amount: Decimal = Column(Money(), nullable=False)
    channel: str = Column(String(24), nullable=False)
    paid_at: dt.datetime = Column(DateTime, nullable=False)
    posted_at: Mapped[dt.datetime | None] = Column(DateTime, nullable=True)  # type: ignore[misc]  # plugin ignores nullable

    instalment: Mapped[Instalment | None] = relationship("Instalment")


class SmsNotice(Base):
    """The log of overdue notices sent: which number, which template, when, about what."""

    __tablename__ = "sms_notices"
    __table_args__ = (
        Index("ix_sms_notices_customer_sent", "customer_id", "sent_at"),
        Index("ix_sms_notices_status", "status"),
    )

    id: int = Column(Integer, primary_key=True, autoincrement=True)
    customer_id: str = Column(ForeignKey("customers.id"), nullable=False)
    loan_id: str = Column(ForeignKey("loans.id"), nullable=False)
    instalment_id: int | None = Column(ForeignKey("instalments.id"), nullable=True)
    phone: str = Column(String(20), nullable=False, index=True)
    template: str = Column(String(40), nullable=False)
    reason: str = Column(String(200), nullable=False)
    sent_at: dt.datetime = Column(DateTime, nullable=False)
    # Outbox: recorded as "pending" before the gateway is called, "sending" while a sender holds
    # it, then "sent" or "failed".
    status: str = Column(String(12), nullable=False, default="sent", server_default="sent")
    attempts: int = Column(Integer, nullable=False, default=0, server_default="0")
    last_error: str | None = Column(String(200), nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    delivered_at: dt.datetime | None = Column(DateTime, nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    text: str | None = Column(String(500), nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    # One notice per instalment per day: a rerun of the same day finds it and sends nothing twice.
    idempotency_key: str | None = Column(String(64), nullable=True, unique=True)  # type: ignore[misc]  # plugin ignores nullable
    # While "sending": who claimed it and until when (bot.repository, the outbox protocol).
    claim_token: str | None = Column(String(32), nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    lease_expires_at: dt.datetime | None = Column(DateTime, nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    # The borrower's segment when it was sent (config/notice_segments.yml) and the facts that placed
    # them there (JSON: days_overdue, paid_late_before, on_plan, hardship); None for older notices.
    segment: str | None = Column(String(32), nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    segment_facts: str | None = Column(Text, nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    # Corrections: when this notice was found sent in error and a correction recorded for it, and on
    # a correction (template correction*), the notice it corrects.
    corrected_at: dt.datetime | None = Column(DateTime, nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    corrects_notice_id: int | None = Column(ForeignKey("sms_notices.id"), nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    # Where it goes (bot.domain.notices.CHANNELS): "sms" to ``phone``; "in_app" into the verified
    # customer's own chat (conversation customer:<customer_id>; ``phone`` is kept as the number on
    # record, nothing is sent to it); "call" a call task handed to the dialer for ``phone``.
    channel: str = Column(String(8), nullable=False, default="sms", server_default="sms")
    # A call task's script in both languages (JSON {"zh", "en"}); ``text`` holds the customer's one.
    call_script: str | None = Column(Text, nullable=True)  # type: ignore[misc]  # plugin ignores nullable

    instalment: Mapped[Instalment | None] = relationship("Instalment", lazy="joined")


class ContactPreference(Base):
    """How a customer asked to be contacted about overdue instalments, respected where the notice
    rules allow (bot.domain.notices.apply_preferences): no calls, and in-app or SMS for written notices."""

    __tablename__ = "contact_preferences"

    customer_id: str = Column(ForeignKey("customers.id"), primary_key=True)
    no_calls: bool = Column(Boolean, nullable=False, default=False)
    # in_app | sms | None (no preference: the segment's channel)
    prefer: str | None = Column(String(8), nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    updated_at: dt.datetime = Column(DateTime, nullable=False)


class NoticeHold(Base):
    """A notice the collection rules held back: which instalment, on which bank day, and why
    (quiet hours, the caps, the cadence, a dispute, ...). One row per instalment, day and reason,
    however often the engine runs that day; the report counts them (docs/analytics.md)."""

    __tablename__ = "notice_holds"
    __table_args__ = (
        UniqueConstraint("instalment_id", "day", "reason", name="uq_notice_holds_instalment_day_reason"),
        Index("ix_notice_holds_day", "day"),
    )

    id: int = Column(Integer, primary_key=True, autoincrement=True)
    instalment_id: int = Column(ForeignKey("instalments.id"), nullable=False)
    customer_id: str = Column(ForeignKey("customers.id"), nullable=False)
    loan_id: str = Column(ForeignKey("loans.id"), nullable=False)
    day: dt.date = Column(Date, nullable=False)
    reason: str = Column(String(40), nullable=False)
    #: The first run that day that held it back (bank-local time).
    first_at: dt.datetime = Column(DateTime, nullable=False)


class ExtensionRequest(Base):
    """A customer's request to defer or split overdue instalments, and what was decided."""

    __tablename__ = "extension_requests"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_extension_requests_idempotency_key"),
        # The queue of referred requests a colleague decides, oldest first.
        Index("ix_extension_requests_status_created", "status", "created_at"),
    )

    id: int = Column(Integer, primary_key=True, autoincrement=True)
    reference: str | None = Column(String(20), nullable=True, unique=True)  # type: ignore[misc]  # plugin ignores nullable
    customer_id: str = Column(ForeignKey("customers.id"), nullable=False, index=True)
    loan_id: str = Column(ForeignKey("loans.id"), nullable=False, index=True)
    # approved | referred | rejected | cancelled
    status: str = Column(String(16), nullable=False)
    reason_code: str = Column(String(24), nullable=False)
    reason_text: str = Column(String(500), nullable=False, default="")
    option: str | None = Column(String(16), nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    terms: str | None = Column(String(4000), nullable=True)  # type: ignore[misc]  # JSON of the agreed schedule; plugin ignores nullable
    rationale: str = Column(String(200), nullable=False)
    idempotency_key: str = Column(String(64), nullable=False)
    created_at: dt.datetime = Column(DateTime, nullable=False)
    # A colleague's decision on a referred request (bot/services/decisions.py); unset for self-service.
    decided_by: str | None = Column(String(40), nullable=True)  # type: ignore[misc]  # staff username; plugin ignores nullable
    decided_at: dt.datetime | None = Column(DateTime, nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    # The rejection reason (bot.services.decisions.REJECTION_REASONS); unset for an approval.
    decision_reason: str | None = Column(String(32), nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    decision_note: str | None = Column(String(500), nullable=True)  # type: ignore[misc]  # internal, never shown to the customer; plugin ignores nullable
    # What the customer asked for when the colleague approved another option (``option`` is the plan's).
    requested_option: str | None = Column(String(16), nullable=True)  # type: ignore[misc]  # plugin ignores nullable


class Case(Base):
    """A fraud-related case: identity misuse, wrong number, or scam report. Minimal fields only."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_cases_idempotency_key"),
        Index("ix_cases_phone_type_status", "phone", "type", "status"),
    )

    id: int = Column(Integer, primary_key=True, autoincrement=True)
    reference: str | None = Column(String(20), nullable=True, unique=True)  # type: ignore[misc]  # plugin ignores nullable
    # identity_misuse | wrong_number | scam_report | complaint
    type: str = Column(String(20), nullable=False)
    # open | under_review (as the bot opens them) | investigating | confirmed | closed (final);
    # bot/services/decisions.py moves them on, with a CaseNote each time.
    status: str = Column(String(16), nullable=False)
    urgent: bool = Column(Boolean, nullable=False, default=False)
    customer_id: str | None = Column(ForeignKey("customers.id"), nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    loan_id: str | None = Column(ForeignKey("loans.id"), nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    # The number the texts arrive at (wrong-number cases), given with consent.
    phone: str | None = Column(String(20), nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    conversation_id: str = Column(String(80), nullable=False)
    details: str = Column(String(500), nullable=False, default="")
    consent_at: dt.datetime | None = Column(DateTime, nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    idempotency_key: str = Column(String(64), nullable=False)
    created_at: dt.datetime = Column(DateTime, nullable=False)
    updated_at: dt.datetime = Column(DateTime, nullable=False)
    # Wrong-number cases hold notices to ``phone`` until this is set: only when a colleague closes a
    # confirmed case and asks for it, once no customer's record carries the number (decisions.py).
    suppression_lifted_at: dt.datetime | None = Column(DateTime, nullable=True)  # type: ignore[misc]  # plugin ignores nullable


class CaseNote(Base):
    """A colleague's status change on a case, with their note: the case's history (who, when, why)."""

    __tablename__ = "case_notes"

    id: int = Column(Integer, primary_key=True, autoincrement=True)
    case_id: int = Column(ForeignKey("cases.id"), nullable=False, index=True)
    staff: str = Column(String(40), nullable=False)
    from_status: str = Column(String(16), nullable=False)
    to_status: str = Column(String(16), nullable=False)
    note: str = Column(String(1000), nullable=False, default="")
    created_at: dt.datetime = Column(DateTime, nullable=False)


class HandoffTicket(Base):
    """A conversation handed to a person. Stored first, then delivered to the helpdesk (outbox)."""

    __tablename__ = "handoff_tickets"
    __table_args__ = (Index("ix_handoff_tickets_status_next", "status", "next_attempt_at"),)

    id: int = Column(Integer, primary_key=True, autoincrement=True)
    ticket_id: str = Column(String(40), nullable=False, unique=True)
    conversation_id: str = Column(String(80), nullable=False, index=True)
    customer_id: str | None = Column(String(32), nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    # request_human | low_confidence | complaint | extension_referral | urgent_scam
    reason: str = Column(String(24), nullable=False)
    language: str = Column(String(2), nullable=False)
    # normal | high | urgent
    priority: str = Column(String(8), nullable=False)
    summary: str = Column(String(2000), nullable=False)
    transcript: str = Column(String(100000), nullable=False)  # JSON list, secrets masked
    # pending | sending (claimed by a worker until lease_expires_at) | delivered | withdrawn.
    # A ticket the customer withdrew after the helpdesk had it is pending again with withdrawn_at
    # set, until the helpdesk has been told.
    status: str = Column(String(12), nullable=False, default="pending")
    attempts: int = Column(Integer, nullable=False, default=0)
    last_error: str | None = Column(String(200), nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    next_attempt_at: dt.datetime = Column(DateTime, nullable=False)
    delivered_at: dt.datetime | None = Column(DateTime, nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    created_at: dt.datetime = Column(DateTime, nullable=False)
    claim_token: str | None = Column(String(32), nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    lease_expires_at: dt.datetime | None = Column(DateTime, nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    withdrawn_at: dt.datetime | None = Column(DateTime, nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    # The agent console (bot/services/console.py): who has the ticket, since when, their last reply,
    # and how it ended. A ticket is in the queue while neither resolved nor withdrawn.
    assigned_to: str | None = Column(String(40), nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    claimed_at: dt.datetime | None = Column(DateTime, nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    last_agent_reply_at: dt.datetime | None = Column(DateTime, nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    resolved_at: dt.datetime | None = Column(DateTime, nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    resolved_by: str | None = Column(String(40), nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    outcome: str | None = Column(String(200), nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    # The customer's 1-5 answer to "how was this chat?" after the agent handed back.
    rating: int | None = Column(Integer, nullable=True)  # type: ignore[misc]  # plugin ignores nullable


class AgentMessage(Base):
    """A message from a support agent to a customer's app, waiting to be fetched over the in-app channel."""

    __tablename__ = "agent_messages"

    id: int = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id: str = Column(String(80), nullable=False, index=True)
    sender: str = Column(String(12), nullable=False)  # agent | bot
    text: str = Column(String(2000), nullable=False)
    created_at: dt.datetime = Column(DateTime, nullable=False)
    fetched_at: dt.datetime | None = Column(DateTime, nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    # Its line in the chat (ChatEntry.seq), so a page that already showed it from the stream skips it.
    chat_seq: int | None = Column(Integer, nullable=True)  # type: ignore[misc]  # plugin ignores nullable


class VulnerabilityFlag(Base):
    """A difficult situation the customer asked us to note (bot.domain.care); active until ``cleared_at``.

    It exists only because the customer consented (``consent_at``) and ends when they withdraw it.
    A customer has at most one active flag; the partial unique index makes a concurrent second
    recording fail instead of adding a twin.
    """

    __tablename__ = "vulnerability_flags"
    __table_args__ = (
        Index(
            "uq_vulnerability_flags_active_customer",
            "customer_id",
            unique=True,
            postgresql_where=text("cleared_at IS NULL"),
            sqlite_where=text("cleared_at IS NULL"),
        ),
    )

    id: int = Column(Integer, primary_key=True, autoincrement=True)
    customer_id: str = Column(ForeignKey("customers.id"), nullable=False, index=True)
    # distress | self_harm | illness | job_loss | hardship (bot.domain.care.VULNERABILITY_REASONS)
    reason: str = Column(String(16), nullable=False)
    conversation_id: str = Column(String(80), nullable=False)
    consent_at: dt.datetime = Column(DateTime, nullable=False)
    created_at: dt.datetime = Column(DateTime, nullable=False)
    # Set when the customer withdrew consent.
    cleared_at: dt.datetime | None = Column(DateTime, nullable=True)  # type: ignore[misc]  # plugin ignores nullable


class ChatEntry(Base):
    """One line of the chat as the customer sees it (the chat page's history and live stream).

    ``seq`` numbers a conversation's lines 1, 2, 3 ... in the order they were committed (the
    unique constraint makes a concurrent writer retry with the next number), so a page that saw
    line n asks for the lines after n and misses none. ``chat_session`` groups them as the page shows
    them: a customer message after the chat ended or after the idle time starts the next one.
    """

    __tablename__ = "chat_entries"
    __table_args__ = (UniqueConstraint("conversation_id", "seq"),)

    id: int = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id: str = Column(String(80), nullable=False)
    seq: int = Column(Integer, nullable=False)
    chat_session: int = Column(Integer, nullable=False)
    # user | bot | agent | status
    kind: str = Column(String(8), nullable=False)
    text: str = Column(Text, nullable=False, default="")
    # JSON list of {"title", "payload"} (bot lines with buttons)
    buttons: str | None = Column(Text, nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    # status lines: queued | agent_joined | bot_back | ended
    status: str | None = Column(String(16), nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    created_at: dt.datetime = Column(DateTime, nullable=False)


class ChatRating(Base):
    """The customer's answer to "how was this chat?" (1-5) when they end a chat; one per chat session."""

    __tablename__ = "chat_ratings"
    __table_args__ = (UniqueConstraint("conversation_id", "chat_session"),)

    id: int = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id: str = Column(String(80), nullable=False)
    chat_session: int = Column(Integer, nullable=False)
    customer_id: str | None = Column(String(32), nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    language: str = Column(String(2), nullable=False)
    rating: int = Column(Integer, nullable=False)
    created_at: dt.datetime = Column(DateTime, nullable=False)


class StaffAccount(Base):
    """A support agent or supervisor of the agent console. The password is stored only as an argon2 hash."""

    __tablename__ = "staff_accounts"

    id: int = Column(Integer, primary_key=True, autoincrement=True)
    username: str = Column(String(40), nullable=False, unique=True)
    role: str = Column(String(12), nullable=False)  # agent | supervisor
    password_hash: str = Column(String(200), nullable=False)
    failed_logins: int = Column(Integer, nullable=False, default=0)
    locked_until: dt.datetime | None = Column(DateTime, nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    created_at: dt.datetime = Column(DateTime, nullable=False)


class StaffSession(Base):
    """A console login. The cookie holds a random token; only its SHA-256 is stored, with the CSRF token."""

    __tablename__ = "staff_sessions"

    id: int = Column(Integer, primary_key=True, autoincrement=True)
    token_hash: str = Column(String(64), nullable=False, unique=True)
    username: str = Column(String(40), nullable=False, index=True)
    csrf_token: str = Column(String(64), nullable=False)
    created_at: dt.datetime = Column(DateTime, nullable=False)
    expires_at: dt.datetime = Column(DateTime, nullable=False)
    ended_at: dt.datetime | None = Column(DateTime, nullable=True)  # type: ignore[misc]  # plugin ignores nullable


class AuditEntry(Base):
    """Who did what, when, in the console (claims, replies, notes, resolutions, decisions, blocked messages, logins)."""

    __tablename__ = "audit_log"

    id: int = Column(Integer, primary_key=True, autoincrement=True)
    at: dt.datetime = Column(DateTime, nullable=False, index=True)
    username: str = Column(String(40), nullable=False)
    action: str = Column(String(24), nullable=False)
    ticket_id: str | None = Column(String(40), nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    detail: str = Column(Text, nullable=False, default="")


class AgentNote(Base):
    """A private note on a ticket: agents and supervisors read it, the customer never does."""

    __tablename__ = "agent_notes"

    id: int = Column(Integer, primary_key=True, autoincrement=True)
    ticket_id: str = Column(String(40), nullable=False, index=True)
    username: str = Column(String(40), nullable=False)
    text: str = Column(String(2000), nullable=False)
    created_at: dt.datetime = Column(DateTime, nullable=False)


# The analytics event pipeline (bot/analytics): every Rasa event of every conversation, one row each,
# written by the consumer (RabbitMQ or Rasa's SQL event broker) and by the reconciler. The metrics and
# the report read these tables; their columns are a contract (add columns, never rename).
AnalyticsId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements only INTEGER keys


class AnalyticsEvent(Base):
    """One Rasa event of a conversation, as the analytics see it.

    ``event_key`` is the event's identity (Rasa events carry no id): a hash of the conversation, the
    type, the timestamp and the rest of the event, so the same event stored twice (a redelivered
    message, a reconcile after the consumer) is one row. Texts and slot values are masked
    (bot.domain.secrets). ``at`` is Rasa's timestamp as naive UTC (an instant, like Rasa's own);
    ``received_at`` is when the pipeline stored it, in bank time.
    """

    __tablename__ = "analytics_events"
    __table_args__ = (Index("ix_analytics_events_conversation_at", "conversation_id", "at"),)

    id: int = Column(AnalyticsId, primary_key=True, autoincrement=True)  # type: ignore[assignment]  # plugin cannot read a variant
    event_key: str = Column(String(64), nullable=False, unique=True)
    conversation_id: str = Column(String(80), nullable=False, index=True)
    verified: bool = Column(Boolean, nullable=False)
    # Rasa's "event": user | bot | action | slot | session_started | active_loop | ...
    event_type: str = Column(String(32), nullable=False)
    # user: the intent; action: the action; slot: the slot; active_loop: the form (None when it ends)
    name: str | None = Column(String(80), nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    intent_confidence: float | None = Column(Float, nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    text: str | None = Column(Text, nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    value: str | None = Column(Text, nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    at: dt.datetime = Column(DateTime, nullable=False)
    received_at: dt.datetime = Column(DateTime, nullable=False)
    # pika | sql | reconcile
    source: str = Column(String(12), nullable=False)


class AnalyticsReject(Base):
    """A message the pipeline could not use (not JSON, not an event): kept for a person to look at,
    so that it never blocks the queue. ``reject_key`` makes a redelivered reject one row."""

    __tablename__ = "analytics_rejects"

    id: int = Column(AnalyticsId, primary_key=True, autoincrement=True)  # type: ignore[assignment]  # plugin cannot read a variant
    reject_key: str = Column(String(64), nullable=False, unique=True)
    received_at: dt.datetime = Column(DateTime, nullable=False)
    reason: str = Column(String(200), nullable=False)
    body: str = Column(Text, nullable=False)  # the first 4,000 characters, secrets masked
    source: str = Column(String(12), nullable=False)


class AnalyticsCursor(Base):
    """How far a resumable source (Rasa's SQL event broker table) has been read: its last stored id."""

    __tablename__ = "analytics_cursor"

    name: str = Column(String(200), primary_key=True)
    last_id: int = Column(BigInteger, nullable=False)
    updated_at: dt.datetime = Column(DateTime, nullable=False)


class ReviewTag(Base):
    """A supervisor's tag on one conversation session (conversation review, bot/services/review.py).

    A session is named by its conversation and the instant it started (``started_at``: the ``at`` of
    its first stored event, naive UTC like ``analytics_events.at``). One row per session and tag.
    """

    __tablename__ = "review_tags"
    __table_args__ = (
        UniqueConstraint("conversation_id", "started_at", "tag", name="uq_review_tags_session_tag"),
        Index("ix_review_tags_tag", "tag"),
    )

    id: int = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id: str = Column(String(80), nullable=False)
    started_at: dt.datetime = Column(DateTime, nullable=False)
    tag: str = Column(String(40), nullable=False)
    created_by: str = Column(String(40), nullable=False)
    created_at: dt.datetime = Column(DateTime, nullable=False)  # bank-local


class ReviewMark(Base):
    """A supervisor's verdict on one user message: the intent it should have had (its training label).

    One row per stored event (``event_key`` of ``analytics_events``); marking again changes the intent.
    ``text`` is the message as the review showed it (secrets and phone numbers masked), kept so that the
    export does not depend on the event stream's retention; ``message_at`` is the event's instant (naive
    UTC), ``marked_at`` bank-local.
    """

    __tablename__ = "review_marks"
    __table_args__ = (Index("ix_review_marks_marked_at", "marked_at"),)

    id: int = Column(Integer, primary_key=True, autoincrement=True)
    event_key: str = Column(String(64), nullable=False, unique=True)
    conversation_id: str = Column(String(80), nullable=False, index=True)
    started_at: dt.datetime = Column(DateTime, nullable=False)
    message_at: dt.datetime = Column(DateTime, nullable=False)
    text: str = Column(Text, nullable=False)
    predicted_intent: str | None = Column(String(80), nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    confidence: float | None = Column(Float, nullable=True)  # type: ignore[misc]  # plugin ignores nullable
    intent: str = Column(String(80), nullable=False)
    marked_by: str = Column(String(40), nullable=False)
    marked_at: dt.datetime = Column(DateTime, nullable=False)  # bank-local
