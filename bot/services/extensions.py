"""Extension and instalment-plan use cases: offer, preview, decide and record, idempotently."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.domain.errors import CustomerNotFound, LoanNotFound, NothingOverdue, OptionNotOffered, RecordsUnavailable
from bot.domain.extensions import (
    ExtensionOption,
    ExtensionPolicy,
    LoanState,
    PlannedInstalment,
    Terms,
    eligibility,
    options,
    terms,
)
from bot.domain.model import ExtensionRequest, Instalment, Loan
from bot.domain.rules import InstalmentState, OverdueItem, overdue_position
from bot.settings import get_settings
from bot.unit_of_work import UnitOfWork, UowFactory

__all__ = ["LoanNotFound", "NothingOverdue", "OptionNotOffered"]  # raised here, defined in bot.domain.errors
REASON_CODES = ("job_loss", "illness", "business", "disaster", "other")


@lru_cache(maxsize=1)
def default_policy() -> ExtensionPolicy:
    return ExtensionPolicy.from_file(get_settings().config_file("extension_policy.yml"))


@dataclass(frozen=True)
class LoanOffer:
    loan_id: str
    overdue_amount: Decimal
    penalty: Decimal
    total: Decimal
    days_overdue: int
    self_service: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ExtensionDecision:
    reference: str
    status: str  # approved | referred | cancelled
    loan_id: str
    option: str | None
    terms: Terms | None
    reasons: tuple[str, ...]
    already_recorded: bool


def _items(instalments: Sequence[Instalment], today: dt.date) -> tuple[OverdueItem, ...]:
    states = (InstalmentState(i.loan_id, i.seq, i.due_date, i.amount, paid=False) for i in instalments)
    return overdue_position(states, today).items


def _loan_state(uow: UnitOfWork, loan: Loan, today: dt.date) -> tuple[LoanState, Sequence[Instalment]]:
    overdue = uow.loans.overdue_instalments_of_loan(loan.id, today)
    last = uow.extensions.last_approved(loan.id)
    state = LoanState(
        loan_id=loan.id,
        overdue=_items(overdue, today),
        disputed=loan.disputed_at is not None,
        # A colleague's approval of a referred request counts from the day they approved it.
        last_approved_extension=(last.decided_at or last.created_at).date() if last else None,
    )
    return state, overdue


def extension_offer(
    uow_factory: UowFactory, customer_id: str, today: dt.date, policy: ExtensionPolicy | None = None
) -> tuple[LoanOffer, ...]:
    """The customer's loans with something overdue, each with whether self-service applies.

    Raises NothingOverdue when no loan has an overdue instalment.
    """
    policy = policy or default_policy()
    try:
        with uow_factory() as uow:
            if uow.loans.customer(customer_id) is None:
                raise CustomerNotFound(customer_id)
            offers = []
            for loan in uow.loans.loans_of(customer_id):
                state, _ = _loan_state(uow, loan, today)
                if not state.overdue:
                    continue
                decision = eligibility(state, policy, today)
                penalty = sum((i.penalty for i in state.overdue), Decimal("0.00"))
                offers.append(
                    LoanOffer(
                        loan_id=loan.id,
                        overdue_amount=state.amount - penalty,
                        penalty=penalty,
                        total=state.amount,
                        days_overdue=state.max_days_overdue,
                        self_service=decision.self_service,
                        reasons=decision.reasons,
                    )
                )
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc
    if not offers:
        raise NothingOverdue()
    return tuple(offers)


def parse_option(code: str, policy: ExtensionPolicy | None = None) -> ExtensionOption:
    """The option for a code like ``defer_30`` or ``split_6``; OptionNotOffered if the policy has no such option."""
    policy = policy or default_policy()
    try:
        option = ExtensionOption.from_code(code)
    except ValueError as exc:
        raise OptionNotOffered(code) from exc
    if option not in options(policy):
        raise OptionNotOffered(code)
    return option


def preview_terms(
    uow_factory: UowFactory,
    customer_id: str,
    loan_id: str,
    option_code: str,
    today: dt.date,
    policy: ExtensionPolicy | None = None,
) -> Terms:
    """The exact schedule the customer would get, before they confirm. Changes nothing."""
    option = parse_option(option_code, policy)
    try:
        with uow_factory() as uow:
            if uow.loans.loan_of(customer_id, loan_id) is None:
                raise LoanNotFound(loan_id)
            items = _items(uow.loans.overdue_instalments_of_loan(loan_id, today), today)
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc
    if not items:
        raise NothingOverdue()
    return terms(items, option, today)


def _terms_json(t: Terms) -> str:
    return json.dumps(
        {
            "option": t.option.code,
            "overdue_amount": str(t.overdue_amount),
            "frozen_penalty": str(t.frozen_penalty),
            "instalments": [{"due_date": p.due_date.isoformat(), "amount": str(p.amount)} for p in t.instalments],
        }
    )


def _terms_from_json(text: str | None) -> Terms | None:
    """The agreed schedule as recorded on the request (None while nothing was agreed)."""
    if not text:
        return None
    raw = json.loads(text)
    return Terms(
        option=ExtensionOption.from_code(raw["option"]),
        overdue_amount=Decimal(raw["overdue_amount"]),
        frozen_penalty=Decimal(raw["frozen_penalty"]),
        instalments=tuple(
            PlannedInstalment(dt.date.fromisoformat(p["due_date"]), Decimal(p["amount"])) for p in raw["instalments"]
        ),
    )


def _reschedule(
    uow: UnitOfWork,
    request: ExtensionRequest,
    overdue: Sequence[Instalment],
    option: ExtensionOption,
    today: dt.date,
) -> Terms:
    """Approve ``request`` (already stored, so it has an id) under ``option``: the overdue instalments
    of its loan become ``rescheduled`` and the plan's instalments (terms as of ``today``) are added
    after the loan's last one, each tied to the request. Self-service approval (submit_extension)
    and a colleague's approval of a referred request (bot.services.decisions) both go through here,
    so a loan's schedule changes the same way whoever approved it. The caller holds the loan's lock
    and commits."""
    plan = terms(_items(overdue, today), option, today)
    request.status = "approved"
    request.option = option.code
    request.terms = _terms_json(plan)
    for instalment in overdue:
        instalment.status = "rescheduled"
    seq = uow.loans.max_seq(request.loan_id)
    for k, planned in enumerate(plan.instalments, start=1):
        uow.loans.add_instalment(
            Instalment(
                loan_id=request.loan_id,
                seq=seq + k,
                due_date=planned.due_date,
                amount=planned.amount,
                status="scheduled",
                extension_id=request.id,
            )
        )
    return plan


def _decision(request: ExtensionRequest, already: bool) -> ExtensionDecision:
    t = _terms_from_json(request.terms)
    reasons = tuple(request.rationale.split(":", 1)[0].split(",")) if request.status == "referred" else ()
    return ExtensionDecision(
        reference=request.reference or "",
        status=request.status,
        loan_id=request.loan_id,
        option=request.option,
        terms=t,
        reasons=tuple(r for r in reasons if r),
        already_recorded=already,
    )


def _idempotency_key(customer_id: str, loan_id: str, request_key: str) -> str:
    """One key per customer, loan and request (the caller's id for one confirmation flow)."""
    return hashlib.sha256(f"{customer_id}|{loan_id}|{request_key}".encode()).hexdigest()


def submit_extension(
    uow_factory: UowFactory,
    customer_id: str,
    loan_id: str,
    reason_code: str,
    reason_text: str,
    option_code: str | None,
    request_key: str,
    today: dt.date,
    now: dt.datetime,
    policy: ExtensionPolicy | None = None,
) -> ExtensionDecision:
    """Decide and record a confirmed request, exactly once.

    Self-service (policy conditions hold and an option was chosen): approve, mark the overdue
    instalments rescheduled and add the plan's instalments. Otherwise: record it as referred to
    a person, schedule unchanged. A repeated or concurrent submission with the same
    ``request_key`` returns the request already recorded instead of creating another; the loan
    row is locked for the decision so concurrent requests are decided one after the other.
    """
    key = _idempotency_key(customer_id, loan_id, request_key)
    policy = policy or default_policy()
    option = parse_option(option_code, policy) if option_code else None
    if reason_code not in REASON_CODES:
        reason_code = "other"
    try:
        with uow_factory() as uow:
            loan = uow.loans.loan_for_update(customer_id, loan_id)
            if loan is None:
                raise LoanNotFound(loan_id)
            existing = uow.extensions.by_key(key)
            if existing is not None:
                return _decision(existing, already=True)
            state, overdue = _loan_state(uow, loan, today)
            if not overdue:
                raise NothingOverdue()
            decision = eligibility(state, policy, today)
            approved = decision.self_service and option is not None
            request = ExtensionRequest(
                customer_id=customer_id,
                loan_id=loan_id,
                status="approved" if approved else "referred",
                reason_code=reason_code,
                reason_text=reason_text[:500],
                option=option.code if option else None,
                terms=None,  # the agreed schedule, set by _reschedule
                rationale=(
                    f"self-service: {decision.rationale}"
                    if approved
                    else f"{','.join(decision.reasons) or 'no_option'}: {decision.rationale}"
                ),
                idempotency_key=key,
                created_at=now,
            )
            uow.extensions.add(request)
            if approved and option is not None:
                _reschedule(uow, request, overdue, option, today)
            uow.commit()
            return _decision(request, already=False)
    except IntegrityError:
        # A concurrent submission about the same instalments won the race: return its record.
        with uow_factory() as uow:
            existing = uow.extensions.by_key(key)
            if existing is None:
                raise
            return _decision(existing, already=True)
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def record_cancellation(
    uow_factory: UowFactory,
    customer_id: str,
    loan_id: str,
    reason_code: str,
    reason_text: str,
    option_code: str | None,
    now: dt.datetime,
) -> str:
    """Record that the customer cancelled before confirming; nothing else changes. Returns the reference."""
    try:
        with uow_factory() as uow:
            request = ExtensionRequest(
                customer_id=customer_id,
                loan_id=loan_id,
                status="cancelled",
                reason_code=reason_code if reason_code in REASON_CODES else "other",
                reason_text=reason_text[:500],
                option=option_code,
                terms=None,
                rationale="cancelled by the customer before confirming",
                idempotency_key=f"cancel:{uuid.uuid4().hex}",
                created_at=now,
            )
            reference = uow.extensions.add(request)
            uow.commit()
            return reference
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc
