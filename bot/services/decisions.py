"""A colleague's decisions on what the assistant could not decide itself: extension requests the
policy referred to a person, and the cases customers opened (identity misuse, wrong number, scam
report, complaint). The agent console calls these; the console keeps its own audit log, so each
decision here stores only who decided (the staff username) and when, next to what was decided.

Extension requests
    Only a ``referred`` request can be decided. An approval changes the loan's schedule exactly as
    self-service approval does (``bot.services.extensions._reschedule``): what is overdue on the
    loan on the day of the decision, with the penalty interest to that day frozen into the plan,
    under the option the customer asked for unless the colleague chose another one the policy
    offers. The overdue instalments become ``rescheduled``, so the notice engine stops reminding
    about them at its next run; the plan's instalments are reminded of only once they are overdue.
    A rejection names one of ``REJECTION_REASONS``; the customer hears the reason's explanation,
    never the colleague's note. Deciding the same way twice returns the first decision unchanged;
    deciding the other way is refused. The request row is locked for the decision, so two
    colleagues deciding at once take turns and the second sees the first's decision.

Cases
    ``case_status`` moves a case to investigating, confirmed or closed along ``CASE_TRANSITIONS``
    (closed is final) and stores a ``CaseNote`` with the colleague's note. For what this means for
    reminders to a wrong-number case's number, see ``case_status``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.domain.errors import LoanNotFound, NothingOverdue, OptionNotOffered, RecordsUnavailable, UserError
from bot.domain.extensions import ExtensionOption, ExtensionPolicy, Terms
from bot.domain.model import CaseNote, ExtensionRequest
from bot.language import SUPPORTED
from bot.services.corrections import record_wrong_number_correction
from bot.services.extensions import _reschedule, _terms_from_json, default_policy, parse_option
from bot.unit_of_work import UnitOfWork, UowFactory

__all__ = [  # raised here and defined in bot.domain.errors
    "LoanNotFound",
    "NothingOverdue",
    "OptionNotOffered",
    "RecordsUnavailable",
]

#: Why a colleague may turn a referred request down, each explained to the customer in their language.
REJECTION_REASONS: dict[str, dict[str, str]] = {
    "too_long_overdue": {
        "zh": "这笔借款逾期时间太长，已不能办理延期或分期。",
        "en": "The loan has been overdue for too long for an extension or instalment plan.",
    },
    "amount_too_high": {
        "zh": "逾期金额超出了可以办理延期或分期的额度。",
        "en": "The overdue amount is more than an extension or instalment plan can cover.",
    },
    "repeated_extensions": {
        "zh": "这笔借款近期已经办理过延期或分期，暂时不能再次办理。",
        "en": "This loan already had an extension or instalment plan recently, so another one isn't possible for now.",
    },
    "insufficient_information": {
        "zh": "我们目前掌握的情况还不足以批准这项申请。如果您能补充说明（例如收入变化的情况），可以转人工重新申请。",
        "en": "We don't have enough information yet to approve it. If you can tell us more (for example about a change in your income), you can apply again through a colleague.",
    },
    "other": {
        "zh": "根据银行的审核规定，这次无法为您办理。",
        "en": "Under the bank's review rules, we can't offer one this time.",
    },
}

#: Every other sentence the customer is told about a decision, in both languages.
SENTENCES: dict[str, dict[str, str]] = {
    "approved": {
        "zh": "您的延期申请（编号 {reference}）已审核通过 ✅ 借款 {loan_id} 的逾期款项共 {total} 元（含截至 {day} 的罚息 {penalty} 元）已按“{option_title}”重新安排，新的还款计划：",
        "en": 'Your extension request (reference {reference}) has been approved ✅ The overdue amount on loan {loan_id}, {total} CNY including {penalty} CNY penalty interest up to {day}, is rescheduled as "{option_title}". Your new schedule:',
    },
    "schedule_line": {
        "zh": "{due_date} 应还 {amount} 元",
        "en": "{due_date}: {amount} CNY",
    },
    "other_option": {
        "zh": "这与您申请的“{asked_title}”不同，是审核后可以为您办理的方案；如有疑问，可以告诉我“转人工”。",
        "en": 'This differs from the "{asked_title}" you asked for: it is the plan we can offer after review. If you have questions, tell me "talk to a person".',
    },
    "approved_next": {
        "zh": "按新计划按时还款，这笔款项不会再产生新的罚息，相关的逾期提醒也会停止。您可以在App「我的 > 借款」查看计划。",
        "en": "As long as you pay on these dates, no more penalty interest is added and the reminders about this overdue amount stop. You can see the plan in the app under Me > Loans.",
    },
    "rejected": {
        "zh": "很抱歉，您的延期申请（编号 {reference}）经审核未能通过。",
        "en": "We're sorry: after review, your extension request (reference {reference}) was not approved.",
    },
    "rejected_next": {
        "zh": "您可以：在App「我的 > 借款 > 立即还款」还款，也可以先还一部分；告诉我“转人工”，同事会和您商量其他办法；或拨打青禾银行官方热线 400-888-0000。在此期间，原还款计划和罚息照常计算。",
        "en": 'What you can do: repay in the app under Me > Loans > Repay now, in part if you need to; tell me "talk to a person" and a colleague will look at other options with you; or call Qinghe Bank\'s official hotline 400-888-0000. Meanwhile the original schedule and penalty interest continue as before.',
    },
    "option_defer": {"zh": "延期{count}天", "en": "Defer {count} days"},
    "option_split": {"zh": "分{count}期", "en": "Split into {count} months"},
}

#: Between two sentences on one line: Chinese sets none.
WORD_GAP = {"zh": "", "en": " "}

CASE_STATUSES = ("investigating", "confirmed", "closed")
#: Where a colleague may move a case from each status; the bot opens cases as open or under_review.
#: Setting investigating again while investigating adds a progress note; closed is final.
CASE_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": CASE_STATUSES,
    "under_review": CASE_STATUSES,
    "investigating": CASE_STATUSES,
    "confirmed": ("closed",),
    "closed": (),
}
STAFF_MAX = 40  # as staff_accounts.username
REFERRED_SHOWN_MAX = 200


# --- errors: what the colleague asked cannot be done (the console shows why) -----------------


class DecisionRefused(UserError):
    """Base class: the decision cannot be made as asked; nothing was changed."""


class InvalidStaff(DecisionRefused):
    """Every decision names the colleague who made it (1-40 characters)."""


class ExtensionRequestNotFound(DecisionRefused):
    def __init__(self, reference: str) -> None:
        super().__init__(f"no extension request {reference!r}")
        self.reference = reference


class RequestNotReferred(DecisionRefused):
    """The request is not waiting for a colleague: self-service approved it, or the customer cancelled."""

    def __init__(self, reference: str, status: str) -> None:
        super().__init__(f"{reference} is {status}, not referred to a colleague")
        self.reference, self.status = reference, status


class RequestAlreadyDecided(DecisionRefused):
    """A colleague already decided the request the other way; a decision is not reversed here."""

    def __init__(self, reference: str, status: str) -> None:
        super().__init__(f"{reference} was already {status}")
        self.reference, self.status = reference, status


class NoOptionChosen(DecisionRefused):
    """The customer chose no option and the colleague named none."""


class UnknownRejectionReason(DecisionRefused):
    """Not one of REJECTION_REASONS."""


class CaseNotFound(DecisionRefused):
    def __init__(self, reference: str) -> None:
        super().__init__(f"no case {reference!r}")
        self.reference = reference


class CaseStatusNotAllowed(DecisionRefused):
    """Not a status a colleague sets, or not reachable from the case's status (closed is final)."""

    def __init__(self, reference: str, current: str, wanted: str) -> None:
        super().__init__(f"{reference}: cannot go from {current!r} to {wanted!r}")
        self.reference, self.current, self.wanted = reference, current, wanted


