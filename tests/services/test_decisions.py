"""A colleague's decisions (bot/services/decisions.py): referred extension requests and case statuses,
over the in-memory unit of work and over SQLite and PostgreSQL with the demo data."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import string
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from bot import db
from bot.domain.model import Base, CaseNote, Customer, ExtensionRequest, Instalment
from bot.domain.notices import NoticePolicy
from bot.services import cases, decisions, extensions, loans, notices, preferences
from bot.services.decisions import (
    CaseNotFound,
    CaseStatusNotAllowed,
    ExtensionRequestNotFound,
    InvalidStaff,
    NoOptionChosen,
    NothingOverdue,
    OptionNotOffered,
    RequestAlreadyDecided,
    RequestNotReferred,
    SuppressionStillNeeded,
    UnknownRejectionReason,
    approve_extension,
    case_status,
    customer_message_for,
    referred_extensions,
    reject_extension,
)
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.fakes import FakeUnitOfWork

D = Decimal
TODAY = dt.date(2026, 11, 28)
NOW = dt.datetime(2026, 11, 28, 14, 0)
LATER = dt.datetime(2026, 11, 30, 10, 15)  # the colleague decides two days after the referral
DECISION_DAY = LATER.date()


class Outbox:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, sms) -> None:  # type: ignore[no-untyped-def]
        self.sent.append(sms.to)


# --- over the in-memory unit of work ----------------------------------------------------------


@pytest.fixture
def uow() -> FakeUnitOfWork:
    """C1 (zh) has L1 12 days late (self-service) and L9 100 days late (referred); C2 (en) has L2 100 days late."""
    fake = FakeUnitOfWork()
    fake.loans.add_customer("C1", "13800001111")
    fake.loans.add_customer("C2", "13800002222", name="Li Lei", language="en")
    fake.loans.add_loan("C1", "L1")
    fake.loans.schedule("L1", 1, dt.date(2026, 11, 16), "1000.00")
    fake.loans.schedule("L1", 2, dt.date(2026, 12, 16), "1000.00")
    fake.loans.add_loan("C1", "L9")
    fake.loans.schedule("L9", 1, dt.date(2026, 8, 20), "2000.00")
    fake.loans.schedule("L9", 2, dt.date(2026, 12, 20), "2000.00")
    fake.loans.add_loan("C2", "L2")
    fake.loans.schedule("L2", 1, dt.date(2026, 8, 20), "3000.00")
    return fake


def refer(uow: FakeUnitOfWork, customer: str, loan: str, option: str | None, at: dt.datetime = NOW) -> str:
    decision = extensions.submit_extension(
        uow.factory(), customer, loan, "illness", "住院了", option, f"k-{loan}", TODAY, at
    )
    assert decision.status == "referred"
    return decision.reference


def test_the_queue_lists_only_referred_requests_oldest_first_with_why(uow) -> None:
    late = refer(uow, "C2", "L2", "split_6", at=NOW)
    early = refer(uow, "C1", "L9", None, at=NOW - dt.timedelta(hours=3))
    extensions.submit_extension(uow.factory(), "C1", "L1", "job_loss", "", "defer_7", "k-self", TODAY, NOW)
    queue = referred_extensions(uow.factory())
    assert [r.reference for r in queue] == [early, late]
    first = queue[0]
    assert (first.customer_id, first.loan_id, first.reason_code, first.reason_text, first.option) == (
        "C1", "L9", "illness", "住院了", None,
    )  # fmt: skip
    assert first.referral_reasons == ("too_late",) and "days_overdue=100" in first.rationale
    assert queue[1].option == "split_6" and referred_extensions(uow.factory(), limit=1) == queue[:1]


def test_approving_a_referred_request_reschedules_like_self_service_and_twice_changes_nothing(uow) -> None:
    reference = refer(uow, "C1", "L9", "split_3")
    expected = extensions.preview_terms(uow.factory(), "C1", "L9", "split_3", DECISION_DAY)
    decision = approve_extension(uow.factory(), reference, "agent.li", None, DECISION_DAY, LATER)
    assert (decision.status, decision.option, decision.decided_by, decision.decided_at) == (
        "approved", "split_3", "agent.li", LATER,
    )  # fmt: skip
    assert decision.terms == expected and not decision.already_recorded
    # 2,000.00 + 102.00 penalty interest (102 days late on the day of the decision), split in three
    assert [p.amount for p in decision.terms.instalments] == [D("700.66"), D("700.66"), D("700.68")]
    old, regular = uow.loans.instalments[2], uow.loans.instalments[3]
    assert old.status == "rescheduled" and regular.status == "scheduled"
    request = uow.extensions.requests[0]
    new = [i for i in uow.loans.instalments if i.extension_id == request.id]
    assert [(i.seq, i.due_date, i.amount) for i in new] == [
        (2 + k, p.due_date, p.amount) for k, p in enumerate(expected.instalments, start=1)
    ]
    assert loans.account_overview(uow.factory(), "C1", DECISION_DAY).plans[0].reference == reference
    commits = uow.commits
    again = approve_extension(uow.factory(), reference, "agent.wang", "defer_30", DECISION_DAY, LATER)
    assert again.already_recorded and again.decided_by == "agent.li" and again.terms == decision.terms
    assert uow.commits == commits and len(uow.loans.instalments) == 8
    assert referred_extensions(uow.factory()) == ()


def test_a_colleague_may_approve_another_option_than_the_one_asked_for(uow) -> None:
    reference = refer(uow, "C2", "L2", "defer_30")
    decision = approve_extension(uow.factory(), reference, "agent.li", "split_6", DECISION_DAY, LATER, note="income")
    assert (decision.option, decision.requested_option, decision.note) == ("split_6", "defer_30", "income")
    assert len(decision.terms.instalments) == 6 and sum(p.amount for p in decision.terms.instalments) == D("3153.00")
    assert uow.extensions.requests[0].option == "split_6"  # the plan the customer now has
    message = customer_message_for(decision, "en")
    assert 'differs from the "Defer 30 days"' in message and '"Split into 6 months"' in message


def test_no_option_or_one_the_policy_does_not_offer_is_refused_and_changes_nothing(uow) -> None:
    reference = refer(uow, "C1", "L9", None)
    with pytest.raises(NoOptionChosen):
        approve_extension(uow.factory(), reference, "agent.li", None, DECISION_DAY, LATER)
    with pytest.raises(OptionNotOffered):
        approve_extension(uow.factory(), reference, "agent.li", "split_7", DECISION_DAY, LATER)
    assert uow.extensions.requests[0].status == "referred"
    assert all(i.status == "scheduled" and i.extension_id is None for i in uow.loans.instalments)
    decision = approve_extension(uow.factory(), reference, "agent.li", "defer_14", DECISION_DAY, LATER)
    assert decision.requested_option is None and decision.terms.instalments[0].due_date == dt.date(2026, 12, 14)


def test_only_a_referred_request_can_be_decided(uow) -> None:
    self_service = extensions.submit_extension(uow.factory(), "C1", "L1", "job_loss", "", "defer_7", "k", TODAY, NOW)
    cancelled = extensions.record_cancellation(uow.factory(), "C2", "L2", "other", "", None, NOW)
    for reference in (self_service.reference, cancelled):
        with pytest.raises(RequestNotReferred):
            approve_extension(uow.factory(), reference, "agent.li", "defer_7", DECISION_DAY, LATER)
        with pytest.raises(RequestNotReferred):
            reject_extension(uow.factory(), reference, "agent.li", "other", "", LATER)
    with pytest.raises(ExtensionRequestNotFound):
        approve_extension(uow.factory(), "EXT-2026-999999", "agent.li", None, DECISION_DAY, LATER)
    assert [r.decided_by for r in uow.extensions.requests] == [None, None]


def test_a_request_repaid_before_the_decision_has_nothing_left_to_reschedule(uow) -> None:
    reference = refer(uow, "C1", "L9", "split_3")
    uow.loans.instalments[2].paid_at = LATER - dt.timedelta(days=1)
    with pytest.raises(NothingOverdue):
        approve_extension(uow.factory(), reference, "agent.li", None, DECISION_DAY, LATER)
    assert uow.extensions.requests[0].status == "referred"


def test_a_rejection_keeps_the_schedule_stores_why_and_tells_the_customer_in_their_language(uow) -> None:
    zh_ref, en_ref = refer(uow, "C1", "L9", "split_3"), refer(uow, "C2", "L2", "split_6")
    zh = reject_extension(uow.factory(), zh_ref, "agent.li", "too_long_overdue", "逾期100天，无收入证明", LATER)
    en = reject_extension(uow.factory(), en_ref, "agent.li", "insufficient_information", "asked twice", LATER)
    request = uow.extensions.requests[0]
    assert (request.status, request.decision_reason, request.decision_note, request.decided_by, request.decided_at) == (
        "rejected", "too_long_overdue", "逾期100天，无收入证明", "agent.li", LATER,
    )  # fmt: skip
    assert all(i.status == "scheduled" for i in uow.loans.instalments)
    assert (zh.status, zh.reason_code, zh.language, en.language) == ("rejected", "too_long_overdue", "zh", "en")
    zh_text = customer_message_for(zh, "zh")
    assert zh_ref in zh_text and "逾期时间太长" in zh_text and "400-888-0000" in zh_text
    assert "立即还款" in zh_text and "转人工" in zh_text and "无收入证明" not in zh_text
    en_text = customer_message_for(en, "en")
    assert en_ref in en_text and "enough information" in en_text and "400-888-0000" in en_text
    assert "Repay now" in en_text and "talk to a person" in en_text and "asked twice" not in en_text
    assert "approved. We don't have" in en_text  # the reason follows the first sentence with a space
    assert re.search(r"[\u4e00-\u9fff]", en_text) is None
    # Either language can be asked for, whatever the customer's records say.
    assert "not approved" in customer_message_for(zh, "en") and "未能通过" in customer_message_for(en, "zh")


def test_a_decision_is_not_reversed_and_deciding_the_same_way_again_returns_it(uow) -> None:
    rejected, approved = refer(uow, "C1", "L9", "split_3"), refer(uow, "C2", "L2", "split_6")
    first = reject_extension(uow.factory(), rejected, "agent.li", "repeated_extensions", "", LATER)
    again = reject_extension(uow.factory(), rejected, "agent.wang", "other", "changed my mind", LATER)
    assert (
        again.already_recorded and again.reason_code == "repeated_extensions" and again.decided_by == first.decided_by
    )
    with pytest.raises(RequestAlreadyDecided):
        approve_extension(uow.factory(), rejected, "agent.wang", None, DECISION_DAY, LATER)
    approve_extension(uow.factory(), approved, "agent.li", None, DECISION_DAY, LATER)
    with pytest.raises(RequestAlreadyDecided):
        reject_extension(uow.factory(), approved, "agent.wang", "other", "", LATER)
    assert [r.status for r in uow.extensions.requests] == ["rejected", "approved"]


@pytest.mark.parametrize("reason", ["", "no_money", "too_late"])
def test_a_rejection_reason_outside_the_fixed_set_is_refused(uow, reason) -> None:
    reference = refer(uow, "C1", "L9", "split_3")
    with pytest.raises(UnknownRejectionReason):
        reject_extension(uow.factory(), reference, "agent.li", reason, "", LATER)
    assert uow.extensions.requests[0].status == "referred"


@pytest.mark.parametrize("staff", ["", "   ", "x" * 41])
def test_every_decision_names_the_colleague(uow, staff) -> None:
    reference = refer(uow, "C1", "L9", "split_3")
    with pytest.raises(InvalidStaff):
        approve_extension(uow.factory(), reference, staff, None, DECISION_DAY, LATER)
    with pytest.raises(InvalidStaff):
        reject_extension(uow.factory(), reference, staff, "other", "", LATER)
    with pytest.raises(InvalidStaff):
        case_status(uow.factory(), "WRN-2026-000001", staff, "closed", "", LATER)


def test_the_approval_message_lists_every_new_instalment_in_both_languages(uow) -> None:
    decision = approve_extension(
        uow.factory(), refer(uow, "C2", "L2", "split_3"), "agent.li", None, DECISION_DAY, LATER
    )
    en, zh = customer_message_for(decision, "en"), customer_message_for(decision, "zh")
    assert "3,153.00 CNY including 153.00 CNY penalty interest up to 2026-11-30" in en
    assert "共 3,153.00 元（含截至 2026-11-30 的罚息 153.00 元）" in zh and "“分3期”" in zh
    for p in decision.terms.instalments:
        assert f"{p.due_date.isoformat()}: {p.amount:,.2f} CNY" in en
        assert f"{p.due_date.isoformat()} 应还 {p.amount:,.2f} 元" in zh
    assert "differs" not in en and "不同" not in zh  # the option asked for was approved
    assert "reminders about this overdue amount stop" in en and "逾期提醒也会停止" in zh
    with pytest.raises(ValueError):
        customer_message_for(decision, "fr")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_sentence_the_customer_is_told_exists_in_both_languages_with_the_same_variables() -> None:
    for table in (decisions.SENTENCES, decisions.REJECTION_REASONS):
        for key, texts in table.items():
            assert set(texts) == {"zh", "en"}, key
            assert all(texts.values()), key
            assert placeholders(texts["zh"]) == placeholders(texts["en"]), key
            assert re.search(r"[\u4e00-\u9fff]", texts["en"]) is None, key
            assert re.search(r"[\u4e00-\u9fff]", texts["zh"]), key
    assert set(decisions.REJECTION_REASONS) >= {
        "too_long_overdue",
        "insufficient_information",
        "repeated_extensions",
        "other",
    }


def test_what_leaves_a_decision_is_plain_data(uow) -> None:
    decision = approve_extension(
        uow.factory(), refer(uow, "C1", "L9", "split_3"), "agent.li", None, DECISION_DAY, LATER
    )
    case = cases.open_complaint(uow.factory(), "customer:C1", "C1", "other", "rude", NOW)
    results = (
        decision,
        referred_extensions(uow.factory()),
        case_status(uow.factory(), case.reference, "a", "closed", "", LATER),
    )

    def walk(value: object) -> None:
        assert not isinstance(value, Base)
        if dataclasses.is_dataclass(value):
            for f in dataclasses.fields(value):
                walk(getattr(value, f.name))
        elif isinstance(value, tuple | list):
            for v in value:
                walk(v)

    walk(results)
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.status = "rejected"  # type: ignore[misc]


# --- cases over the in-memory unit of work ----------------------------------------------------


def test_a_case_goes_from_investigating_to_confirmed_to_closed_with_a_note_each_time(uow) -> None:
    case = cases.open_identity_misuse_case(uow.factory(), "C1", "L1", "customer:C1", "not mine", NOW)
    steps = [
        ("investigating", "called the customer"),
        ("investigating", "asked for ID"),
        ("confirmed", "ID copy was forged"),
        ("closed", ""),
    ]
    for status, note in steps:
        decision = case_status(uow.factory(), case.reference, "agent.li", status, note, LATER)
        assert (decision.status, decision.decided_by, decision.note, decision.number_held) == (
            status,
            "agent.li",
            note,
            None,
        )
    assert [(n.from_status, n.to_status, n.note) for n in uow.cases.notes] == [
        ("open", "investigating", "called the customer"),
        ("investigating", "investigating", "asked for ID"),
        ("investigating", "confirmed", "ID copy was forged"),
        ("confirmed", "closed", ""),
    ]
    stored = uow.cases.by_reference(case.reference)
    assert stored.status == "closed" and stored.updated_at == LATER
    assert uow.loans.loans[0].disputed_at == NOW  # the loan's dispute is decided on its own


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ((), "open"),  # not a status a colleague sets
        ((), "under_review"),
        ((), "approved"),
        (("closed",), "investigating"),  # closed is final
        (("closed",), "closed"),
        (("confirmed",), "investigating"),
        (("confirmed",), "confirmed"),
    ],
)
def test_a_status_a_colleague_cannot_set_from_where_the_case_is_is_refused(uow, path, wanted) -> None:
    case = cases.open_scam_report(uow.factory(), "visitor:abc12345", None, False, "fake call", NOW)
    for status in path:
        case_status(uow.factory(), case.reference, "agent.li", status, "", LATER)
    notes = len(uow.cases.notes)
    with pytest.raises(CaseStatusNotAllowed):
        case_status(uow.factory(), case.reference, "agent.li", wanted, "", LATER)
    assert len(uow.cases.notes) == notes and uow.cases.by_reference(case.reference).status == (path or ("open",))[-1]


def test_an_unknown_case_is_refused(uow) -> None:
    with pytest.raises(CaseNotFound):
        case_status(uow.factory(), "CMP-2026-999999", "agent.li", "closed", "", LATER)


def test_closing_a_wrong_number_case_keeps_the_number_held_unless_the_lift_is_asked_and_allowed(uow) -> None:
    # Someone says the texts at C1's number are not for them.
    held = cases.open_wrong_number_case(uow.factory(), "13800001111", "visitor:abc12345", "not me", NOW)
    assert notices.run_notices(uow.factory(), Outbox(), NOW, dry_run=True).skipped["number_under_review"] == 2
    with pytest.raises(SuppressionStillNeeded) as refused:
        case_status(uow.factory(), held.reference, "agent.li", "closed", "", LATER, lift_suppression=True)
    assert refused.value.why == "not_confirmed"  # an unconfirmed report still holds the number
    case_status(uow.factory(), held.reference, "agent.li", "confirmed", "not C1's phone", LATER)
    with pytest.raises(SuppressionStillNeeded) as refused:
        case_status(uow.factory(), held.reference, "agent.li", "closed", "", LATER, lift_suppression=True)
    assert refused.value.why == "number_on_record"  # C1's record still carries the number
    assert uow.cases.by_reference(held.reference).status == "confirmed"
    closed = case_status(uow.factory(), held.reference, "agent.li", "closed", "fix C1's number", LATER)
    assert closed.number_held and not closed.suppression_lifted
    outbox = Outbox()
    report = notices.run_notices(uow.factory(), outbox, LATER)
    assert report.skipped["number_under_review"] == 2 and "13800001111" not in outbox.sent  # L1 and L9
    with pytest.raises(SuppressionStillNeeded):
        case_status(uow.factory(), held.reference, "agent.li", "investigating", "", LATER, lift_suppression=True)


def test_a_lifted_hold_lets_a_later_customer_with_that_number_be_reminded_and_an_unlifted_one_does_not(uow) -> None:
    def closed_case(phone: str, lift: bool) -> None:
        case = cases.open_wrong_number_case(uow.factory(), phone, f"visitor:{phone}", "", NOW)
        case_status(uow.factory(), case.reference, "agent.li", "confirmed", "recycled number", LATER)
        decision = case_status(uow.factory(), case.reference, "agent.li", "closed", "", LATER, lift_suppression=lift)
        assert decision.suppression_lifted is lift and decision.number_held is not lift

    closed_case("13900009999", lift=True)  # nobody's number any more: the hold can go
    closed_case("13900008888", lift=False)
    assert not cases.number_under_review(uow.factory(), "13900009999")
    assert cases.number_under_review(uow.factory(), "13900008888")
    # Later the numbers' new owners become customers with loans of their own, overdue.
    for customer, phone, loan in (("C3", "13900009999", "L3"), ("C4", "13900008888", "L4")):
        uow.loans.add_customer(customer, phone)
        uow.loans.add_loan(customer, loan)
        uow.loans.schedule(loan, 1, dt.date(2026, 11, 29), "500.00")
        # A first-time late borrower's first notice is in-app unless they prefer SMS: ask for the number.
        preferences.set_contact_preferences(uow.factory(), customer, NOW, prefer="sms")
    outbox = Outbox()
    report = notices.run_notices(uow.factory(), outbox, dt.datetime(2026, 12, 1, 10))
    assert "13900009999" in outbox.sent and "13900008888" not in outbox.sent
    assert report.skipped["number_under_review"] == 1


def test_another_open_case_about_the_same_number_keeps_holding_it(uow) -> None:
    first = cases.open_wrong_number_case(uow.factory(), "13900009999", "visitor:aaaaaaaa", "", NOW)
    cases.open_wrong_number_case(uow.factory(), "13900009999", "visitor:bbbbbbbb", "", NOW)
    case_status(uow.factory(), first.reference, "agent.li", "confirmed", "", LATER)
    decision = case_status(uow.factory(), first.reference, "agent.li", "closed", "", LATER, lift_suppression=True)
    assert decision.suppression_lifted and decision.number_held
    assert cases.number_under_review(uow.factory(), "13900009999")


def test_only_a_wrong_number_case_has_a_hold_to_lift(uow) -> None:
    case = cases.open_complaint(uow.factory(), "customer:C1", "C1", "other", "too many texts", NOW)
    case_status(uow.factory(), case.reference, "agent.li", "confirmed", "", LATER)
    with pytest.raises(SuppressionStillNeeded) as refused:
        case_status(uow.factory(), case.reference, "agent.li", "closed", "", LATER, lift_suppression=True)
    assert refused.value.why == "not_a_wrong_number_case"


# --- over SQLite and PostgreSQL, with the demo data -------------------------------------------


def sql(url):
    return lambda: SqlAlchemyUnitOfWork(url)


def count(url, model, *where):
    with db.session_factory(url)() as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def refer_c1004(url, option: str | None = "split_6") -> str:
    """C1004's L1004A is 95 days overdue: too late for self-service, so his request is referred."""
    decision = extensions.submit_extension(
        sql(url), "C1004", "L1004A", "business", "生意失败", option, "conv-1", TODAY, NOW
    )
    assert decision.status == "referred" and decision.reasons == ("too_late",)
    return decision.reference


GENEROUS = NoticePolicy(**{**notices.default_policy().__dict__, "max_notices_per_instalment": 50})


def test_c1004s_referred_request_approved_by_a_colleague_reschedules_his_loan_once(database_url) -> None:
    reference = refer_c1004(database_url)
    assert [r.reference for r in referred_extensions(sql(database_url))] == [reference]
    day5 = dt.datetime.combine(TODAY + dt.timedelta(days=5), dt.time(10))
    before = notices.run_notices(sql(database_url), None, day5, dry_run=True, policy=GENEROUS)
    assert ("C1004", "L1004A", "reminder") in before.recorded
    expected = extensions.preview_terms(sql(database_url), "C1004", "L1004A", "split_6", DECISION_DAY)
    decision = approve_extension(sql(database_url), reference, "agent.li", None, DECISION_DAY, LATER)
    assert decision.terms == expected and decision.terms.total == D("8388.00")  # 8,000 + 97 days of penalty
    assert [p.amount for p in decision.terms.instalments] == [D("1398.00")] * 6
    assert (decision.customer_id, decision.language, decision.decided_by) == ("C1004", "zh", "agent.li")
    again = approve_extension(sql(database_url), reference, "agent.li", None, DECISION_DAY, LATER)
    assert again.already_recorded and again.terms == decision.terms
    assert count(database_url, Instalment, Instalment.extension_id.is_not(None)) == 6
    assert count(database_url, Instalment, Instalment.status == "rescheduled") == 1
    with db.session_factory(database_url)() as session:
        request = session.execute(select(ExtensionRequest)).scalars().one()
        assert (request.status, request.decided_by, request.decided_at, request.option) == (
            "approved", "agent.li", LATER, "split_6",
        )  # fmt: skip
        new = session.execute(select(Instalment).where(Instalment.extension_id == request.id)).scalars().all()
        assert [(i.due_date, i.amount) for i in new] == [(p.due_date, p.amount) for p in expected.instalments]
    assert not loans.account_overview(sql(database_url), "C1004", DECISION_DAY).position.is_overdue
    after = notices.run_notices(sql(database_url), None, day5, dry_run=True, policy=GENEROUS)
    assert "C1004" not in [c for c, _, _ in after.recorded]
    assert referred_extensions(sql(database_url)) == ()


def test_an_override_is_recorded_with_what_the_customer_asked_for(database_url) -> None:
    reference = refer_c1004(database_url, option=None)
    with pytest.raises(NoOptionChosen):
        approve_extension(sql(database_url), reference, "agent.li", None, DECISION_DAY, LATER)
    decision = approve_extension(sql(database_url), reference, "agent.li", "defer_30", DECISION_DAY, LATER)
    assert decision.option == "defer_30" and decision.terms.instalments[0].due_date == dt.date(2026, 12, 30)
    with db.session_factory(database_url)() as session:
        request = session.execute(select(ExtensionRequest)).scalars().one()
        assert (request.option, request.requested_option) == ("defer_30", None)


def test_a_self_service_approval_cannot_be_decided_again_by_a_colleague(database_url) -> None:
    approved = extensions.submit_extension(
        sql(database_url), "C1001", "L1001", "illness", "", "defer_7", "c", TODAY, NOW
    )
    with pytest.raises(RequestNotReferred):
        approve_extension(sql(database_url), approved.reference, "agent.li", None, DECISION_DAY, LATER)
    with pytest.raises(RequestNotReferred):
        reject_extension(sql(database_url), approved.reference, "agent.li", "other", "", LATER)
    assert count(database_url, Instalment, Instalment.extension_id.is_not(None)) == 1


