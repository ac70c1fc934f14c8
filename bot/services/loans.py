"""Loan-record use cases behind the conversations about overdue notices."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.exc import SQLAlchemyError

from bot.domain.errors import CustomerNotFound, RecordsUnavailable
from bot.domain.privacy import mask_phone
from bot.domain.repayment import (
    FeeExplanation,
    LoanPayoff,
    RepaymentPolicy,
    ScheduledInstalment,
    explain_extra,
    loan_payoff,
)
from bot.domain.rules import InstalmentState, OverduePosition, overdue_position
from bot.domain.segments import SegmentFacts
from bot.unit_of_work import UowFactory

#: How far back the assistant looks for notices when explaining them.
LOOKBACK_DAYS = 60
#: A payment this recent is what a customer saying "I already paid" most likely means.
RECENT_PAYMENT_DAYS = 14


@dataclass(frozen=True)
class CustomerView:
    customer_id: str
    name: str
    language: str
    phone_masked: str


@dataclass(frozen=True)
class NoticeView:
    sent_at: dt.datetime
    loan_id: str
    phone_masked: str
    to_current_number: bool
    template: str
    reason: str
    instalment_seq: int | None
    instalment_due_date: dt.date | None
    instalment_amount: Decimal | None
    instalment_paid_at: dt.datetime | None
    instalment_rescheduled: bool
    #: The borrower's segment when it was sent and the facts that placed them there (None before segments).
    segment: str | None = None
    segment_facts: SegmentFacts | None = None


@dataclass(frozen=True)
class RepaymentView:
    loan_id: str
    amount: Decimal
    channel: str
    paid_at: dt.datetime
    posted_at: dt.datetime | None
    #: The instalment the payment settled, when it was applied to one.
    instalment_seq: int | None = None
    instalment_due_date: dt.date | None = None
    instalment_amount: Decimal | None = None

    @property
    def posted(self) -> bool:
        return self.posted_at is not None

    def extra_explained(self) -> FeeExplanation | None:
        """Why this payment was more than its instalment (penalty for the days late), if it was."""
        if self.instalment_seq is None or self.instalment_due_date is None or self.instalment_amount is None:
            return None
        return explain_extra(
            self.loan_id,
            self.instalment_seq,
            self.instalment_amount,
            self.instalment_due_date,
            self.amount,
            self.paid_at.date(),
        )


@dataclass(frozen=True)
class PlanView:
    reference: str
    loan_id: str
    option: str


@dataclass(frozen=True)
class AccountOverview:
    """Everything the assistant may tell the verified customer about their notices."""

    customer: CustomerView
    position: OverduePosition
    notices: tuple[NoticeView, ...]
    repayments: tuple[RepaymentView, ...]
    plans: tuple[PlanView, ...]
    today: dt.date
    #: Loans under an identity-misuse investigation: not chased, and left out of ``position``.
    disputed_loans: tuple[str, ...] = ()
    #: Every unpaid instalment of the loans not disputed, for figures on another day.
    unpaid: tuple[InstalmentState, ...] = ()

    def position_on(self, day: dt.date) -> OverduePosition:
        """What will be overdue, with penalty interest, if the customer pays on ``day``."""
        return overdue_position(self.unpaid, max(day, self.today))

    def fee_explanations(self) -> tuple[FeeExplanation, ...]:
        """Recent payments that included penalty interest, each with its formula."""
        found = (r.extra_explained() for r in self.repayments)
        return tuple(e for e in found if e is not None)

    @property
    def last_notice(self) -> NoticeView | None:
        return self.notices[-1] if self.notices else None

    def notices_before_payment(self) -> tuple[NoticeView, RepaymentView] | None:
        """The latest notice that was sent before a payment which settled its instalment."""
        for notice in reversed(self.notices):
            if notice.instalment_paid_at is None or notice.instalment_paid_at < notice.sent_at:
                continue
            for payment in self.repayments:
                if payment.loan_id == notice.loan_id and payment.paid_at >= notice.sent_at:
                    return notice, payment
        return None

    def texts_situation(self) -> str:
        """Why this customer gets (or got) overdue texts:
        overdue | rescheduled | paid_after_notice | settled | nothing."""
        if self.position.is_overdue:
            return "overdue"
        if self.plans and any(n.instalment_rescheduled for n in self.notices):
            return "rescheduled"
        if self.notices_before_payment() is not None:
            return "paid_after_notice"
        return "settled" if self.notices else "nothing"

    def notices_to_other_numbers(self) -> tuple[NoticeView, ...]:
        return tuple(n for n in self.notices if not n.to_current_number)

    def latest_recent_payment(self) -> RepaymentView | None:
        cutoff = dt.datetime.combine(self.today - dt.timedelta(days=RECENT_PAYMENT_DAYS), dt.time.min)
        recent = [r for r in self.repayments if r.paid_at >= cutoff]
        return recent[-1] if recent else None

    def repayment_situation(self) -> str:
        """What a customer saying "I already paid" finds:
        after_notice (posted, and a notice had gone out just before it) | posted | pending |
        not_found (no recent payment, still overdue) | nothing_due."""
        payment = self.latest_recent_payment()
        if payment is None:
            return "not_found" if self.position.is_overdue else "nothing_due"
        if not payment.posted:
            return "pending"
        pair = self.notices_before_payment()
        return "after_notice" if pair is not None and pair[1] == payment else "posted"


def account_overview(uow_factory: UowFactory, customer_id: str, today: dt.date) -> AccountOverview:
    """Load a customer's overdue position, recent notices and recent repayments as of today.

    Raises CustomerNotFound when the id has no customer record.
    """
    try:
        return _account_overview(uow_factory, customer_id, today)
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def _account_overview(uow_factory: UowFactory, customer_id: str, today: dt.date) -> AccountOverview:
    since = dt.datetime.combine(today - dt.timedelta(days=LOOKBACK_DAYS), dt.time.min)
    with uow_factory() as uow:
        customer = uow.loans.customer(customer_id)
        if customer is None:
            raise CustomerNotFound(customer_id)
        disputed = tuple(loan.id for loan in uow.loans.loans_of(customer_id) if loan.disputed_at is not None)
        unpaid = [i for i in uow.loans.unpaid_instalments_of(customer_id) if i.loan_id not in disputed]
        states = tuple(InstalmentState(i.loan_id, i.seq, i.due_date, i.amount, paid=False) for i in unpaid)
        position = overdue_position(states, today)
        notices = tuple(
            NoticeView(
                sent_at=n.sent_at,
                loan_id=n.loan_id,
                phone_masked=mask_phone(n.phone),
                to_current_number=n.phone == customer.phone,
                template=n.template,
                reason=n.reason,
                instalment_seq=i.seq if i else None,
                instalment_due_date=i.due_date if i else None,
                instalment_amount=i.amount if i else None,
                instalment_paid_at=i.paid_at if i else None,
                instalment_rescheduled=bool(i and i.status == "rescheduled"),
                segment=n.segment,
                segment_facts=SegmentFacts(**json.loads(n.segment_facts)) if n.segment_facts else None,
            )
            for n, i in uow.notices.of_customer(customer_id, since)
        )
        repayments = tuple(
            RepaymentView(
                r.loan_id,
                r.amount,
                r.channel,
                r.paid_at,
                r.posted_at,
                r.instalment.seq if r.instalment else None,
                r.instalment.due_date if r.instalment else None,
                r.instalment.amount if r.instalment else None,
            )
            for r in uow.loans.repayments_of(customer_id, since)
        )
        plans = tuple(
            PlanView(p.reference or "", p.loan_id, p.option or "") for p in uow.extensions.active_plans_of(customer_id)
        )
        view = CustomerView(customer.id, customer.name, customer.language, mask_phone(customer.phone))
        return AccountOverview(view, position, notices, repayments, plans, today, disputed, states)


def customer_language(uow_factory: UowFactory, customer_id: str) -> str | None:
    """The language in the customer's profile ('zh' or 'en'), or None for an unknown customer."""
    try:
        with uow_factory() as uow:
            customer = uow.loans.customer(customer_id)
            language = customer.language if customer else None
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc
    return language if language in ("zh", "en") else None


def whole_loan_payoffs(
    uow_factory: UowFactory, customer_id: str, on: dt.date, today: dt.date, policy: RepaymentPolicy
) -> tuple[LoanPayoff, ...]:
    """What repaying each of the customer's loans in full on ``on`` costs (loans with nothing left
    to pay and disputed loans are left out)."""
    try:
        with uow_factory() as uow:
            if uow.loans.customer(customer_id) is None:
                raise CustomerNotFound(customer_id)
            payoffs = []
            for loan in uow.loans.loans_of(customer_id):
                if loan.disputed_at is not None:
                    continue
                # A rescheduled instalment counts in the schedule's total and is paid by the plan's.
                schedule = [
                    ScheduledInstalment(
                        i.seq,
                        i.due_date,
                        i.amount,
                        paid=i.paid_at is not None or i.status == "rescheduled",
                        original=i.extension_id is None,
                    )
                    for i in loan.instalments
                ]
                if all(i.paid for i in schedule):
                    continue
                payoffs.append(loan_payoff(loan.id, loan.principal, schedule, max(on, today), policy))
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc
    return tuple(payoffs)
