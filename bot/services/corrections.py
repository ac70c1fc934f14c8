"""Corrections of overdue notices sent in error.

Two kinds. A notice the records prove wrong (a payment for that instalment had posted before the
notice was sent) is confirmed automatically when the borrower asks about it: a ``notice_correction``
case is recorded as confirmed, and one correction goes to the number the wrong notice used. Reminders
that reached a number that is not the borrower's are corrected when a colleague confirms the
wrong-number case (``decisions.case_status``): one correction to that number for all of them.

A correction is a notice like any other (``sms_notices``, template ``correction*``, ``pending`` and
sent through the outbox with its own idempotency key, so it is neither lost nor sent twice), and the
notices it corrects are marked ``corrected_at``. It goes on the channel the wrong notice used: an SMS
is corrected by SMS to the same number, an in-app message by an in-app message in the customer's own
chat; a call cannot be taken back by calling again, so a wrong call is corrected by an SMS to the
number called that says it is about our call (``correction_call``). Its text (``config/correction_templates.yml``) names
no borrower, loan or amount: whoever holds the number may not be the borrower.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.domain.errors import RecordsUnavailable
from bot.domain.model import Case, SmsNotice
from bot.domain.notices import load_templates
from bot.settings import get_settings
from bot.unit_of_work import UnitOfWork, UowFactory

CORRECTION_TEMPLATES = ("correction", "correction_call", "correction_wrong_number")
#: The channel a correction goes on, by the wrong notice's channel (a call is corrected by SMS).
CORRECTION_CHANNEL = {"sms": "sms", "in_app": "in_app", "call": "sms"}
#: How far back a notice is looked at for a correction the records prove.
LOOKBACK = dt.timedelta(days=90)


@lru_cache(maxsize=1)
def correction_templates() -> dict[str, dict[str, str]]:
    return load_templates(get_settings().config_file("correction_templates.yml"))


def correction_text(template: str, language: str, sent_at: dt.datetime) -> str:
    texts = correction_templates()[template]
    return (texts.get(language) or texts["zh"]).format(sent_date=sent_at.date().isoformat())


def _key(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in ("correction", *parts)).encode()).hexdigest()


@dataclass(frozen=True)
class Correction:
    """A correction recorded: the wrong notice's time, why it was wrong, the case, the correction's number."""

    notice_sent_at: dt.datetime
    payment_posted_at: dt.datetime | None
    case_reference: str | None
    phone: str
    already: bool = False
    channel: str = "sms"  # where the correction goes: sms | in_app (a wrong call is corrected by SMS)


def _record(
    uow: UnitOfWork, wrong: Sequence[SmsNotice], template: str, language: str, key: str, why: str, now: dt.datetime
) -> SmsNotice:
    latest = max(wrong, key=lambda n: (n.sent_at, n.id))
    for notice in wrong:
        notice.corrected_at = now
    channel = CORRECTION_CHANNEL.get(latest.channel or "sms", "sms")
    if template == "correction" and latest.channel == "call":
        template = "correction_call"  # by SMS, and it says it is about our call
    correction = SmsNotice(
        customer_id=latest.customer_id,  # the record the wrong notices belong to; the text names nobody
        loan_id=latest.loan_id,
        instalment_id=None,
        phone=latest.phone,  # the number the wrong notice used (an in-app correction goes to the same chat)
        channel=channel,
        template=template,
        reason=why[:200],
        sent_at=now,
        status="pending",
        attempts=0,
        text=correction_text(template, language, latest.sent_at),
        idempotency_key=key,
        corrects_notice_id=latest.id,
    )
    uow.notices.add(correction)
    return correction


def _is_overdue_notice(n: SmsNotice) -> bool:
    return n.template not in CORRECTION_TEMPLATES


def correct_proven_errors(
    uow_factory: UowFactory, customer_id: str, conversation_id: str, now: dt.datetime
) -> list[Correction]:
    """Confirm from the records, and correct, every notice to this borrower sent after a payment for
    its instalment had posted. Idempotent: a notice already corrected is reported as ``already``."""
    try:
        with uow_factory() as uow:
            customer = uow.loans.customer(customer_id)
            if customer is None:
                return []
            posted: dict[int, dt.datetime] = {}
            for r in uow.loans.repayments_of(customer_id, now - LOOKBACK - LOOKBACK):
                if r.instalment_id is not None and r.posted_at is not None:
                    posted[r.instalment_id] = min(r.posted_at, posted.get(r.instalment_id, r.posted_at))
            found: list[Correction] = []
            for notice, _ in uow.notices.of_customer(customer_id, now - LOOKBACK):
                if not _is_overdue_notice(notice) or notice.instalment_id not in posted:
                    continue
                paid = posted[notice.instalment_id]
                if paid >= notice.sent_at:
                    continue  # the notice went out before the money arrived: it was right when sent
                key = _key("notice", notice.id)
                case_key = hashlib.sha256(f"notice_correction|{notice.id}".encode()).hexdigest()
                channel = CORRECTION_CHANNEL.get(notice.channel or "sms", "sms")
                if notice.corrected_at is not None:
                    case = uow.cases.by_key(case_key)
                    found.append(
                        Correction(notice.sent_at, paid, case.reference if case else None, notice.phone, True, channel)
                    )
                    continue
                case = Case(
                    type="notice_correction",
                    status="confirmed",  # the records prove it: nobody needs to look first
                    urgent=False,
                    customer_id=customer_id,
                    loan_id=notice.loan_id,
                    phone=notice.phone,
                    conversation_id=conversation_id,
                    details=f"notice {notice.id} sent {notice.sent_at:%Y-%m-%d %H:%M} after the payment posted "
                    f"{paid:%Y-%m-%d %H:%M}; correction sent",
                    idempotency_key=case_key,
                    created_at=now,
                    updated_at=now,
                )
                reference = uow.cases.add(case, "NCR")
                why = f"correction of notice {notice.id}: sent after the payment posted ({reference})"
                _record(uow, [notice], "correction", customer.language, key, why, now)
                found.append(Correction(notice.sent_at, paid, reference, notice.phone, channel=channel))
            uow.commit()
            return found
    except IntegrityError:  # the same correction recorded at the same moment by another request
        return [
            Correction(c.notice_sent_at, c.payment_posted_at, c.case_reference, c.phone, True, c.channel)
            for c in correct_proven_errors(uow_factory, customer_id, conversation_id, now)
        ]
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def record_wrong_number_correction(uow: UnitOfWork, phone: str, case_reference: str, now: dt.datetime) -> bool:
    """Within a colleague's confirmation of a wrong-number case: one correction (an SMS) to ``phone`` for
    every reminder or call that reached it and is not corrected yet (in-app messages went to the
    borrower's own chat, not to the number). False when there was none to correct."""
    wrong = [n for n in uow.notices.to_phone(phone) if _is_overdue_notice(n) and n.corrected_at is None]
    if not wrong:
        return False
    why = f"correction of {len(wrong)} notice(s) to a number that is not the borrower's ({case_reference})"
    # Whoever holds the number is a stranger to us: Chinese, the number's country's language.
    _record(uow, wrong, "correction_wrong_number", "zh", _key("number", phone, case_reference), why, now)
    return True