def test_a_rejection_is_stored_with_why_and_then_cannot_be_approved(database_url) -> None:
    reference = refer_c1004(database_url)
    decision = reject_extension(sql(database_url), reference, "agent.li", "too_long_overdue", "95 days", LATER)
    with pytest.raises(RequestAlreadyDecided):
        approve_extension(sql(database_url), reference, "agent.wang", None, DECISION_DAY, LATER)
    with db.session_factory(database_url)() as session:
        request = session.execute(select(ExtensionRequest)).scalars().one()
        assert (request.status, request.decision_reason, request.decision_note, request.decided_by, request.decided_at) == (
            "rejected", "too_long_overdue", "95 days", "agent.li", LATER,
        )  # fmt: skip
    assert count(database_url, Instalment, Instalment.status == "rescheduled") == 0
    assert "逾期时间太长" in customer_message_for(decision, "zh") and "overdue for too long" in customer_message_for(
        decision, "en"
    )
    (view,) = [r for r in cases.customer_requests(sql(database_url), "C1004") if r.reference == reference]
    assert (view.status, view.next_step) == ("rejected", "rejected")  # what the bot tells him when he asks


def test_case_statuses_and_notes_are_stored(database_url) -> None:
    case = cases.open_complaint(sql(database_url), "customer:C1004", "C1004", "harassment", "calls at night", NOW)
    case_status(sql(database_url), case.reference, "agent.li", "investigating", "listening to the calls", LATER)
    case_status(sql(database_url), case.reference, "supervisor.zhao", "closed", "agency warned", LATER)
    with pytest.raises(CaseStatusNotAllowed):
        case_status(sql(database_url), case.reference, "agent.li", "investigating", "", LATER)
    assert cases.get_case(sql(database_url), case.reference).status == "closed"
    with db.session_factory(database_url)() as session:
        notes = session.execute(select(CaseNote).order_by(CaseNote.id)).scalars().all()
        assert [(n.staff, n.from_status, n.to_status, n.note, n.created_at) for n in notes] == [
            ("agent.li", "open", "investigating", "listening to the calls", LATER),
            ("supervisor.zhao", "investigating", "closed", "agency warned", LATER),
        ]


