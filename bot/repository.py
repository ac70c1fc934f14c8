"""Loading loan records. Queries are shaped for the indexes in the model (customer first)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.model import Customer, Instalment, Loan, Repayment, SmsNotice


class LoanRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def customer(self, customer_id: str) -> Customer | None:
        return self.session.get(Customer, customer_id)

    def loans_of(self, customer_id: str) -> Sequence[Loan]:
        return (
            self.session.execute(select(Loan).where(Loan.customer_id == customer_id).order_by(Loan.id)).scalars().all()
        )

    def unpaid_instalments_of(self, customer_id: str) -> Sequence[Instalment]:
        stmt = (
            select(Instalment)
            .join(Loan, Loan.id == Instalment.loan_id)
            .where(Loan.customer_id == customer_id, Instalment.paid_at.is_(None))
            .order_by(Instalment.due_date, Instalment.loan_id, Instalment.seq)
        )
        return self.session.execute(stmt).scalars().all()

    def instalments_paid_since(self, customer_id: str, since: dt.datetime) -> Sequence[Instalment]:
        stmt = (
            select(Instalment)
            .join(Loan, Loan.id == Instalment.loan_id)
            .where(Loan.customer_id == customer_id, Instalment.paid_at >= since)
            .order_by(Instalment.paid_at)
        )
        return self.session.execute(stmt).scalars().all()

    def notices_of(self, customer_id: str, since: dt.datetime) -> Sequence[SmsNotice]:
        stmt = (
            select(SmsNotice)
            .where(SmsNotice.customer_id == customer_id, SmsNotice.sent_at >= since)
            .order_by(SmsNotice.sent_at)
        )
        return self.session.execute(stmt).scalars().all()

    def repayments_of(self, customer_id: str, since: dt.datetime) -> Sequence[Repayment]:
        stmt = (
            select(Repayment)
            .join(Loan, Loan.id == Repayment.loan_id)
            .where(Loan.customer_id == customer_id, Repayment.paid_at >= since)
            .order_by(Repayment.paid_at)
        )
        return self.session.execute(stmt).scalars().all()

    def add(self, record: object) -> None:
        self.session.add(record)
