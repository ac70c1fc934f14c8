"""The overdue-notice engine: decide, record, then send; idempotent per instalment and day."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import noload

from bot.domain.model import Case, Customer, Instalment, Loan, SmsNotice
from bot.domain.notices import NoticeCandidate, NoticePolicy, decide, load_templates, render_notice
from bot.domain.rules import days_overdue
from bot.notice_senders import NoticeSender, OutgoingSms, SendFailed
from bot.services.loans import UowFactory
from bot.settings import REPO_ROOT


@lru_cache(maxsize=1)
def default_policy() -> NoticePolicy:
    return NoticePolicy.from_file(REPO_ROOT / "config" / "notice_policy.yml")


@lru_cache(maxsize=1)
def default_templates() -> dict[str, dict[str, str]]:
    return load_templates(REPO_ROOT / "config" / "notice_templates.yml")


@dataclass
class NoticeRunReport:
    at: dt.datetime
    recorded: list[tuple[str, str, str]] = field(default_factory=list)  # (customer, loan, reason)
    skipped: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    failed: int = 0


def notice_key(instalment_id: int, day: dt.date) -> str:
    return hashlib.sha256(f"notice|{instalment_id}|{day.isoformat()}".encode()).hexdigest()


def run_notices(
    uow_factory: UowFactory,
    sender: NoticeSender | None,
    at: dt.datetime,
    dry_run: bool = False,
    policy: NoticePolicy | None = None,
    templates: dict[str, dict[str, str]] | None = None,
) -> NoticeRunReport:
    """Record every notice due at ``at`` (one per instalment per day), then hand every recorded
    but unsent notice to the sender. A dry run decides and reports but writes and sends nothing."""
    policy, templates = policy or default_policy(), templates or default_templates()
    report = NoticeRunReport(at=at)
    day = at.date()
    with uow_factory() as uow:
        session = uow.loans.session
        rows = session.execute(
            select(Instalment, Loan, Customer)
            .join(Loan, Loan.id == Instalment.loan_id)
            .join(Customer, Customer.id == Loan.customer_id)
            .where(Instalment.paid_at.is_(None), Instalment.status == "scheduled", Instalment.due_date < day)
            .order_by(Instalment.due_date, Instalment.id)
        ).all()
        ids = [i.id for i, _, _ in rows]
        previous: dict[int, list[dt.datetime]] = {}
        if ids:
            for instalment_id, sent_at in session.execute(
                select(SmsNotice.instalment_id, SmsNotice.sent_at).where(
                    SmsNotice.instalment_id.in_(ids), SmsNotice.status.in_(("pending", "sent")), SmsNotice.sent_at < at
                )
            ):
                previous.setdefault(instalment_id, []).append(sent_at)
        per_number: Counter[str] = Counter()
        for phone, count in session.execute(
            select(SmsNotice.phone, func.count())
            .where(SmsNotice.sent_at > at - dt.timedelta(days=7), SmsNotice.status.in_(("pending", "sent")))
            .group_by(SmsNotice.phone)
        ):
            per_number[phone] = count
        under_review = set(
            session.execute(
                select(Case.phone).where(Case.type == "wrong_number", Case.status.in_(("under_review", "confirmed")))
            ).scalars()
        )
        recorded_today = set(
            session.execute(
                select(SmsNotice.idempotency_key).where(
                    SmsNotice.idempotency_key.is_not(None), SmsNotice.sent_at >= dt.datetime.combine(day, dt.time.min)
                )
            ).scalars()
        )
        for instalment, loan, customer in rows:
            key = notice_key(instalment.id, day)
            if key in recorded_today:
                report.skipped["already_recorded_today"] += 1
                continue
            decision = decide(
                NoticeCandidate(
                    due_date=instalment.due_date,
                    paid=False,
                    rescheduled=False,
                    loan_disputed=loan.disputed_at is not None,
                    number_under_review=customer.phone in under_review,
                    previous_notices=tuple(previous.get(instalment.id, ())),
                    notices_to_number_last_7_days=per_number[customer.phone],
                ),
                policy,
                at,
            )
            if not decision.send or decision.template is None:
                report.skipped[decision.reason] += 1
                continue
            report.recorded.append((customer.id, loan.id, decision.reason))
            per_number[customer.phone] += 1
            if dry_run:
                continue
            days = days_overdue(instalment.due_date, day)
            session.add(
                SmsNotice(
                    customer_id=customer.id,
                    loan_id=loan.id,
                    instalment_id=instalment.id,
                    phone=customer.phone,  # the borrower's own current number, never any other
                    template=decision.template,
                    reason=f"{decision.reason}: instalment {instalment.seq} of {loan.id} due {instalment.due_date.isoformat()}, {days} days overdue",
                    sent_at=at,
                    status="pending",
                    attempts=0,
                    text=render_notice(
                        templates,
                        decision.template,
                        customer.language,
                        customer.name,
                        loan.id,
                        instalment.seq,
                        instalment.amount,
                        days,
                    ),
                    idempotency_key=key,
                )
            )
        if not dry_run:
            uow.commit()  # recorded before anything is sent: a crash now loses nothing
    if not dry_run and sender is not None:
        deliver_pending(uow_factory, sender, report)
    return report


def deliver_pending(
    uow_factory: UowFactory, sender: NoticeSender, report: NoticeRunReport | None = None
) -> NoticeRunReport:
    """Send every recorded notice not yet delivered (this run's and earlier failures), once each."""
    report = report or NoticeRunReport(at=dt.datetime.now())
    with uow_factory() as uow:
        session = uow.loans.session
        pending = (
            session.execute(
                select(SmsNotice)
                .options(noload(SmsNotice.instalment))  # FOR UPDATE cannot lock the outer side of a join
                .where(SmsNotice.status.in_(("pending", "failed")))
                .order_by(SmsNotice.id)
                .with_for_update(skip_locked=True)
            )
            .scalars()
            .all()
        )
        for notice in pending:
            notice.attempts += 1
            try:
                sender.send(
                    OutgoingSms(
                        to=notice.phone, text=notice.text or "", reference=notice.idempotency_key or str(notice.id)
                    )
                )
            except SendFailed as exc:
                notice.status, notice.last_error = "failed", str(exc)[:200]
                report.failed += 1
            else:
                notice.status, notice.delivered_at, notice.last_error = "sent", dt.datetime.now(), None
                report.sent += 1
            uow.commit()  # each outcome is durable before the next send
    return report