def test_closing_a_wrong_number_case_and_what_the_notice_engine_then_does(database_url, tmp_path) -> None:
    at = dt.datetime.combine(TODAY, dt.time(10))
    # A stranger says the texts at C1006's current number are not for them.
    current = cases.open_wrong_number_case(sql(database_url), "13800001006", "visitor:abcdefgh", "", NOW)
    case_status(sql(database_url), current.reference, "agent.li", "confirmed", "not his phone", LATER)
    with pytest.raises(SuppressionStillNeeded):
        case_status(sql(database_url), current.reference, "agent.li", "closed", "", LATER, lift_suppression=True)
    closed = case_status(sql(database_url), current.reference, "agent.li", "closed", "", LATER)
    assert closed.number_held and cases.number_under_review(sql(database_url), "13800001006")
    report = notices.run_notices(sql(database_url), Outbox(), at, dry_run=True)
    assert report.recorded == [] and report.skipped["number_under_review"] == 1
    # The recycled old number is nobody's any more: its confirmed case can lift the hold, and the
    # notice engine still writes only to borrowers' current numbers.
    recycled = cases.open_wrong_number_case(sql(database_url), "13900009999", "visitor:zyxwvuts", "", NOW)
    case_status(sql(database_url), recycled.reference, "agent.li", "confirmed", "recycled", LATER)
    lifted = case_status(sql(database_url), recycled.reference, "agent.li", "closed", "", LATER, lift_suppression=True)
    assert lifted.suppression_lifted and not lifted.number_held
    assert not cases.number_under_review(sql(database_url), "13900009999")
    # C1006's record is corrected to a new number: the reminder goes there, never to the held one.
    with db.session_factory(database_url)() as session:
        session.execute(update(Customer).where(Customer.id == "C1006").values(phone="13800007777"))
        session.commit()
    outbox = Outbox()
    report = notices.run_notices(sql(database_url), outbox, at)
    # The run also sends the correction recorded when the recycled number's case was confirmed (to
    # the stranger, once); C1006's reminder goes to his new number only.
    assert report.recorded == [("C1006", "L1006", "reminder")] and outbox.sent == ["13900009999", "13800007777"]
    assert notices.run_notices(sql(database_url), outbox, at).recorded == [] and len(outbox.sent) == 2