class SuppressionStillNeeded(DecisionRefused):
    """Reminders to the case's number must stay held (``why``: not_closing, not_a_wrong_number_case,
    not_confirmed, number_on_record); see case_status."""

    def __init__(self, reference: str, why: str) -> None:
        super().__init__(f"{reference}: reminders to its number stay held ({why})")
        self.reference, self.why = reference, why


# --- what the console gets back ---------------------------------------------------------------


@dataclass(frozen=True)
class ReferredExtension:
    """A referred request waiting for a colleague's decision."""

    reference: str
    customer_id: str
    loan_id: str
    reason_code: str  # the customer's: job_loss | illness | business | disaster | other
    reason_text: str
    option: str | None  # what the customer asked for (None: they chose none)
    created_at: dt.datetime
    rationale: str  # the policy checks and their values when it was referred
    referral_reasons: tuple[str, ...]  # too_late | recent_extension | disputed | over_limit | no_option


@dataclass(frozen=True)
class StaffDecision:
    """A colleague's decision on an extension request, and what the customer is to be told."""

    reference: str
    customer_id: str
    loan_id: str
    language: str  # the customer's (customer_message_for)
    status: str  # approved | rejected
    option: str | None  # approved: the plan's option; rejected: what the customer asked for
    requested_option: str | None  # what the customer asked for
    terms: Terms | None  # approved: the new schedule
    reason_code: str | None  # rejected: one of REJECTION_REASONS
    note: str  # the colleague's note, for staff only
    decided_by: str
    decided_at: dt.datetime
    already_recorded: bool  # True: this decision had been made before; nothing changed now


@dataclass(frozen=True)
class CaseDecision:
    reference: str
    type: str
    status: str
    previous_status: str
    note: str
    decided_by: str
    decided_at: dt.datetime
    suppression_lifted: bool
    # Wrong-number cases: whether reminders to the case's number are still held after this decision
    # (by this case or another one about the same number). None for other case types.
    number_held: bool | None
    # Confirming a wrong-number case records one correction to its number (bot.services.corrections).
    correction_recorded: bool = False


# --- extension requests -----------------------------------------------------------------------


def _staff(staff: str) -> str:
    name = (staff or "").strip()
    if not name or len(name) > STAFF_MAX:
        raise InvalidStaff(f"not a staff username: {staff!r}")
    return name


def _referral_reasons(rationale: str) -> tuple[str, ...]:
    return tuple(r for r in rationale.split(":", 1)[0].split(",") if r)


def _staff_decision(uow: UnitOfWork, request: ExtensionRequest, already: bool) -> StaffDecision:
    customer = uow.loans.customer(request.customer_id)
    return StaffDecision(
        reference=request.reference or "",
        customer_id=request.customer_id,
        loan_id=request.loan_id,
        language=customer.language if customer else "zh",
        status=request.status,
        option=request.option,
        requested_option=request.requested_option,
        terms=_terms_from_json(request.terms),
        reason_code=request.decision_reason,
        note=request.decision_note or "",
        decided_by=request.decided_by or "",
        decided_at=request.decided_at or request.created_at,
        already_recorded=already,
    )


def _locked_request(uow: UnitOfWork, reference: str) -> ExtensionRequest:
    request = uow.extensions.by_reference(reference, for_update=True)
    if request is None:
        raise ExtensionRequestNotFound(reference)
    return request


def _refuse_unless_referred(request: ExtensionRequest) -> None:
    if request.status == "referred":
        return
    reference = request.reference or ""
    if request.decided_by is not None:  # a colleague decided it: the other way, callers check theirs
        raise RequestAlreadyDecided(reference, request.status)
    raise RequestNotReferred(reference, request.status)


def _already_decided(uow_factory: UowFactory, reference: str, status: str) -> StaffDecision | None:
    """The colleague's decision already recorded on the request, if it is ``status``."""
    with uow_factory() as uow:
        request = uow.extensions.by_reference(reference)
        if request is None or request.status != status or request.decided_by is None:
            return None
        return _staff_decision(uow, request, already=True)


