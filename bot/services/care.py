"""Care for a customer who is struggling: the vulnerability flag they consented to, and its withdrawal.

While a customer's flag is active the notice engine writes to them at most once a week with the
care text, and their handoff tickets reach a person sooner (bot.domain.care).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.domain.care import VULNERABILITY_REASONS
from bot.domain.errors import CustomerNotFound, RecordsUnavailable
from bot.domain.model import VulnerabilityFlag
from bot.unit_of_work import UowFactory


@dataclass(frozen=True)
class FlagView:
    customer_id: str
    reason: str
    conversation_id: str
    consent_at: dt.datetime
    created_at: dt.datetime
    cleared_at: dt.datetime | None
    already: bool = False


def _view(flag: VulnerabilityFlag, already: bool = False) -> FlagView:
    return FlagView(
        flag.customer_id, flag.reason, flag.conversation_id, flag.consent_at, flag.created_at, flag.cleared_at, already
    )


def record_vulnerability(
    uow_factory: UowFactory, customer_id: str, conversation_id: str, reason: str, now: dt.datetime
) -> FlagView:
    """The customer agreed, at ``now``, that we note their difficult situation: record the flag.

    Called only after the customer said yes. One active flag per customer: if one is already active
    it is returned (``already=True``) and nothing is added. ``reason`` is chosen by the assistant,
    never typed by the customer, so an unknown one is a programming error (ValueError).
    """
    if reason not in VULNERABILITY_REASONS:
        raise ValueError(f"unknown vulnerability reason {reason!r}; expected one of {VULNERABILITY_REASONS}")
    try:
        with uow_factory() as uow:
            if uow.loans.customer(customer_id) is None:
                raise CustomerNotFound(customer_id)
            existing = uow.vulnerability_flags.active_of(customer_id)
            if existing is not None:
                return _view(existing, already=True)
            flag = VulnerabilityFlag(
                customer_id=customer_id,
                reason=reason,
                conversation_id=conversation_id[:80],
                consent_at=now,
                created_at=now,
                cleared_at=None,
            )
            uow.vulnerability_flags.add(flag)
            uow.commit()
            return _view(flag)
    except IntegrityError:
        # The same consent recorded twice at once (a retried action): the other one is the flag.
        other = active_vulnerability(uow_factory, customer_id)
        if other is None:
            raise RecordsUnavailable() from None
        return replace(other, already=True)
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def active_vulnerability(uow_factory: UowFactory, customer_id: str) -> FlagView | None:
    """The customer's active flag (consent given and not withdrawn), or None."""
    try:
        with uow_factory() as uow:
            flag = uow.vulnerability_flags.active_of(customer_id)
            return _view(flag) if flag else None
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def clear_vulnerability(uow_factory: UowFactory, customer_id: str, now: dt.datetime) -> bool:
    """The customer withdraws consent: the active flag is cleared at ``now`` and notices and tickets
    are as for everyone again. True if there was an active flag to clear."""
    try:
        with uow_factory() as uow:
            flag = uow.vulnerability_flags.active_of(customer_id)
            if flag is None:
                return False
            flag.cleared_at = now
            uow.commit()
            return True
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc
