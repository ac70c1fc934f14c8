"""The overdue-notice engine: decide, record, then send; idempotent per instalment and day."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import lru_cache

from sqlalchemy.exc import IntegrityError

from bot.clock import Clock, FixedClock
from bot.domain.model import Instalment, NoticeHold, SmsNotice
from bot.domain.notices import (
    NoticeCandidate,
    NoticeDecision,
    NoticePolicy,
    decide,
    load_templates,
    render_notice,
)
from bot.domain.rules import days_overdue
from bot.domain.segments import Segment, SegmentFacts, SegmentRules
from bot.notice_senders import NoticeSender, OutgoingSms, SendFailed
from bot.settings import get_settings
from bot.unit_of_work import UowFactory

logger = logging.getLogger(__name__)
#: Notices claimed at once by one sender; the lease covers sending them all.
CLAIM_BATCH = 20
LEASE = dt.timedelta(minutes=5)


@lru_cache(maxsize=1)
def default_policy() -> NoticePolicy:
    return NoticePolicy.from_file(get_settings().config_file("notice_policy.yml"))


@lru_cache(maxsize=1)
def default_templates() -> dict[str, dict[str, str]]:
    return load_templates(get_settings().config_file("notice_templates.yml"))


@lru_cache(maxsize=1)
def default_segments() -> SegmentRules:
    return SegmentRules.from_file(get_settings().config_file("notice_segments.yml"), default_templates())


def segment_facts(
    instalment: Instalment, hardship: bool, paid_late_before: int, overdue_instalments: int, day: dt.date
) -> SegmentFacts:
    """What the segment rules know of an overdue instalment's borrower on ``day``."""
    return SegmentFacts(
        days_overdue=days_overdue(instalment.due_date, day),
        paid_late_before=paid_late_before,
        on_plan=instalment.extension_id is not None,
        hardship=hardship,
        overdue_instalments=max(1, overdue_instalments),
    )


@dataclass(frozen=True)
class Judged:
    customer_id: str
    loan_id: str
    seq: int
    due_date: dt.date
    facts: SegmentFacts
    segment: Segment
    decision: NoticeDecision


@dataclass
class NoticeRunReport:
    at: dt.datetime
    recorded: list[tuple[str, str, str]] = field(default_factory=list)  # (customer, loan, reason)
    skipped: Counter[str] = field(default_factory=Counter)
    #: What the rules held back: (instalment id, customer, loan, reason), stored as notice holds.
    held: list[tuple[int, str, str, str]] = field(default_factory=list)
    #: Every overdue instalment judged, with its borrower's segment and the decision (explain).
    judged: list[Judged] = field(default_factory=list)
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
    clock: Clock | None = None,
    segment_rules: SegmentRules | None = None,
    only_customer: str | None = None,
) -> NoticeRunReport:
    """Record every notice due at ``at`` (bank-local; one per instalment per day), then hand every
    recorded but unsent notice to the sender. A dry run decides and reports but writes and sends
    nothing. ``at`` is the moment the rules judge (quiet hours, cadence, the weekly caps, the care
    rule for customers with an active vulnerability flag); ``clock`` stamps deliveries and leases
    (default: a clock standing at ``at``). ``only_customer`` judges one borrower's instalments alone
    (a dry run: what ``notices explain`` shows)."""
    if only_customer is not None and not dry_run:
        raise ValueError("only a dry run may judge one customer alone")
    policy, templates = policy or default_policy(), templates or default_templates()
    segments = segment_rules or default_segments()
    report = NoticeRunReport(at=at)
    day = at.date()
    with uow_factory() as uow:
        rows = uow.loans.overdue_instalments_on(day)
        if only_customer is not None:
            rows = [r for r in rows if r[2].id == only_customer]
        previous = uow.notices.times_by_instalment((i.id for i, _, _ in rows), before=at)
        per_number = uow.notices.counts_per_phone_since(at - dt.timedelta(days=7))
        per_customer = uow.notices.counts_per_customer_since(at - dt.timedelta(days=7))
        under_review = uow.cases.phones_under_review()
        flagged = uow.vulnerability_flags.flagged_customers()
        paid_late = uow.loans.paid_late_counts(c.id for _, _, c in rows)
        overdue_now = Counter(c.id for _, _, c in rows)
        recorded_today = uow.notices.keys_recorded_since(dt.datetime.combine(day, dt.time.min))
        for instalment, loan, customer in rows:
            key = notice_key(instalment.id, day)
            facts = segment_facts(
                instalment, customer.id in flagged, paid_late[customer.id], overdue_now[customer.id], day
            )
            segment = segments.place(facts)
            if key in recorded_today:
                report.skipped["already_recorded_today"] += 1
                report.judged.append(
                    Judged(
                        customer.id, loan.id, instalment.seq, instalment.due_date, facts, segment,
                        NoticeDecision(False, "already_recorded_today", segment=segment.name),
                    )
                )  # fmt: skip
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
                    vulnerable=customer.id in flagged,
                    notices_to_customer_last_7_days=per_customer[customer.id],
                ),
                policy,
                at,
                segment,
            )
            report.judged.append(
                Judged(customer.id, loan.id, instalment.seq, instalment.due_date, facts, segment, decision)
            )
            if not decision.send or decision.template is None:
                report.skipped[decision.reason] += 1
                report.held.append((instalment.id, customer.id, loan.id, decision.reason))
                continue
            report.recorded.append((customer.id, loan.id, decision.reason))
            per_number[customer.phone] += 1
            per_customer[customer.id] += 1
            if dry_run:
                continue
            days = days_overdue(instalment.due_date, day)
            uow.notices.add(
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
                    segment=segment.name,
                    segment_facts=json.dumps(asdict(facts), sort_keys=True),
                )
            )
        if not dry_run:
            try:
                uow.commit()  # recorded before anything is sent: a crash now loses nothing
            except IntegrityError:
                # Another run recorded the same day's notices first (same keys): send what it recorded.
                logger.warning("notices for %s were recorded by another run at the same time", day)
                report.skipped["already_recorded_today"] += len(report.recorded)
                report.recorded.clear()
    if not dry_run and report.held:
        record_holds(uow_factory, day, at, report.held)
    if not dry_run and sender is not None:
        deliver_pending(uow_factory, sender, clock or FixedClock(at), report)
    return report


