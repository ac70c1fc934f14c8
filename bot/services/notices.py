"""The overdue-notice engine: decide, record, then deliver; idempotent per instalment, channel and day.

Three channels (bot.domain.notices.CHANNELS), one outbox (``sms_notices``, with its ``channel``):
SMS go to the gateway, call tasks to the dialer (both over HTTP, claimed with a lease, retried with
backoff, with the notice's key as ``Idempotency-Key``), and in-app messages are written into the
verified customer's own chat (``customer:<id>``; the page's history and live stream show them) in the
same transaction that marks them sent, so each appears exactly once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Any

from sqlalchemy.exc import IntegrityError

from bot.clock import Clock, FixedClock
from bot.domain.model import Customer, Instalment, Loan, NoticeHold, SmsNotice
from bot.domain.notices import (
    PHONE_CHANNELS,
    WRITTEN_CHANNELS,
    ContactPreferences,
    NoticeCandidate,
    NoticeDecision,
    NoticePolicy,
    decide,
    decide_call,
    load_templates,
    render_notice,
)
from bot.domain.rules import days_overdue
from bot.domain.segments import Segment, SegmentFacts, SegmentRules
from bot.identity import customer_conversation
from bot.notice_senders import CallDialer, NoticeSender, OutgoingCall, OutgoingSms, SendFailed
from bot.services import chat_log
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
def default_call_scripts() -> dict[str, dict[str, str]]:
    return load_templates(get_settings().config_file("call_scripts.yml"))


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
    decision: NoticeDecision  # the written notice (SMS or in-app)
    call: NoticeDecision | None = None  # the call task, when the segment asks for calls


@dataclass
class NoticeRunReport:
    at: dt.datetime
    #: (customer, loan, reason) of each notice recorded; a call task's reason is "call".
    recorded: list[tuple[str, str, str]] = field(default_factory=list)
    #: Notices recorded by channel (sms, in_app, call).
    by_channel: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    #: What the rules held back: (instalment id, customer, loan, reason), stored as notice holds.
    held: list[tuple[int, str, str, str]] = field(default_factory=list)
    #: Every overdue instalment judged, with its borrower's segment and the decision (explain).
    judged: list[Judged] = field(default_factory=list)
    sent: int = 0
    failed: int = 0
    #: Notices delivered by channel in this run (SMS and calls accepted, in-app written to the chat).
    delivered: Counter[str] = field(default_factory=Counter)


def notice_key(instalment_id: int, day: dt.date) -> str:
    """The written notice's key (SMS or in-app): one per instalment per day."""
    return hashlib.sha256(f"notice|{instalment_id}|{day.isoformat()}".encode()).hexdigest()


def call_key(instalment_id: int, day: dt.date) -> str:
    """The call task's key: one per instalment per day, apart from the written notice."""
    return hashlib.sha256(f"call|{instalment_id}|{day.isoformat()}".encode()).hexdigest()


def _preferences(row: object | None) -> ContactPreferences | None:
    if row is None:
        return None
    return ContactPreferences(no_calls=bool(getattr(row, "no_calls", False)), prefer=getattr(row, "prefer", None))