def referred_extensions(uow_factory: UowFactory, limit: int = 50) -> tuple[ReferredExtension, ...]:
    """The requests referred to a colleague and not yet decided, oldest first (at most ``limit``, 1-200)."""
    limit = max(1, min(limit, REFERRED_SHOWN_MAX))
    try:
        with uow_factory() as uow:
            return tuple(
                ReferredExtension(
                    reference=r.reference or "",
                    customer_id=r.customer_id,
                    loan_id=r.loan_id,
                    reason_code=r.reason_code,
                    reason_text=r.reason_text,
                    option=r.option,
                    created_at=r.created_at,
                    rationale=r.rationale,
                    referral_reasons=_referral_reasons(r.rationale),
                )
                for r in uow.extensions.referred(limit)
            )
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def approve_extension(
    uow_factory: UowFactory,
    reference: str,
    staff: str,
    option: str | None,
    today: dt.date,
    now: dt.datetime,
    note: str = "",
    policy: ExtensionPolicy | None = None,
) -> StaffDecision:
    """A colleague approves a referred request: the loan's schedule changes exactly as a self-service
    approval on ``today`` would change it, under ``option`` if given (it must be one the policy
    offers) or else the option the customer asked for; the request becomes approved, with who and
    when. Returns the decision with the new schedule the customer is to be told.

    Approving a request a colleague already approved returns that approval unchanged (whoever made
    it, whatever ``option`` says now). Refused: an unknown reference, a request not referred
    (self-service approved or cancelled), a rejected one, no option at all (NoOptionChosen), an
    option the policy does not offer (OptionNotOffered), and a loan with nothing overdue any more
    (NothingOverdue: it was repaid meanwhile, nothing is left to reschedule).
    """
    staff = _staff(staff)
    policy = policy or default_policy()
    chosen: ExtensionOption | None = parse_option(option, policy) if option else None
    try:
        with uow_factory() as uow:
            request = _locked_request(uow, reference)
            if request.status == "approved" and request.decided_by is not None:
                return _staff_decision(uow, request, already=True)
            _refuse_unless_referred(request)
            if chosen is None:
                if not request.option:
                    raise NoOptionChosen(f"{reference}: the customer chose no option; name one")
                chosen = parse_option(request.option, policy)
            loan = uow.loans.loan_for_update(request.customer_id, request.loan_id)
            if loan is None:
                raise LoanNotFound(request.loan_id)
            overdue = uow.loans.overdue_instalments_of_loan(loan.id, today)
            if not overdue:
                raise NothingOverdue()
            request.requested_option = request.option
            _reschedule(uow, request, overdue, chosen, today)
            request.decided_by, request.decided_at = staff, now
            request.decision_reason, request.decision_note = None, note.strip()[:500] or None
            decision = _staff_decision(uow, request, already=False)
            uow.commit()
            return decision
    except IntegrityError as exc:
        # Where the database has no row locks, a concurrent approval's new instalments took the same
        # places in the schedule and won: its decision is the one.
        existing = _already_decided(uow_factory, reference, "approved")
        if existing is None:
            raise RecordsUnavailable() from exc
        return existing
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def reject_extension(
    uow_factory: UowFactory,
    reference: str,
    staff: str,
    reason_code: str,
    note: str,
    now: dt.datetime,
) -> StaffDecision:
    """A colleague turns a referred request down for one of ``REJECTION_REASONS`` (the customer is
    told its explanation; ``note`` is for staff only). The schedule stays as it was. Rejecting a
    request already rejected returns that rejection unchanged; an approved, self-service or
    cancelled one is refused."""
    staff = _staff(staff)
    if reason_code not in REJECTION_REASONS:
        raise UnknownRejectionReason(f"not a rejection reason: {reason_code!r}")
    try:
        with uow_factory() as uow:
            request = _locked_request(uow, reference)
            if request.status == "rejected":
                return _staff_decision(uow, request, already=True)
            _refuse_unless_referred(request)
            request.status = "rejected"
            request.requested_option = request.option
            request.decided_by, request.decided_at = staff, now
            request.decision_reason, request.decision_note = reason_code, note.strip()[:500] or None
            decision = _staff_decision(uow, request, already=False)
            uow.commit()
            return decision
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


# --- cases ------------------------------------------------------------------------------------


