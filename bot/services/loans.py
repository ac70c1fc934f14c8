"""Loan-record use cases behind the conversations about overdue notices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from bot.domain.errors import CustomerNotFound
from bot.domain.privacy import mask_phone
from bot.domain.rules import InstalmentState, OverduePosition, overdue_position
from bot.unit_of_work import UnitOfWork

UowFactory = Callable[[], UnitOfWork]

#: How far back the assistant looks for notices and payments when explaining them.
LOOKBACK_DAYS = 60


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
    instalment_due_date: dt.date | None
    instalment_amount: Decimal | None
    instalment_paid_at: dt.datetime | None


@dataclass(frozen=True)
class RepaymentView:
    loan_id: str
    amount: Decimal
    channel: str
    paid_at: dt.datetime
    posted_at: dt.datetime | None

    @property
    def posted(self) -> bool:
        return self.posted_at is not None


@dataclass(frozen=True)
class AccountOverview:
    """Everything the assistant may tell the verified customer about their notices."""

    customer: CustomerView
    position: OverduePosition
    notices: tuple[NoticeView, ...]
    repayments: tuple[RepaymentView, ...]

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


def account_overview(uow_factory: UowFactory, customer_id: str, today: dt.date) -> AccountOverview:
    """Load a customer's overdue position, recent notices and recent repayments as of today.

    Raises CustomerNotFound when the id has no customer record.
    """
    since = dt.datetime.combine(today - dt.timedelta(days=LOOKBACK_DAYS), dt.time.min)
    with uow_factory() as uow:
        customer = uow.loans.customer(customer_id)
        if customer is None:
            raise CustomerNotFound(customer_id)
        unpaid = uow.loans.unpaid_instalments_of(customer_id)
        position = overdue_position(
            (InstalmentState(i.loan_id, i.seq, i.due_date, i.amount, paid=False) for i in unpaid), today
        )
        notices = tuple(
            NoticeView(
                sent_at=n.sent_at,
                loan_id=n.loan_id,
                phone_masked=mask_phone(n.phone),
                to_current_number=n.phone == customer.phone,
                template=n.template,
                reason=n.reason,
                instalment_due_date=n.instalment.due_date if n.instalment else None,
                instalment_amount=n.instalment.amount if n.instalment else None,
                instalment_paid_at=n.instalment.paid_at if n.instalment else None,
            )
            for n in uow.loans.notices_of(customer_id, since)
        )
        repayments = tuple(
            RepaymentView(r.loan_id, r.amount, r.channel, r.paid_at, r.posted_at)
            for r in uow.loans.repayments_of(customer_id, since)
        )
        view = CustomerView(customer.id, customer.name, customer.language, mask_phone(customer.phone))
        return AccountOverview(view, position, notices, repayments)
