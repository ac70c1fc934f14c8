"""In-memory repositories and unit of work, for service tests without a database.

They keep model objects in lists and answer each repository query in plain Python, as
cosmicpython's ``FakeRepository`` does. ``FakeUnitOfWork.commits`` counts commits, so a test can
tell a use case that changes nothing from one that records something.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from decimal import Decimal
from types import TracebackType
from typing import Any

from bot.domain.model import (
    AgentMessage,
    AgentNote,
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
    SmsNotice,
    StaffAccount,
    StaffSession,
    VulnerabilityFlag,
)
from bot.repository import NOTICE_RECORDED, PHONE_CHANNELS


class _Ids:
    def __init__(self) -> None:
        self.last = 0

    def next(self) -> int:
        self.last += 1
        return self.last


class FakeLoanRecords:
    def __init__(self) -> None:
        self.customers: dict[str, Customer] = {}
        self.loans: list[Loan] = []
        self.instalments: list[Instalment] = []
        self.repayments: list[Repayment] = []
        self._ids = _Ids()

    def customer(self, customer_id: str) -> Customer | None:
        return self.customers.get(customer_id)

    def loans_of(self, customer_id: str) -> Sequence[Loan]:
        return sorted((x for x in self.loans if x.customer_id == customer_id), key=lambda x: x.id)

    def loan_of(self, customer_id: str, loan_id: str) -> Loan | None:
        return next((x for x in self.loans if x.id == loan_id and x.customer_id == customer_id), None)

    def loan_for_update(self, customer_id: str, loan_id: str) -> Loan | None:
        return self.loan_of(customer_id, loan_id)

    def _customer_of(self, instalment: Instalment) -> str:
        return next(x.customer_id for x in self.loans if x.id == instalment.loan_id)

    def _unpaid(self) -> list[Instalment]:
        return [i for i in self.instalments if i.paid_at is None and i.status == "scheduled"]

    def unpaid_instalments_of(self, customer_id: str) -> Sequence[Instalment]:
        mine = [i for i in self._unpaid() if self._customer_of(i) == customer_id]
        return sorted(mine, key=lambda i: (i.due_date, i.loan_id, i.seq))

    def overdue_instalments_of_loan(self, loan_id: str, today: dt.date) -> Sequence[Instalment]:
        due = [i for i in self._unpaid() if i.loan_id == loan_id and i.due_date < today]
        return sorted(due, key=lambda i: (i.due_date, i.seq))

    def overdue_instalments_on(self, day: dt.date) -> Sequence[tuple[Instalment, Loan, Customer]]:
        rows = []
        for i in sorted(self._unpaid(), key=lambda i: (i.due_date, i.id)):
            if i.due_date < day:
                loan = next(x for x in self.loans if x.id == i.loan_id)
                rows.append((i, loan, self.customers[loan.customer_id]))
        return rows

    def repayments_of(self, customer_id: str, since: dt.datetime) -> Sequence[Repayment]:
        loans = {x.id for x in self.loans if x.customer_id == customer_id}
        mine = [r for r in self.repayments if r.loan_id in loans and r.paid_at >= since]
        return sorted(mine, key=lambda r: r.paid_at)

    def max_seq(self, loan_id: str) -> int:
        return max((i.seq for i in self.instalments if i.loan_id == loan_id), default=0)

    def add_instalment(self, instalment: Instalment) -> None:
        instalment.id = self._ids.next() + 1000
        self.instalments.append(instalment)

    def phone_on_record(self, phone: str) -> bool:
        return any(c.phone == phone for c in self.customers.values())

    def paid_late_counts(self, customer_ids: Iterable[str]) -> Counter[str]:
        ids = set(customer_ids)
        loans = {x.id: x.customer_id for x in self.loans if x.customer_id in ids}
        return Counter(
            loans[i.loan_id]
            for i in self.instalments
            if i.loan_id in loans and i.paid_at is not None and i.paid_at.date() > i.due_date
        )

    # --- building test data -----------------------------------------------------------------

    def add_customer(self, customer_id: str, phone: str, name: str = "张三", language: str = "zh") -> Customer:
        customer = Customer(
            id=customer_id, name=name, phone=phone, language=language, created_at=dt.datetime(2026, 1, 1)
        )
        self.customers[customer_id] = customer
        return customer

    def add_loan(self, customer_id: str, loan_id: str, disputed_at: dt.datetime | None = None) -> Loan:
        loan = Loan(
            id=loan_id,
            customer_id=customer_id,
            principal=Decimal("6000.00"),
            status="active",
            disputed_at=disputed_at,
            disbursed_on=dt.date(2026, 1, 1),
        )
        self.loans.append(loan)
        return loan

    def schedule(
        self, loan_id: str, seq: int, due: dt.date, amount: str, paid_at: dt.datetime | None = None
    ) -> Instalment:
        instalment = Instalment(
            loan_id=loan_id, seq=seq, due_date=due, amount=Decimal(amount), paid_at=paid_at, status="scheduled"
        )
        self.add_instalment(instalment)
        return instalment


class FakeExtensionRecords:
    def __init__(self, loans: FakeLoanRecords) -> None:
        self.requests: list[ExtensionRequest] = []
        self._loans = loans
        self._ids = _Ids()

    def last_approved(self, loan_id: str) -> ExtensionRequest | None:
        approved = [r for r in self.requests if r.loan_id == loan_id and r.status == "approved"]
        return max(approved, key=lambda r: r.created_at, default=None)

    def by_key(self, idempotency_key: str) -> ExtensionRequest | None:
        return next((r for r in self.requests if r.idempotency_key == idempotency_key), None)

    def of_customer(self, customer_id: str) -> Sequence[ExtensionRequest]:
        return [r for r in self.requests if r.customer_id == customer_id]

    def active_plans_of(self, customer_id: str) -> Sequence[ExtensionRequest]:
        unpaid = {i.extension_id for i in self._loans.instalments if i.paid_at is None and i.extension_id}
        return [r for r in self.requests if r.customer_id == customer_id and r.status == "approved" and r.id in unpaid]

    def add(self, request: ExtensionRequest) -> str:
        request.id = self._ids.next()
        request.reference = f"EXT-{request.created_at.year}-{request.id:06d}"
        self.requests.append(request)
        return request.reference

    def by_reference(self, reference: str, for_update: bool = False) -> ExtensionRequest | None:
        return next((r for r in self.requests if r.reference == reference), None)

    def referred(self, limit: int) -> Sequence[ExtensionRequest]:
        waiting = [r for r in self.requests if r.status == "referred"]
        return sorted(waiting, key=lambda r: (r.created_at, r.id))[:limit]


class FakeCaseRecords:
    def __init__(self) -> None:
        self.cases: list[Case] = []
        self.notes: list[CaseNote] = []
        self._ids = _Ids()

    def by_key(self, idempotency_key: str) -> Case | None:
        return next((c for c in self.cases if c.idempotency_key == idempotency_key), None)

    def by_reference(self, reference: str, for_update: bool = False) -> Case | None:
        return next((c for c in self.cases if c.reference == reference), None)

    def latest(self, case_type: str | None, limit: int) -> Sequence[Case]:
        chosen = [c for c in self.cases if case_type is None or c.type == case_type]
        return sorted(chosen, key=lambda c: -c.id)[:limit]

    def phones_under_review(self) -> set[str]:
        return {c.phone for c in self.cases if c.type == "wrong_number" and c.suppression_lifted_at is None and c.phone}

    def of_customer(self, customer_id: str, limit: int) -> Sequence[Case]:
        mine = [c for c in self.cases if c.customer_id == customer_id]
        return sorted(mine, key=lambda c: (c.created_at, c.id), reverse=True)[:limit]

    def add(self, case: Case, prefix: str) -> str:
        case.id = self._ids.next()
        case.reference = f"{prefix}-{case.created_at.year}-{case.id:06d}"
        self.cases.append(case)
        return case.reference

    def add_note(self, note: CaseNote) -> None:
        note.id = self._ids.next()
        self.notes.append(note)


class FakeTicketRecords:
    def __init__(self) -> None:
        self.tickets: list[HandoffTicket] = []
        self.messages: list[AgentMessage] = []
        self._ids = _Ids()

    def add(self, ticket: HandoffTicket) -> str:
        ticket.id = self._ids.next()
        ticket.ticket_id = f"HO-{ticket.created_at:%Y}-{ticket.id:06d}"
        self.tickets.append(ticket)
        return ticket.ticket_id

    def by_ticket_id(self, ticket_id: str) -> HandoffTicket | None:
        return next((t for t in self.tickets if t.ticket_id == ticket_id), None)

    def latest(self, limit: int) -> Sequence[HandoffTicket]:
        return sorted(self.tickets, key=lambda t: -t.id)[:limit]

    def pending(self, ticket_id: str | None) -> Sequence[HandoffTicket]:
        return [t for t in self.tickets if t.status == "pending" and (ticket_id is None or t.ticket_id == ticket_id)]

    def claim_due(self, now: dt.datetime, lease_until: dt.datetime, token: str, limit: int) -> Sequence[HandoffTicket]:
        due = [
            t
            for t in sorted(self.tickets, key=lambda t: t.id)
            if (t.status == "pending" and t.next_attempt_at <= now)
            or (t.status == "sending" and t.lease_expires_at is not None and t.lease_expires_at <= now)
        ][:limit]
        for t in due:
            t.status, t.lease_expires_at, t.claim_token, t.attempts = "sending", lease_until, token, t.attempts + 1
        return due

    def _claimed(self, ticket_id: int, token: str) -> HandoffTicket | None:
        t = next((t for t in self.tickets if t.id == ticket_id), None)
        return t if t is not None and t.status == "sending" and t.claim_token == token else None

    def record_delivered(self, ticket_id: int, token: str, at: dt.datetime, withdrawal: bool = False) -> bool:
        t = self._claimed(ticket_id, token)
        if t is None:
            return False
        if withdrawal:
            t.status = "withdrawn"
        else:
            t.status = "delivered" if t.withdrawn_at is None else "pending"
            t.delivered_at, t.next_attempt_at = at, at
        t.last_error, t.claim_token, t.lease_expires_at = None, None, None
        return True

    def open_ticket_of(self, conversation_id: str) -> HandoffTicket | None:
        mine = [t for t in self.tickets if t.conversation_id == conversation_id and t.withdrawn_at is None]
        return max(mine, key=lambda t: t.id, default=None)

    def record_failed(self, ticket_id: int, token: str, error: str, retry_at: dt.datetime) -> bool:
        t = self._claimed(ticket_id, token)
        if t is None:
            return False
        t.status, t.last_error, t.next_attempt_at, t.claim_token, t.lease_expires_at = (
            "pending",
            error[:200],
            retry_at,
            None,
            None,
        )
        return True

    def add_message(self, message: AgentMessage) -> None:
        message.id = self._ids.next()
        self.messages.append(message)

    def unfetched_messages(self, conversation_id: str) -> Sequence[AgentMessage]:
        return [m for m in self.messages if m.conversation_id == conversation_id and m.fetched_at is None]

    def in_queue(self) -> Sequence[HandoffTicket]:
        return sorted(
            (t for t in self.tickets if t.resolved_at is None and t.withdrawn_at is None),
            key=lambda t: (t.created_at, t.id),
        )

    def latest_resolved_of(self, conversation_id: str, since: dt.datetime) -> HandoffTicket | None:
        mine = [
            t
            for t in self.tickets
            if t.conversation_id == conversation_id and t.resolved_at is not None and t.resolved_at >= since
        ]
        return max(mine, key=lambda t: (t.resolved_at, t.id), default=None)

    def claim(self, ticket_id: str, username: str, now: dt.datetime, take_over: bool = False) -> bool:
        t = self.by_ticket_id(ticket_id)
        if t is None or t.resolved_at is not None or t.withdrawn_at is not None:
            return False
        if t.assigned_to is not None and not take_over:
            return False
        t.assigned_to, t.claimed_at, t.last_agent_reply_at = username, now, None
        return True

    def release_idle(self, claimed_before: dt.datetime) -> Sequence[HandoffTicket]:
        idle = [
            t
            for t in self.in_queue()
            if t.assigned_to is not None
            and t.claimed_at is not None
            and t.claimed_at < claimed_before
            and (t.last_agent_reply_at is None or t.last_agent_reply_at < claimed_before)
        ]
        for t in idle:
            t.assigned_to, t.claimed_at = None, None
        return idle


class FakeNoticeRecords:
    def __init__(self, loans: FakeLoanRecords) -> None:
        self.notices: list[SmsNotice] = []
        self.holds: list[NoticeHold] = []
        self._loans = loans
        self._ids = _Ids()

    def _instalment(self, notice: SmsNotice) -> Instalment | None:
        return next((i for i in self._loans.instalments if i.id == notice.instalment_id), None)

    def of_customer(self, customer_id: str, since: dt.datetime) -> Sequence[tuple[SmsNotice, Instalment | None]]:
        mine = [n for n in self.notices if n.customer_id == customer_id and n.sent_at >= since]
        return [(n, self._instalment(n)) for n in sorted(mine, key=lambda n: n.sent_at)]

    def times_by_instalment(
        self, instalment_ids: Iterable[int], before: dt.datetime
    ) -> dict[int, list[tuple[dt.datetime, str]]]:
        ids = set(instalment_ids)
        times: dict[int, list[tuple[dt.datetime, str]]] = {}
        for n in self.notices:
            if n.instalment_id in ids and n.status in NOTICE_RECORDED and n.sent_at < before:
                times.setdefault(n.instalment_id, []).append((n.sent_at, n.channel or "sms"))
        return times

    def counts_per_phone_since(self, since: dt.datetime) -> Counter[str]:
        return Counter(
            n.phone
            for n in self.notices
            if n.sent_at > since and n.status in NOTICE_RECORDED and (n.channel or "sms") in PHONE_CHANNELS
        )

    def counts_per_customer_since(self, since: dt.datetime) -> Counter[str]:
        return Counter(n.customer_id for n in self.notices if n.sent_at > since and n.status in NOTICE_RECORDED)

    def keys_recorded_since(self, since: dt.datetime) -> set[str]:
        return {n.idempotency_key for n in self.notices if n.idempotency_key and n.sent_at >= since}

    def add(self, notice: SmsNotice) -> None:
        notice.channel = notice.channel or "sms"  # the column default, as the database would give it
        if notice.idempotency_key and any(n.idempotency_key == notice.idempotency_key for n in self.notices):
            raise AssertionError(f"duplicate notice key {notice.idempotency_key}")  # the unique index would refuse
        notice.id = self._ids.next()
        self.notices.append(notice)

    def holds_on(self, day: dt.date) -> set[tuple[int, str]]:
        return {(h.instalment_id, h.reason) for h in self.holds if h.day == day}

    def to_phone(self, phone: str) -> Sequence[SmsNotice]:
        reached = (n for n in self.notices if n.phone == phone and n.channel in PHONE_CHANNELS)
        return sorted(reached, key=lambda n: (n.sent_at, n.id))

    def holds_of(self, customer_id: str, since: dt.date) -> list[tuple[dt.date, str]]:
        mine = [(h.day, h.reason) for h in self.holds if h.customer_id == customer_id and h.day >= since]
        return sorted(mine)

    def add_hold(self, hold: NoticeHold) -> None:
        if (hold.instalment_id, hold.reason) in self.holds_on(hold.day):
            raise AssertionError("duplicate hold")  # the unique constraint would refuse
        self.holds.append(hold)

    def claim_unsent(
        self,
        now: dt.datetime,
        lease_until: dt.datetime,
        token: str,
        limit: int,
        after_id: int = 0,
        channel: str = "sms",
    ) -> Sequence[SmsNotice]:
        due = [
            n
            for n in sorted(self.notices, key=lambda n: n.id)
            if n.id > after_id
            and n.channel == channel
            and (
                n.status in ("pending", "failed")
                or (n.status == "sending" and n.lease_expires_at is not None and n.lease_expires_at <= now)
            )
        ][:limit]
        for n in due:
            n.status, n.lease_expires_at, n.claim_token, n.attempts = "sending", lease_until, token, n.attempts + 1
        return due

    def _claimed(self, notice_id: int, token: str) -> SmsNotice | None:
        n = next((n for n in self.notices if n.id == notice_id), None)
        return n if n is not None and n.status == "sending" and n.claim_token == token else None

    def record_sent(self, notice_id: int, token: str, at: dt.datetime) -> bool:
        n = self._claimed(notice_id, token)
        if n is None:
            return False
        n.status, n.delivered_at, n.last_error, n.claim_token, n.lease_expires_at = "sent", at, None, None, None
        return True

    def record_failed(self, notice_id: int, token: str, error: str) -> bool:
        n = self._claimed(notice_id, token)
        if n is None:
            return False
        n.status, n.last_error, n.claim_token, n.lease_expires_at = "failed", error[:200], None, None
        return True


class FakeContactPreferenceRecords:
    def __init__(self) -> None:
        self.preferences: dict[str, ContactPreference] = {}

    def of(self, customer_id: str) -> ContactPreference | None:
        return self.preferences.get(customer_id)

    def of_customers(self, customer_ids: Iterable[str]) -> dict[str, ContactPreference]:
        return {c: self.preferences[c] for c in set(customer_ids) if c in self.preferences}

    def add(self, preference: ContactPreference) -> None:
        self.preferences[preference.customer_id] = preference


class FakeVulnerabilityRecords:
    def __init__(self) -> None:
        self.flags: list[VulnerabilityFlag] = []
        self._ids = _Ids()

    def active_of(self, customer_id: str) -> VulnerabilityFlag | None:
        return next((f for f in self.flags if f.customer_id == customer_id and f.cleared_at is None), None)

    def flagged_customers(self) -> set[str]:
        return {f.customer_id for f in self.flags if f.cleared_at is None}

    def add(self, flag: VulnerabilityFlag) -> None:
        if self.active_of(flag.customer_id) is not None:
            raise AssertionError(f"second active flag for {flag.customer_id}")  # the partial unique index would refuse
        flag.id = self._ids.next()
        self.flags.append(flag)


class FakeStaffRecords:
    def __init__(self) -> None:
        self.staff_accounts: list[StaffAccount] = []
        self.sessions: list[StaffSession] = []
        self.entries: list[AuditEntry] = []
        self.notes: list[AgentNote] = []
        self._ids = _Ids()

    def account(self, username: str) -> StaffAccount | None:
        return next((a for a in self.staff_accounts if a.username == username), None)

    def accounts(self) -> Sequence[StaffAccount]:
        return sorted(self.staff_accounts, key=lambda a: a.username)

    def add_account(self, account: StaffAccount) -> None:
        if self.account(account.username) is not None:
            raise AssertionError("duplicate username")  # the unique constraint would refuse
        account.id = self._ids.next()
        self.staff_accounts.append(account)

    def add_session(self, session: StaffSession) -> None:
        session.id = self._ids.next()
        self.sessions.append(session)

    def login_by_hash(self, token_hash: str) -> StaffSession | None:
        return next((s for s in self.sessions if s.token_hash == token_hash), None)

    def audit(self, entry: AuditEntry) -> None:
        entry.id = self._ids.next()
        self.entries.append(entry)

    def audit_entries(self, limit: int, action: str | None = None) -> Sequence[AuditEntry]:
        mine = [e for e in reversed(self.entries) if action is None or e.action == action]
        return mine[:limit]

    def add_note(self, note: AgentNote) -> None:
        note.id = self._ids.next()
        self.notes.append(note)

    def notes_of(self, ticket_id: str) -> Sequence[AgentNote]:
        return [n for n in self.notes if n.ticket_id == ticket_id]


class FakeChatRecords:
    def __init__(self) -> None:
        self.entries: list[ChatEntry] = []
        self.ratings: list[ChatRating] = []
        self._ids = _Ids()

    def lock_conversation(self, conversation_id: str) -> None:
        pass

    def last(self, conversation_id: str) -> ChatEntry | None:
        return max((e for e in self.entries if e.conversation_id == conversation_id), key=lambda e: e.seq, default=None)

    def add(self, entry: ChatEntry) -> None:
        if any(e.conversation_id == entry.conversation_id and e.seq == entry.seq for e in self.entries):
            raise AssertionError("duplicate seq")  # the unique constraint would refuse
        entry.id = self._ids.next()
        self.entries.append(entry)

    def after(self, conversation_id: str, seq: int, limit: int) -> Sequence[ChatEntry]:
        mine = sorted(
            (e for e in self.entries if e.conversation_id == conversation_id and e.seq > seq), key=lambda e: e.seq
        )
        return mine[:limit]

    def of_session(self, conversation_id: str, session: int, limit: int) -> Sequence[ChatEntry]:
        mine = sorted(
            (e for e in self.entries if e.conversation_id == conversation_id and e.chat_session == session),
            key=lambda e: e.seq,
        )
        return mine[-limit:]

    def add_rating(self, rating: ChatRating) -> None:
        rating.id = self._ids.next()
        self.ratings.append(rating)

    def rating_of(self, conversation_id: str, session: int) -> ChatRating | None:
        return next(
            (r for r in self.ratings if r.conversation_id == conversation_id and r.chat_session == session), None
        )


class FakeAnalyticsRecords:
    """Rows as dicts, keyed like the unique constraints (a stored key is skipped, as ON CONFLICT DO NOTHING)."""

    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}
        self.rejects: dict[str, dict[str, Any]] = {}
        self.cursors: dict[str, int] = {}

    def add_events(self, rows: Sequence[dict[str, Any]]) -> int:
        return self._add(self.events, "event_key", rows)

    def add_rejects(self, rows: Sequence[dict[str, Any]]) -> int:
        return self._add(self.rejects, "reject_key", rows)

    @staticmethod
    def _add(table: dict[str, dict[str, Any]], key: str, rows: Sequence[dict[str, Any]]) -> int:
        new = 0
        for row in rows:
            if row[key] not in table:
                table[row[key]] = dict(row)
                new += 1
        return new

    def cursor(self, name: str) -> int:
        return self.cursors.get(name, 0)

    def move_cursor(self, name: str, last_id: int, at: dt.datetime) -> None:
        self.cursors[name] = last_id


class FakeUnitOfWork:
    """Every ``with`` block sees the same in-memory records; ``commits`` counts commits."""

    def __init__(self) -> None:
        self.loans = FakeLoanRecords()
        self.extensions = FakeExtensionRecords(self.loans)
        self.cases = FakeCaseRecords()
        self.tickets = FakeTicketRecords()
        self.notices = FakeNoticeRecords(self.loans)
        self.contact_preferences = FakeContactPreferenceRecords()
        self.vulnerability_flags = FakeVulnerabilityRecords()
        self.chat = FakeChatRecords()
        self.staff = FakeStaffRecords()
        self.analytics = FakeAnalyticsRecords()
        self.commits = 0

    def __enter__(self) -> FakeUnitOfWork:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def commit(self) -> None:
        self.commits += 1

    def rollback(self) -> None:
        pass

    def factory(self) -> Any:
        """A unit-of-work factory, as services take it."""
        return lambda: self