def case_status(
    uow_factory: UowFactory,
    reference: str,
    staff: str,
    status: str,
    note: str,
    now: dt.datetime,
    lift_suppression: bool = False,
) -> CaseDecision:
    """A colleague moves a case to ``status`` (investigating | confirmed | closed, along
    ``CASE_TRANSITIONS``; closed is final) and their note is stored with who and when.

    Reminders and wrong-number cases. The notice engine sends only to a borrower's current number,
    and never to a number a wrong-number case holds. Every wrong-number case holds its number,
    whatever its status, closed included: closing a case never by itself lets reminders go to that
    number again. The hold is lifted only when all of these are true, and ``lift_suppression=True``
    asks for it while closing:

    - the case is a wrong-number case being closed from ``confirmed``, i.e. its outcome is that the
      number is not the borrower's (closing an unconfirmed case leaves the number held: the person
      who reported it may be right);
    - no customer's record carries the number any more (the borrower's number was corrected), so
      lifting cannot make a reminder reach the stranger who now has it.

    Asking for it when any of these fails raises SuppressionStillNeeded and changes nothing. Another
    open case about the same number keeps holding it (``number_held`` says so). Nothing else follows
    from a case's status here: an identity-misuse case's loan stays disputed until that is decided
    on its own.
    """
    staff, note = _staff(staff), note.strip()[:1000]
    if status not in CASE_STATUSES:
        raise CaseStatusNotAllowed(reference, "?", status)
    if lift_suppression and status != "closed":
        raise SuppressionStillNeeded(reference, "not_closing")
    try:
        with uow_factory() as uow:
            case = uow.cases.by_reference(reference, for_update=True)
            if case is None:
                raise CaseNotFound(reference)
            previous = case.status
            if status not in CASE_TRANSITIONS.get(previous, CASE_STATUSES):
                raise CaseStatusNotAllowed(reference, previous, status)
            if lift_suppression:
                if case.type != "wrong_number":
                    raise SuppressionStillNeeded(reference, "not_a_wrong_number_case")
                if previous != "confirmed":
                    raise SuppressionStillNeeded(reference, "not_confirmed")
                if case.phone and uow.loans.phone_on_record(case.phone):
                    raise SuppressionStillNeeded(reference, "number_on_record")
                case.suppression_lifted_at = now
            case.status, case.updated_at = status, now
            uow.cases.add_note(
                CaseNote(
                    case_id=case.id,
                    staff=staff,
                    from_status=previous,
                    to_status=status,
                    note=note,
                    created_at=now,
                )
            )
            held: bool | None = None
            corrected = False
            if case.type == "wrong_number":
                held = bool(case.phone) and case.phone in uow.cases.phones_under_review()
                if status == "confirmed" and previous != "confirmed" and case.phone:
                    # The reminders that reached this number were not for its holder: say so, once.
                    corrected = record_wrong_number_correction(uow, case.phone, case.reference or "", now)
            decision = CaseDecision(
                reference=case.reference or "",
                type=case.type,
                status=status,
                previous_status=previous,
                note=note,
                decided_by=staff,
                decided_at=now,
                suppression_lifted=lift_suppression,
                number_held=held,
                correction_recorded=corrected,
            )
            uow.commit()
            return decision
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


# --- what the customer is told ----------------------------------------------------------------


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _option_title(code: str, language: str) -> str:
    option = ExtensionOption.from_code(code)
    return SENTENCES[f"option_{option.kind}"][language].format(count=option.count)


def customer_message_for(decision: StaffDecision, language: str) -> str:
    """What the customer is told in the chat about a colleague's decision, in ``language`` (zh | en).

    Approved: the reference, the amount rescheduled, the option, every new instalment's date and
    amount, and that reminders and penalty interest stop while they pay on time (and, when the
    colleague chose another option than the one asked for, that it differs). Rejected: the
    reference, the reason's explanation, and what they can do next (repay in the app, ask for a
    person, the hotline 400-888-0000). The colleague's note is never part of it.
    """
    if language not in SUPPORTED:
        raise ValueError(f"no customer messages in {language!r}")
    if decision.status == "approved" and decision.terms is not None:
        t = decision.terms
        lines = [
            SENTENCES["approved"][language].format(
                reference=decision.reference,
                loan_id=decision.loan_id,
                total=_money(t.total),
                penalty=_money(t.frozen_penalty),
                day=decision.decided_at.date().isoformat(),
                option_title=_option_title(t.option.code, language),
            )
        ]
        lines += [
            SENTENCES["schedule_line"][language].format(due_date=p.due_date.isoformat(), amount=_money(p.amount))
            for p in t.instalments
        ]
        if decision.requested_option and decision.requested_option != t.option.code:
            asked = _option_title(decision.requested_option, language)
            lines.append(SENTENCES["other_option"][language].format(asked_title=asked))
        lines.append(SENTENCES["approved_next"][language])
        return "\n".join(lines)
    if decision.status == "rejected" and decision.reason_code in REJECTION_REASONS:
        rejected = SENTENCES["rejected"][language].format(reference=decision.reference)
        reason = REJECTION_REASONS[decision.reason_code][language]
        return "\n".join((rejected + WORD_GAP[language] + reason, SENTENCES["rejected_next"][language]))
    raise ValueError(f"{decision.reference} has no decision to tell the customer ({decision.status})")