@pytest.mark.parametrize("deciders", [2, 6])
def test_concurrent_approvals_of_one_request_approve_it_once(database_url, deciders) -> None:
    reference = refer_c1004(database_url)
    results, errors = [], []
    barrier = threading.Barrier(deciders)

    def approve(n: int) -> None:
        try:
            barrier.wait()
            results.append(approve_extension(sql(database_url), reference, f"agent.{n}", None, DECISION_DAY, LATER))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=approve, args=(n,)) for n in range(deciders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == deciders
    assert sum(not r.already_recorded for r in results) == 1
    assert len({(r.decided_by, r.terms) for r in results}) == 1
    assert count(database_url, Instalment, Instalment.extension_id.is_not(None)) == 6
    assert count(database_url, Instalment, Instalment.status == "rescheduled") == 1


def test_a_rejection_and_an_approval_at_once_leave_exactly_one_decision(database_url) -> None:
    reference = refer_c1004(database_url)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def decide(kind: str) -> None:
        barrier.wait()
        try:
            if kind == "approve":
                approve_extension(sql(database_url), reference, "agent.a", None, DECISION_DAY, LATER)
            else:
                reject_extension(sql(database_url), reference, "agent.b", "other", "", LATER)
            outcomes.append(kind)
        except RequestAlreadyDecided:
            outcomes.append("refused")

    threads = [threading.Thread(target=decide, args=(k,)) for k in ("approve", "reject")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) in (["approve", "refused"], ["refused", "reject"])
    rescheduled = count(database_url, Instalment, Instalment.status == "rescheduled")
    assert rescheduled == (1 if "approve" in outcomes else 0)
