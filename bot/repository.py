"""Loading loan records. Queries are shaped for the indexes in the model (customer first)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.model import Customer, ExtensionRequest, Instalment, Loan, Repayment, SmsNotice


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
            .where(Loan.customer_id == customer_id, Instalment.paid_at.is_(None), Instalment.status == "scheduled")
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

    def loan_for_update(self, customer_id: str, loan_id: str) -> Loan | None:
        """The customer's loan, row-locked until commit where the database supports it."""
        stmt = select(Loan).where(Loan.id == loan_id, Loan.customer_id == customer_id).with_for_update()
        return self.session.execute(stmt).scalars().first()

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

    def max_seq(self, loan_id: str) -> int:
        seqs = self.session.execute(select(Instalment.seq).where(Instalment.loan_id == loan_id)).scalars().all()
        return max(seqs, default=0)

    def last_approved_extension(self, loan_id: str) -> ExtensionRequest | None:
        stmt = (
            select(ExtensionRequest)
            .where(ExtensionRequest.loan_id == loan_id, ExtensionRequest.status == "approved")
            .order_by(ExtensionRequest.created_at.desc())
        )
        return self.session.execute(stmt).scalars().first()

    def extension_by_key(self, idempotency_key: str) -> ExtensionRequest | None:
        stmt = select(ExtensionRequest).where(ExtensionRequest.idempotency_key == idempotency_key)
        return self.session.execute(stmt).scalars().first()

    def extensions_of(self, customer_id: str) -> Sequence[ExtensionRequest]:
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

    def add_extension_request(self, request: ExtensionRequest) -> str:
        """Store a request and give it its reference, EXT-<year>-<id>, which needs the id."""
        self.session.add(request)
        self.session.flush()
        request.reference = f"EXT-{request.created_at.year}-{request.id:06d}"
        return request.reference

    def add(self, record: object) -> None:
        self.session.add(record)