def _notice(
    instalment: Instalment,
    loan: Loan,
    customer: Customer,
    decision: NoticeDecision,
    key: str,
    at: dt.datetime,
    facts: SegmentFacts,
    segment: Segment,
    templates: dict[str, dict[str, str]],
    scripts: dict[str, dict[str, str]],
) -> SmsNotice:
    """The notice row to record for a decision that sends (SMS, in-app message or call task)."""
    assert decision.template is not None
    days = days_overdue(instalment.due_date, at.date())
    figures = (customer.name, loan.id, instalment.seq, instalment.amount, days)
    call_script = None
    if decision.channel == "call":
        both = {lang: render_notice(scripts, decision.template, lang, *figures) for lang in ("zh", "en")}
        text = both[customer.language if customer.language in both else "zh"]
        call_script = json.dumps({"language": customer.language, "script": both}, ensure_ascii=False)
    else:
        text = render_notice(templates, decision.template, customer.language, *figures)
    note = f" ({decision.channel_note})" if decision.channel_note else ""
    return SmsNotice(
        customer_id=customer.id,
        loan_id=loan.id,
        instalment_id=instalment.id,
        # The borrower's own current number, never any other (an in-app message is sent to no number:
        # it goes into the customer's own chat; the number on record is kept with it).
        phone=customer.phone,
        template=decision.template,
        reason=f"{decision.reason}{note}: instalment {instalment.seq} of {loan.id} due {instalment.due_date.isoformat()}, {days} days overdue"[
            :200
        ],
        sent_at=at,
        status="pending",
        attempts=0,
        text=text,
        idempotency_key=key,
        segment=segment.name,
        segment_facts=json.dumps(asdict(facts), sort_keys=True),
        channel=decision.channel,
        call_script=call_script,
    )


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
    dialer: CallDialer | None = None,
    call_scripts: dict[str, dict[str, str]] | None = None,
) -> NoticeRunReport:
    """Record every notice due at ``at`` (bank-local; per instalment and day at most one written
    notice, SMS or in-app, and one call task), then deliver every recorded but undelivered one: SMS to
    ``sender`` and in-app messages into the customer's chat when a sender is given, call tasks to
    ``dialer`` when one is given (otherwise they wait, recorded, for a run that has one). A dry run
    decides and reports but writes and sends nothing. ``at`` is the moment the rules judge (quiet hours, cadence, the weekly caps, the care
    rule for customers with an active vulnerability flag); ``clock`` stamps deliveries and leases
    (default: a clock standing at ``at``). ``only_customer`` judges one borrower's instalments alone
    (a dry run: what ``notices explain`` shows)."""
    if only_customer is not None and not dry_run:
        raise ValueError("only a dry run may judge one customer alone")
    policy, templates = policy or default_policy(), templates or default_templates()
    scripts = call_scripts or default_call_scripts()
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
        preferences = uow.contact_preferences.of_customers(c.id for _, _, c in rows)
        overdue_now = Counter(c.id for _, _, c in rows)
        recorded_today = uow.notices.keys_recorded_since(dt.datetime.combine(day, dt.time.min))
        for instalment, loan, customer in rows:
            facts = segment_facts(
                instalment, customer.id in flagged, paid_late[customer.id], overdue_now[customer.id], day
            )
            segment = segments.place(facts)
            prefs = _preferences(preferences.get(customer.id))
            before = previous.get(instalment.id, [])
            candidate = NoticeCandidate(
                due_date=instalment.due_date,
                paid=False,
                rescheduled=False,
                loan_disputed=loan.disputed_at is not None,
                number_under_review=customer.phone in under_review,
                previous_notices=tuple(t for t, _ in before),
                notices_to_number_last_7_days=per_number[customer.phone],
                vulnerable=customer.id in flagged,
                notices_to_customer_last_7_days=per_customer[customer.id],
                previous_written=tuple(t for t, c in before if c in WRITTEN_CHANNELS),
                previous_calls=tuple(t for t, c in before if c == "call"),
            )
            key = notice_key(instalment.id, day)
            if key in recorded_today:
                decision = NoticeDecision(False, "already_recorded_today", segment=segment.name)
                report.skipped["already_recorded_today"] += 1
            else:
                decision = decide(candidate, policy, at, segment, prefs)
                if decision.send:
                    report.recorded.append((customer.id, loan.id, decision.reason))
                    report.by_channel[decision.channel] += 1
                    per_customer[customer.id] += 1
                    if decision.channel in PHONE_CHANNELS:
                        per_number[customer.phone] += 1
                    candidate = replace(
                        candidate,
                        previous_notices=(*candidate.previous_notices, at),
                        notices_to_customer_last_7_days=per_customer[customer.id],
                        notices_to_number_last_7_days=per_number[customer.phone],
                    )
                    if not dry_run:
                        uow.notices.add(
                            _notice(instalment, loan, customer, decision, key, at, facts, segment, templates, scripts)
                        )
                else:
                    report.skipped[decision.reason] += 1
                    report.held.append((instalment.id, customer.id, loan.id, decision.reason))
            # The call task (long overdue): its own key, its own cadence, the same caps.
            ckey = call_key(instalment.id, day)
            call = decide_call(candidate, policy, at, segment, prefs)
            if call is not None and ckey in recorded_today:
                call = NoticeDecision(False, "already_recorded_today", segment=segment.name, channel="call")
            elif call is not None and call.send:
                report.recorded.append((customer.id, loan.id, "call"))
                report.by_channel["call"] += 1
                per_customer[customer.id] += 1
                per_number[customer.phone] += 1
                if not dry_run:
                    uow.notices.add(
                        _notice(instalment, loan, customer, call, ckey, at, facts, segment, templates, scripts)
                    )
            elif call is not None and (decision.send or call.reason != decision.reason):
                # Held by a call rule, or by a cap the written notice just reached; a rule that held the
                # written notice too (quiet hours, a dispute, ...) is recorded once, with it.
                reason = call.reason if call.reason.startswith("call_") else f"call_{call.reason}"
                report.skipped[reason] += 1
                report.held.append((instalment.id, customer.id, loan.id, reason))
            report.judged.append(
                Judged(customer.id, loan.id, instalment.seq, instalment.due_date, facts, segment, decision, call)
            )
        if not dry_run:
            try:
                uow.commit()  # recorded before anything is sent: a crash now loses nothing
            except IntegrityError:
                # Another run recorded the same day's notices first (same keys): send what it recorded.
                logger.warning("notices for %s were recorded by another run at the same time", day)
                report.skipped["already_recorded_today"] += len(report.recorded)
                report.recorded.clear()
                report.by_channel.clear()
    if not dry_run and report.held:
        record_holds(uow_factory, day, at, report.held)
    if not dry_run and sender is not None:
        deliver_pending(uow_factory, sender, clock or FixedClock(at), report)
        deliver_in_app(uow_factory, clock or FixedClock(at), report)
    if not dry_run and dialer is not None:
        deliver_calls(uow_factory, dialer, clock or FixedClock(at), report)
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