def record_holds(uow_factory: UowFactory, day: dt.date, at: dt.datetime, held: list[tuple[int, str, str, str]]) -> int:
    """Store what the rules held back on ``day`` (once per instalment and reason, whatever the number
    of runs), after the notices themselves are committed: losing this record never loses a notice.
    Returns how many holds were new."""
    try:
        with uow_factory() as uow:
            known = uow.notices.holds_on(day)
            new = 0
            for instalment_id, customer_id, loan_id, reason in held:
                if (instalment_id, reason) in known:
                    continue
                known.add((instalment_id, reason))
                uow.notices.add_hold(
                    NoticeHold(
                        instalment_id=instalment_id,
                        customer_id=customer_id,
                        loan_id=loan_id,
                        day=day,
                        reason=reason,
                        first_at=at,
                    )
                )
                new += 1
            uow.commit()
            return new
    except IntegrityError:  # another run stored the same holds at the same moment: they are recorded
        logger.warning("notice holds for %s were recorded by another run at the same time", day)
        return 0


def deliver_pending(
    uow_factory: UowFactory,
    sender: NoticeSender,
    clock: Clock,
    report: NoticeRunReport | None = None,
    lease: dt.timedelta = LEASE,
) -> NoticeRunReport:
    """Send every recorded notice not yet delivered (this run's, earlier failures, and notices whose
    sender died holding them once its lease expired), once each.

    Outbox protocol: claim a batch (``sending``, lease, committed), call the gateway outside any
    transaction, record each outcome if the claim still holds. Several senders at once each get
    different notices; the gateway drops a repeat of the same reference after a crash.
    """
    report = report or NoticeRunReport(at=clock.now())
    after_id = 0  # each notice at most once per pass, even one that fails again
    while True:
        token = uuid.uuid4().hex
        lease_until = clock.now() + lease
        with uow_factory() as uow:
            claimed = [
                (n.id, OutgoingSms(to=n.phone, text=n.text or "", reference=n.idempotency_key or str(n.id)))
                for n in uow.notices.claim_unsent(clock.now(), lease_until, token, CLAIM_BATCH, after_id)
            ]
            uow.commit()
        if not claimed:
            return report
        after_id = claimed[-1][0]
        for notice_id, sms in claimed:
            if clock.now() >= lease_until:
                return report  # the rest go to whoever claims them after the lease
            try:
                sender.send(sms)
            except SendFailed as exc:
                outcome, error = "failed", str(exc)
            else:
                outcome, error = "sent", ""
            with uow_factory() as uow:
                if outcome == "sent":
                    uow.notices.record_sent(notice_id, token, clock.now())
                else:
                    uow.notices.record_failed(notice_id, token, error)
                uow.commit()
            if outcome == "sent":
                report.sent += 1
            else:
                report.failed += 1


@dataclass(frozen=True)
class NoticeExplanation:
    """Why a customer got the notices they got: now, and for each notice recorded."""

    customer_id: str
    at: dt.datetime
    now: list[Judged]
    #: (sent at, status, template, segment or None, facts or None) of each notice, oldest first.
    history: list[tuple[dt.datetime, str, str, str | None, SegmentFacts | None]]
    #: (bank day, reason) of what the rules held back in the last 30 days.
    held: list[tuple[dt.date, str]]


def explain(uow_factory: UowFactory, customer_id: str, at: dt.datetime, days: int = 90) -> NoticeExplanation | None:
    """``python -m bot notices explain``: the segment and decision of each overdue instalment at ``at``
    (judged as a run would, writing nothing), and the notices and holds of the last ``days`` days.
    None when there is no such customer."""
    with uow_factory() as uow:
        if uow.loans.customer(customer_id) is None:
            return None
        sent = uow.notices.of_customer(customer_id, at - dt.timedelta(days=days))
        history = [
            (
                n.sent_at,
                n.status,
                n.template,
                n.segment,
                SegmentFacts(**json.loads(n.segment_facts)) if n.segment_facts else None,
            )
            for n, _ in sent
        ]
        held = uow.notices.holds_of(customer_id, at.date() - dt.timedelta(days=30))
    now = run_notices(uow_factory, None, at, dry_run=True, only_customer=customer_id).judged
    return NoticeExplanation(customer_id, at, now, history, held)
