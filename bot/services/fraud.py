"""Read-only checks behind the fraud conversations: does a pasted text match a notice we sent?"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from sqlalchemy.exc import SQLAlchemyError

from bot.domain.errors import RecordsUnavailable
from bot.domain.notice_match import described_notice, fits
from bot.services.loans import NoticeView, account_overview
from bot.unit_of_work import UowFactory

MATCH_WINDOW_DAYS = 30


def _amount_forms(amount: Decimal) -> set[str]:
    return {f"{amount:,.2f}", f"{amount:.2f}", f"{amount:,.0f}" if amount == amount.to_integral() else f"{amount:,.2f}"}


def matching_notice(uow_factory: UowFactory, customer_id: str, text: str, today: dt.date) -> NoticeView | None:
    """The notice the bank sent this customer in the last 30 days that the pasted or described text
    refers to (by loan id, the instalment amount, the days overdue or the day it was sent), or None.
    Only such a match may be called genuine."""
    overview = account_overview(uow_factory, customer_id, today)
    cutoff = dt.datetime.combine(today - dt.timedelta(days=MATCH_WINDOW_DAYS), dt.time.min)
    compact = re.sub(r"\s", "", text)
    described = described_notice(text)
    for notice in reversed(overview.notices):
        if notice.sent_at < cutoff:
            continue
        if notice.loan_id.lower() in compact.lower():
            return notice
        if notice.instalment_amount is not None and any(
            form in compact for form in _amount_forms(notice.instalment_amount)
        ):
            return notice
        if fits(described, notice.instalment_amount, notice.instalment_due_date, notice.sent_at, today):
            return notice
    return None


def disputable_loan(uow_factory: UowFactory, customer_id: str, today: dt.date) -> str | None:
    """The loan a customer who says "I never borrowed" most likely means: the oldest overdue one,
    else the only loan; None when they have no loan."""
    try:
        with uow_factory() as uow:
            # Plain ids, read inside the block: an ORM object is expired when its session ends.
            loan_ids = [loan.id for loan in uow.loans.loans_of(customer_id)]
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc
    if not loan_ids:
        return None
    position = account_overview(uow_factory, customer_id, today).position
    return position.items[0].loan_id if position.items else loan_ids[0]