def _outgoing_call(n: SmsNotice) -> OutgoingCall:
    raw = json.loads(n.call_script or "{}")
    script = raw.get("script") or {"zh": n.text or "", "en": n.text or ""}
    return OutgoingCall(
        to=n.phone, language=str(raw.get("language") or "zh"), script=script, reference=n.idempotency_key or str(n.id)
    )


def _hand_over(
    uow_factory: UowFactory,
    channel: str,
    build: Callable[[SmsNotice], Any],
    hand: Callable[[Any], None],
    clock: Clock,
    report: NoticeRunReport,
    lease: dt.timedelta,
) -> NoticeRunReport:
    """The outbox protocol for a channel with an HTTP (or file) receiver: claim a batch of the channel's
    undelivered notices (``sending``, lease, committed), hand each over outside any transaction, record
    each outcome if the claim still holds. Several senders at once each get different notices; the
    receiver drops a repeat of the same reference after a crash."""
    after_id = 0  # each notice at most once per pass, even one that fails again
    while True:
        token = uuid.uuid4().hex
        lease_until = clock.now() + lease
        with uow_factory() as uow:
            claimed = [
                (n.id, build(n))
                for n in uow.notices.claim_unsent(clock.now(), lease_until, token, CLAIM_BATCH, after_id, channel)
            ]
            uow.commit()
        if not claimed:
            return report
        after_id = claimed[-1][0]
        for notice_id, outgoing in claimed:
            if clock.now() >= lease_until:
                return report  # the rest go to whoever claims them after the lease
            try:
                hand(outgoing)
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
                report.delivered[channel] += 1
            else:
                report.failed += 1


