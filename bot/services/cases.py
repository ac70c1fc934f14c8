"""Fraud-related cases: identity misuse, wrong number, scam reports, complaints. Opened once per
conversation. And what a verified customer asked of us (cases and extension requests) with its status."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.domain.errors import InvalidPhoneNumber, NoLoanToDispute, RecordsUnavailable
from bot.domain.model import Case, ExtensionRequest
from bot.unit_of_work import UnitOfWork, UowFactory

__all__ = ["InvalidPhoneNumber", "NoLoanToDispute"]  # raised here, defined in bot.domain.errors
PREFIX = {
    "identity_misuse": "IDM", "wrong_number": "WRN", "scam_report": "SCM", "complaint": "CMP", "notice_correction": "NCR",
}  # fmt: skip
CN_MOBILE = re.compile(r"^1[3-9]\d{9}$")
#: What happens next, as a code the assistant turns into a sentence, by case status ...
CASE_NEXT_STEP = {"open": "under_review", "under_review": "under_review", "confirmed": "confirmed", "closed": "closed"}
#: ... and by extension-request status ("referred": a colleague will decide).
EXTENSION_NEXT_STEP = {"approved": "approved", "referred": "referred", "rejected": "rejected", "cancelled": "cancelled"}
#: How many of their requests a customer is told about at most.
REQUESTS_SHOWN = 10


@dataclass(frozen=True)
class CaseView:
    reference: str
    type: str
    status: str
    urgent: bool
    customer_id: str | None
    loan_id: str | None
    phone: str | None
    details: str
    created_at: dt.datetime
    updated_at: dt.datetime
    already_open: bool = False


def normalise_mobile(text: str) -> str:
    """The 11-digit mobile number in what the user typed ("139 0000 9999", "+86 13900009999")."""
    digits = re.sub(r"\D", "", text)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not CN_MOBILE.match(digits):
        raise InvalidPhoneNumber(text)
    return digits


@dataclass(frozen=True)
class RequestView:
    """One thing the customer asked of the bank, as they may hear about it: no details, no notes."""

    kind: str  # case | extension
    type: str  # the case type, or "extension"
    reference: str
    status: str
    created_at: dt.datetime
    loan_id: str | None
    next_step: str  # under_review | confirmed | closed | approved | referred | rejected | cancelled


def _view(case: Case, already: bool = False) -> CaseView:
    return CaseView(
        case.reference or "", case.type, case.status, case.urgent, case.customer_id, case.loan_id, case.phone,
        case.details, case.created_at, case.updated_at, already,
    )  # fmt: skip


def _open(
    uow_factory: UowFactory, case: Case, subject: str, on_open: Callable[[UnitOfWork], None] | None = None
) -> CaseView:
    case.idempotency_key = hashlib.sha256(f"{case.type}|{case.conversation_id}|{subject}".encode()).hexdigest()
    try:
        with uow_factory() as uow:
            existing = uow.cases.by_key(case.idempotency_key)
            if existing is not None:
                return _view(existing, already=True)
            uow.cases.add(case, PREFIX[case.type])
            if on_open is not None:
                on_open(uow)
            uow.commit()
            return _view(case)
    except IntegrityError:
        # A concurrent report of the same thing won the race: it is the same case.
        with uow_factory() as uow:
            existing = uow.cases.by_key(case.idempotency_key)
            if existing is None:
                raise RecordsUnavailable() from None
            return _view(existing, already=True)
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def open_identity_misuse_case(
    uow_factory: UowFactory, customer_id: str, loan_id: str, conversation_id: str, details: str, now: dt.datetime
) -> CaseView:
    """The verified customer disputes a loan in their name: open a case and mark the loan disputed,
    which pauses notices and self-service extensions for it while it is investigated."""

    def dispute(uow: UnitOfWork) -> None:
        loan = uow.loans.loan_of(customer_id, loan_id)
        if loan is None:
            raise NoLoanToDispute(loan_id)
        loan.disputed_at = loan.disputed_at or now

    case = Case(
        type="identity_misuse", status="open", urgent=False, customer_id=customer_id, loan_id=loan_id,
        conversation_id=conversation_id, details=details[:500], consent_at=now, created_at=now, updated_at=now,
    )  # fmt: skip
    return _open(uow_factory, case, loan_id, dispute)


def open_wrong_number_case(
    uow_factory: UowFactory, phone: str, conversation_id: str, details: str, now: dt.datetime
) -> CaseView:
    """Someone receives texts meant for another person: put the number under review. Notices to a
    number under review stop once the review confirms it. Says nothing about any borrower."""
    number = normalise_mobile(phone)
    case = Case(
        type="wrong_number", status="under_review", urgent=False, phone=number, conversation_id=conversation_id,
        details=details[:500], consent_at=now, created_at=now, updated_at=now,
    )  # fmt: skip
    return _open(uow_factory, case, number)


def open_scam_report(
    uow_factory: UowFactory,
    conversation_id: str,
    customer_id: str | None,
    money_sent: bool,
    details: str,
    now: dt.datetime,
) -> CaseView:
    """Record a report of someone impersonating the bank; urgent when money was already sent."""
    case = Case(
        type="scam_report", status="open", urgent=money_sent, customer_id=customer_id, conversation_id=conversation_id,
        details=details[:500], consent_at=None, created_at=now, updated_at=now,
    )  # fmt: skip
    return _open(uow_factory, case, details)  # a retry of the same report is the same case


def open_complaint(
    uow_factory: UowFactory,
    conversation_id: str,
    customer_id: str | None,
    category: str,
    details: str,
    now: dt.datetime,
) -> CaseView:
    """Record a complaint about collection with its category; it is escalated with priority."""
    case = Case(
        type="complaint", status="open", urgent=category in ("harassment", "contact_family_employer"), customer_id=customer_id,
        conversation_id=conversation_id, details=f"{category}: {details}"[:500], consent_at=None, created_at=now, updated_at=now,
    )  # fmt: skip
    return _open(uow_factory, case, details)


def list_cases(uow_factory: UowFactory, case_type: str | None = None, limit: int = 50) -> list[CaseView]:
    """The latest cases, newest first (staff tools)."""
    with uow_factory() as uow:
        return [_view(c) for c in uow.cases.latest(case_type, limit)]


def get_case(uow_factory: UowFactory, reference: str) -> CaseView | None:
    with uow_factory() as uow:
        case = uow.cases.by_reference(reference)
        return _view(case) if case else None


def number_under_review(uow_factory: UowFactory, phone: str) -> bool:
    """Whether a wrong-number case holds this number under review or confirmed (the notice engine asks)."""
    with uow_factory() as uow:
        return phone in uow.cases.phones_under_review()


def _case_request(case: Case) -> RequestView:
    next_step = CASE_NEXT_STEP.get(case.status, "under_review")
    return RequestView("case", case.type, case.reference or "", case.status, case.created_at, case.loan_id, next_step)


def _extension_request(request: ExtensionRequest) -> RequestView:
    next_step = EXTENSION_NEXT_STEP.get(request.status, "referred")
    return RequestView(
        "extension", "extension", request.reference or "", request.status, request.created_at, request.loan_id,
        next_step,
    )  # fmt: skip


def customer_requests(uow_factory: UowFactory, customer_id: str) -> tuple[RequestView, ...]:
    """The verified customer's own cases (every type) and extension requests, newest first, at
    most ten, each with its next step. A status missing from the tables reads as still being looked
    at (cases) or with a colleague (extension requests), never as decided."""
    try:
        with uow_factory() as uow:
            found = [(c.created_at, c.id, _case_request(c)) for c in uow.cases.of_customer(customer_id, REQUESTS_SHOWN)]
            found += [(r.created_at, r.id, _extension_request(r)) for r in uow.extensions.of_customer(customer_id)]
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc
    found.sort(key=lambda row: row[:2], reverse=True)
    return tuple(view for _, _, view in found[:REQUESTS_SHOWN])