def deliver_pending(
    uow_factory: UowFactory,
    sender: NoticeSender,
    clock: Clock,
    report: NoticeRunReport | None = None,
    lease: dt.timedelta = LEASE,
) -> NoticeRunReport:
    """Send every recorded SMS not yet delivered (this run's, earlier failures, and notices whose
    sender died holding them once its lease expired), once each, by the outbox protocol."""
    report = report or NoticeRunReport(at=clock.now())

    def build(n: SmsNotice) -> OutgoingSms:
        return OutgoingSms(to=n.phone, text=n.text or "", reference=n.idempotency_key or str(n.id))

    return _hand_over(uow_factory, "sms", build, sender.send, clock, report, lease)


def deliver_calls(
    uow_factory: UowFactory,
    dialer: CallDialer,
    clock: Clock,
    report: NoticeRunReport | None = None,
    lease: dt.timedelta = LEASE,
) -> NoticeRunReport:
    """Hand every recorded call task not yet accepted to the dialer, once each, by the outbox protocol
    (the SMS gateway's guarantees: a dialer that is down loses nothing, the next run hands the task
    over again with the same ``Idempotency-Key``)."""
    report = report or NoticeRunReport(at=clock.now())
    return _hand_over(uow_factory, "call", _outgoing_call, dialer.place, clock, report, lease)


def deliver_in_app(
    uow_factory: UowFactory, clock: Clock, report: NoticeRunReport | None = None, lease: dt.timedelta = LEASE
) -> NoticeRunReport:
    """Write every recorded in-app notice not yet delivered into its customer's own chat
    (``customer:<id>``, a ``notice`` line: the page's history shows it and its live stream delivers it)
    and mark it sent in the same transaction, so it appears exactly once. Only a verified customer's
    conversation is ever written to: the id comes from the notice's customer, never from a visitor."""
    report = report or NoticeRunReport(at=clock.now())
    after_id = 0
    while True:
        token = uuid.uuid4().hex
        lease_until = clock.now() + lease
        with uow_factory() as uow:
            claimed = [
                (n.id, n.customer_id, n.text or "")
                for n in uow.notices.claim_unsent(clock.now(), lease_until, token, CLAIM_BATCH, after_id, "in_app")
            ]
            uow.commit()
        if not claimed:
            return report
        after_id = claimed[-1][0]
        for notice_id, customer_id, text in claimed:
            for _attempt in range(chat_log.SEQ_RETRIES):
                try:
                    with uow_factory() as uow:
                        now = clock.now()
                        if not uow.notices.record_sent(notice_id, token, now):
                            break  # the lease was lost: whoever holds the notice now writes it
                        line = chat_log.Line("notice", text)
                        chat_log.append_in(uow, customer_conversation(customer_id), [line], now)
                        uow.commit()
                        report.sent += 1
                        report.delivered["in_app"] += 1
                        break
                except IntegrityError:  # a chat line took the number at the same moment: number again
                    continue


@dataclass(frozen=True)
class NoticeExplanation:
    """Why a customer got the notices they got: now, and for each notice recorded."""

    customer_id: str
    at: dt.datetime
    now: list[Judged]
    #: (sent at, status, template, segment or None, facts or None, channel) of each notice, oldest first.
    history: list[tuple[dt.datetime, str, str, str | None, SegmentFacts | None, str]]
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
                n.channel or "sms",
            )
            for n, _ in sent
        ]
        held = uow.notices.holds_of(customer_id, at.date() - dt.timedelta(days=30))
    now = run_notices(uow_factory, None, at, dry_run=True, only_customer=customer_id).judged
    return NoticeExplanation(customer_id, at, now, history, held)
