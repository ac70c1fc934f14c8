"""Every service over the in-memory unit of work (tests/fakes.py): the business behaviour, no database.

The same services also run against SQLite and PostgreSQL in the neighbouring test modules.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import requests

from bot.clock import FixedClock
from bot.domain.errors import (
    CustomerNotFound,
    InvalidPhoneNumber,
    LoanNotFound,
    NoLoanToDispute,
    NothingOverdue,
    OptionNotOffered,
)
from bot.domain.model import Repayment, SmsNotice
from bot.notice_senders import OutgoingSms, SendFailed
from bot.services import care, cases, chat_log, extensions, fraud, handoff, loans, notices, preferences
from tests.fakes import FakeUnitOfWork

TODAY = dt.date(2026, 11, 28)
NOW = dt.datetime(2026, 11, 28, 14, 0)


@pytest.fixture
def uow() -> FakeUnitOfWork:
    """Two customers: C1 owes instalment 2 of L1 (12 days late), C2 owes nothing."""
    fake = FakeUnitOfWork()
    fake.loans.add_customer("C1", "13800001111")
    fake.loans.add_customer("C2", "13800002222", name="Li Lei", language="en")
    fake.loans.add_loan("C1", "L1")
    fake.loans.schedule("L1", 1, dt.date(2026, 10, 16), "1000.00", paid_at=dt.datetime(2026, 10, 16, 9))
    fake.loans.schedule("L1", 2, dt.date(2026, 11, 16), "1000.00")
    fake.loans.schedule("L1", 3, dt.date(2026, 12, 16), "1000.00")
    fake.loans.add_loan("C2", "L2")
    fake.loans.schedule("L2", 1, dt.date(2026, 12, 20), "500.00")
    return fake


# --- loans ---------------------------------------------------------------------------------


def test_the_overview_shows_what_is_overdue_with_penalty_interest_and_the_next_due(uow) -> None:
    overview = loans.account_overview(uow.factory(), "C1", TODAY)
    assert [(i.loan_id, i.seq, i.days_overdue) for i in overview.position.items] == [("L1", 2, 12)]
    assert overview.position.penalty_total == Decimal("6.00")  # 1000 x 0.05 % x 12 days
    assert overview.position.next_due is not None and overview.position.next_due.seq == 3
    assert overview.customer.phone_masked != "13800001111"
    assert uow.commits == 0  # reading changes nothing


def test_an_unknown_customer_is_a_user_error_not_an_outage(uow) -> None:
    with pytest.raises(CustomerNotFound):
        loans.account_overview(uow.factory(), "C404", TODAY)


def test_a_payment_made_after_a_notice_explains_the_text(uow) -> None:
    instalment = uow.loans.instalments[1]
    uow.notices.add(
        SmsNotice(
            customer_id="C1", loan_id="L1", instalment_id=instalment.id, phone="13800001111",
            template="overdue_first", reason="first_notice", sent_at=dt.datetime(2026, 11, 27, 10), status="sent",
        )
    )  # fmt: skip
    instalment.paid_at = dt.datetime(2026, 11, 27, 18)
    uow.loans.repayments.append(
        Repayment(loan_id="L1", amount=Decimal("1000.00"), channel="app", paid_at=instalment.paid_at, posted_at=NOW)
    )
    overview = loans.account_overview(uow.factory(), "C1", TODAY)
    assert overview.texts_situation() == "paid_after_notice"
    assert overview.repayment_situation() == "after_notice"


# --- extensions ----------------------------------------------------------------------------


def test_an_offer_lists_only_loans_with_something_overdue(uow) -> None:
    (offer,) = extensions.extension_offer(uow.factory(), "C1", TODAY)
    assert offer.loan_id == "L1" and offer.self_service and offer.total == Decimal("1006.00")
    with pytest.raises(NothingOverdue):
        extensions.extension_offer(uow.factory(), "C2", TODAY)


def test_a_preview_names_the_exact_schedule_and_changes_nothing(uow) -> None:
    terms = extensions.preview_terms(uow.factory(), "C1", "L1", "split_3", TODAY)
    assert len(terms.instalments) == 3 and sum(p.amount for p in terms.instalments) == terms.total
    assert uow.commits == 0
    with pytest.raises(OptionNotOffered):
        extensions.preview_terms(uow.factory(), "C1", "L1", "split_7", TODAY)
    with pytest.raises(LoanNotFound):
        extensions.preview_terms(uow.factory(), "C1", "L2", "split_3", TODAY)  # someone else's loan


def test_a_confirmed_plan_is_recorded_once_and_reschedules_the_overdue_instalment(uow) -> None:
    first = extensions.submit_extension(
        uow.factory(), "C1", "L1", "job_loss", "lost my job", "defer_14", "k1", TODAY, NOW
    )
    again = extensions.submit_extension(
        uow.factory(), "C1", "L1", "job_loss", "lost my job", "defer_14", "k1", TODAY, NOW
    )
    assert first.status == "approved" and first.reference == "EXT-2026-000001" and not first.already_recorded
    assert again.reference == first.reference and again.already_recorded
    assert [r.reference for r in uow.extensions.requests] == ["EXT-2026-000001"]
    assert uow.loans.instalments[1].status == "rescheduled"
    new = [i for i in uow.loans.instalments if i.extension_id is not None]
    assert [(i.seq, i.due_date) for i in new] == [(4, TODAY + dt.timedelta(days=14))]
    assert loans.account_overview(uow.factory(), "C1", TODAY).plans[0].reference == first.reference


def test_a_request_outside_the_policy_is_referred_and_the_schedule_is_unchanged(uow) -> None:
    uow.loans.schedule("L1", 9, dt.date(2026, 8, 1), "25000.00")  # far over the self-service limits
    decision = extensions.submit_extension(uow.factory(), "C1", "L1", "illness", "", "split_6", "k2", TODAY, NOW)
    assert decision.status == "referred" and decision.reasons
    assert all(i.status == "scheduled" for i in uow.loans.instalments)


def test_a_cancellation_is_recorded_without_changing_the_loan(uow) -> None:
    reference = extensions.record_cancellation(uow.factory(), "C1", "L1", "other", "", None, NOW)
    assert reference.startswith("EXT-2026-") and uow.extensions.requests[0].status == "cancelled"
    assert all(i.status == "scheduled" for i in uow.loans.instalments)


# --- cases ---------------------------------------------------------------------------------


def test_a_wrong_number_report_is_one_case_per_conversation_and_number(uow) -> None:
    first = cases.open_wrong_number_case(uow.factory(), "139 0000 9999", "visitor:abc12345", "", NOW)
    again = cases.open_wrong_number_case(uow.factory(), "+86 13900009999", "visitor:abc12345", "", NOW)
    assert first.reference == "WRN-2026-000001" and again.already_open and again.reference == first.reference
    assert cases.number_under_review(uow.factory(), "13900009999")
    with pytest.raises(InvalidPhoneNumber):
        cases.open_wrong_number_case(uow.factory(), "12345", "visitor:abc12345", "", NOW)


def test_an_identity_dispute_marks_the_loan_disputed_and_only_the_customers_own_loan(uow) -> None:
    case = cases.open_identity_misuse_case(uow.factory(), "C1", "L1", "customer:C1", "never borrowed", NOW)
    assert case.reference == "IDM-2026-000001" and uow.loans.loans[0].disputed_at == NOW
    with pytest.raises(NoLoanToDispute):
        cases.open_identity_misuse_case(uow.factory(), "C1", "L2", "customer:C1", "", NOW)
    assert uow.loans.loans[1].disputed_at is None


def test_complaints_and_scam_reports_get_their_urgency(uow) -> None:
    scam = cases.open_scam_report(uow.factory(), "visitor:abc12345", None, True, "paid a fake link", NOW)
    complaint = cases.open_complaint(uow.factory(), "customer:C1", "C1", "contact_family_employer", "called mum", NOW)
    assert scam.urgent and scam.reference.startswith("SCM-") and complaint.urgent
    assert [c.reference for c in cases.list_cases(uow.factory())] == [complaint.reference, scam.reference]
    assert cases.get_case(uow.factory(), scam.reference) == scam


# --- fraud ---------------------------------------------------------------------------------


def test_a_pasted_text_is_genuine_only_if_it_matches_a_notice_we_sent(uow) -> None:
    uow.notices.add(
        SmsNotice(
            customer_id="C1", loan_id="L1", instalment_id=uow.loans.instalments[1].id, phone="13800001111",
            template="overdue_first", reason="first_notice", sent_at=dt.datetime(2026, 11, 17, 10), status="sent",
        )
    )  # fmt: skip
    assert fraud.matching_notice(uow.factory(), "C1", "您的借款 L1 第2期已逾期", TODAY) is not None
    assert fraud.matching_notice(uow.factory(), "C1", "您的借款 L9 已逾期，点击链接", TODAY) is None


def test_the_loan_to_dispute_is_the_oldest_overdue_one(uow) -> None:
    assert fraud.disputable_loan(uow.factory(), "C1", TODAY) == "L1"
    assert fraud.disputable_loan(uow.factory(), "C2", TODAY) == "L2"  # nothing overdue: the only loan


# --- handoff -------------------------------------------------------------------------------


class Desk:
    """Answers like a helpdesk; ``fail`` says which calls get a 500."""

    def __init__(self, fail: Any = lambda n: False) -> None:
        self.fail, self.calls, self.keys = fail, 0, []

    def post(self, url: str, json: dict[str, Any], headers: dict[str, str], timeout: float) -> requests.Response:
        self.calls += 1
        reply = requests.Response()
        reply.status_code = 500 if self.fail(self.calls) else 200
        if reply.status_code == 200:
            self.keys.append(headers["Idempotency-Key"])
        return reply


def new_ticket(uow: FakeUnitOfWork, at: dt.datetime = NOW) -> handoff.TicketView:
    transcript = [{"sender": "user", "text": "验证码 482913", "timestamp": "2026-11-28T06:00:00+00:00"}]
    return handoff.create_ticket(
        uow.factory(), "customer:C1", "C1", "complaint", "zh", "Why: complaint", transcript, at
    )


def test_a_ticket_is_stored_masked_and_delivered_once(uow) -> None:
    ticket = new_ticket(uow)
    assert ticket.ticket_id == "HO-2026-000001" and ticket.priority == "high" and "482913" not in str(ticket.transcript)
    desk = Desk()
    assert handoff.deliver_due(uow.factory(), "http://desk", FixedClock(NOW), http=desk).delivered == 1
    assert handoff.deliver_due(uow.factory(), "http://desk", FixedClock(NOW), http=desk).delivered == 0
    assert desk.keys == [ticket.ticket_id]
    assert handoff.get_ticket(uow.factory(), ticket.ticket_id).status == "delivered"


def test_a_failed_delivery_backs_off_and_retry_makes_it_due_now(uow) -> None:
    ticket = new_ticket(uow)
    desk = Desk(fail=lambda n: n == 1)
    clock = FixedClock(NOW)
    assert handoff.deliver_due(uow.factory(), "http://desk", clock, http=desk).failed == 1
    assert handoff.deliver_due(uow.factory(), "http://desk", clock, http=desk).failed == 0  # backing off
    assert handoff.retry_now(uow.factory(), ticket.ticket_id, clock.now()) == 1
    assert handoff.deliver_due(uow.factory(), "http://desk", clock, http=desk).delivered == 1


def test_a_claimed_ticket_is_not_sent_by_another_worker_until_its_lease_expires(uow) -> None:
    ticket = new_ticket(uow)
    clock = FixedClock(NOW)
    claimed = uow.tickets.claim_due(clock.now(), NOW + dt.timedelta(seconds=30), "dead-worker", 10)
    assert [t.ticket_id for t in claimed] == [ticket.ticket_id]
    desk = Desk()
    assert handoff.deliver_due(uow.factory(), "http://desk", clock, http=desk).delivered == 0
    clock.advance(seconds=30)
    assert handoff.deliver_due(uow.factory(), "http://desk", clock, http=desk).delivered == 1
    assert not uow.tickets.record_delivered(claimed[0].id, "dead-worker", clock.now())  # a late result is dropped


def test_agent_messages_are_fetched_once(uow) -> None:
    handoff.post_agent_message(uow.factory(), "customer:C1", "您好，我是客服小王", "agent", NOW)
    assert handoff.fetch_agent_messages(uow.factory(), "customer:C1", NOW) == [
        {"sender": "agent", "text": "您好，我是客服小王", "seq": 1}  # its line in the chat page
    ]
    assert handoff.fetch_agent_messages(uow.factory(), "customer:C1", NOW) == []


# --- notices -------------------------------------------------------------------------------


class Outbox:
    def __init__(self, fail: bool = False) -> None:
        self.fail, self.sent = fail, []

    def send(self, sms: OutgoingSms) -> None:
        if self.fail:
            raise SendFailed("gateway down")
        self.sent.append(sms)


def test_the_first_notice_goes_to_the_borrowers_own_number_once_a_day(uow) -> None:
    preferences.set_contact_preferences(uow.factory(), "C1", NOW, prefer="sms")  # else a first-timer's is in-app
    outbox = Outbox()
    report = notices.run_notices(uow.factory(), outbox, NOW)
    assert report.recorded == [("C1", "L1", "first_notice")] and report.sent == 1
    assert [s.to for s in outbox.sent] == ["13800001111"]
    again = notices.run_notices(uow.factory(), outbox, NOW + dt.timedelta(hours=2))
    assert again.recorded == [] and again.skipped["already_recorded_today"] == 1 and len(outbox.sent) == 1


def test_a_first_time_late_borrowers_first_notice_goes_into_their_own_chat_once(uow) -> None:
    outbox = Outbox()
    report = notices.run_notices(uow.factory(), outbox, NOW)
    assert report.recorded == [("C1", "L1", "first_notice")] and report.by_channel == {"in_app": 1}
    assert outbox.sent == [] and report.delivered == {"in_app": 1}
    (line,) = chat_log.history(uow.factory(), "customer:C1").lines
    assert line.kind == "notice" and "L1" in line.text
    notices.run_notices(uow.factory(), outbox, NOW + dt.timedelta(hours=2))
    assert len(chat_log.history(uow.factory(), "customer:C1").lines) == 1  # not twice


def test_nothing_is_recorded_in_quiet_hours_or_for_a_disputed_loan_or_a_number_under_review(uow) -> None:
    assert notices.run_notices(uow.factory(), Outbox(), dt.datetime(2026, 11, 28, 22, 0)).skipped["quiet_hours"] == 1
    uow.loans.loans[0].disputed_at = NOW
    assert notices.run_notices(uow.factory(), Outbox(), NOW).skipped["disputed"] == 1
    uow.loans.loans[0].disputed_at = None
    cases.open_wrong_number_case(uow.factory(), "13800001111", "visitor:abc12345", "", NOW)
    assert notices.run_notices(uow.factory(), Outbox(), NOW).skipped["number_under_review"] == 1
    assert uow.notices.notices == []


def test_a_notice_the_gateway_refused_is_sent_by_the_next_pass_and_stamped_by_the_clock(uow) -> None:
    preferences.set_contact_preferences(uow.factory(), "C1", NOW, prefer="sms")
    first = notices.run_notices(uow.factory(), Outbox(fail=True), NOW)
    assert first.failed == 1 and uow.notices.notices[0].status == "failed"
    later = FixedClock(NOW + dt.timedelta(minutes=20))
    outbox = Outbox()
    assert notices.deliver_pending(uow.factory(), outbox, later).sent == 1
    assert uow.notices.notices[0].status == "sent" and uow.notices.notices[0].delivered_at == later.now()
    assert notices.deliver_pending(uow.factory(), outbox, later).sent == 0


def test_a_dry_run_decides_and_writes_nothing(uow) -> None:
    report = notices.run_notices(uow.factory(), Outbox(), NOW, dry_run=True)
    assert report.recorded == [("C1", "L1", "first_notice")] and uow.notices.notices == [] and uow.commits == 0


def test_a_ticket_withdrawn_before_the_helpdesk_had_it_is_never_sent(uow) -> None:
    ticket = new_ticket(uow)
    assert handoff.withdraw_ticket(uow.factory(), "customer:C1", NOW).status == "withdrawn"
    desk = Desk()
    assert handoff.deliver_due(uow.factory(), "http://desk", FixedClock(NOW), http=desk).delivered == 0
    assert desk.keys == [] and handoff.waiting_ticket(uow.factory(), "customer:C1") is None
    assert handoff.withdraw_ticket(uow.factory(), "customer:C1", NOW) is None  # nothing left to withdraw
    assert handoff.get_ticket(uow.factory(), ticket.ticket_id).status == "withdrawn"


def test_a_ticket_withdrawn_after_delivery_tells_the_helpdesk_with_its_own_key(uow) -> None:
    ticket = new_ticket(uow)
    desk = Desk()
    handoff.deliver_due(uow.factory(), "http://desk", FixedClock(NOW), http=desk)
    assert handoff.waiting_ticket(uow.factory(), "customer:C1").ticket_id == ticket.ticket_id
    handoff.withdraw_ticket(uow.factory(), "customer:C1", NOW + dt.timedelta(minutes=3))
    assert (
        handoff.deliver_due(
            uow.factory(), "http://desk", FixedClock(NOW + dt.timedelta(minutes=3)), http=desk
        ).delivered
        == 1
    )
    assert desk.keys == [ticket.ticket_id, f"{ticket.ticket_id}/withdrawn"]
    assert handoff.get_ticket(uow.factory(), ticket.ticket_id).status == "withdrawn"


def test_a_ticket_withdrawn_while_it_is_being_sent_is_withdrawn_at_the_helpdesk_next(uow) -> None:
    ticket = new_ticket(uow)
    (claimed,) = uow.tickets.claim_due(NOW, NOW + dt.timedelta(seconds=60), "worker", 10)  # in flight
    handoff.withdraw_ticket(uow.factory(), "customer:C1", NOW)
    assert uow.tickets.record_delivered(claimed.id, "worker", NOW)  # the helpdesk got the ticket itself
    assert handoff.get_ticket(uow.factory(), ticket.ticket_id).status == "pending"
    desk = Desk()
    assert handoff.deliver_due(uow.factory(), "http://desk", FixedClock(NOW), http=desk).delivered == 1
    assert desk.keys == [f"{ticket.ticket_id}/withdrawn"]


def test_a_disputed_loan_is_not_chased_and_not_counted_as_owed(uow) -> None:
    cases.open_identity_misuse_case(uow.factory(), "C1", "L1", "customer:C1", "never borrowed", NOW)
    overview = loans.account_overview(uow.factory(), "C1", TODAY)
    assert overview.disputed_loans == ("L1",)
    assert overview.position.items == () and overview.position.next_due is None
    assert overview.texts_situation() != "overdue"


# --- care (vulnerability flag) -------------------------------------------------------------


def test_a_vulnerability_flag_is_recorded_once_with_the_consent_and_cleared_when_it_is_withdrawn(uow) -> None:
    assert care.active_vulnerability(uow.factory(), "C1") is None
    flag = care.record_vulnerability(uow.factory(), "C1", "customer:C1", "job_loss", NOW)
    assert (flag.reason, flag.consent_at, flag.cleared_at, flag.already) == ("job_loss", NOW, None, False)
    later = NOW + dt.timedelta(hours=1)
    again = care.record_vulnerability(uow.factory(), "C1", "customer:C1", "distress", later)
    assert again.already and again.reason == "job_loss" and again.consent_at == NOW
    assert len(uow.vulnerability_flags.flags) == 1
    assert care.active_vulnerability(uow.factory(), "C1") == flag
    assert care.clear_vulnerability(uow.factory(), "C1", later) is True
    assert care.active_vulnerability(uow.factory(), "C1") is None
    assert care.clear_vulnerability(uow.factory(), "C1", later) is False  # nothing left to withdraw
    assert uow.vulnerability_flags.flags[0].cleared_at == later  # the history stays
    fresh = care.record_vulnerability(uow.factory(), "C1", "customer:C1", "illness", later)
    assert not fresh.already and fresh.reason == "illness"


def test_a_reason_the_code_does_not_know_is_a_programming_error_and_records_nothing(uow) -> None:
    with pytest.raises(ValueError, match="stressed"):
        care.record_vulnerability(uow.factory(), "C1", "customer:C1", "stressed", NOW)
    assert uow.vulnerability_flags.flags == [] and uow.commits == 0


def test_no_flag_is_recorded_for_a_customer_the_bank_does_not_know(uow) -> None:
    with pytest.raises(CustomerNotFound):
        care.record_vulnerability(uow.factory(), "C404", "customer:C404", "distress", NOW)
    assert uow.vulnerability_flags.flags == []


def test_a_flagged_customer_gets_one_notice_a_week_in_the_care_text_for_all_loans_together(uow) -> None:
    uow.loans.add_loan("C1", "L3")
    uow.loans.schedule("L3", 1, dt.date(2026, 11, 20), "400.00")  # a second overdue loan
    unflagged = notices.run_notices(uow.factory(), Outbox(), NOW, dry_run=True)
    assert [r for _, _, r in unflagged.recorded] == ["first_notice", "first_notice"]
    care.record_vulnerability(uow.factory(), "C1", "customer:C1", "distress", NOW)
    outbox = Outbox()
    report = notices.run_notices(uow.factory(), outbox, NOW)
    assert report.recorded == [("C1", "L1", "care_first_notice")] and report.skipped["care_cap_per_week"] == 1
    (notice,) = uow.notices.notices
    assert notice.template == "overdue_care" and notice.reason.startswith("care_first_notice: ")
    assert "延期或分期" in outbox.sent[0].text and "张*" in outbox.sent[0].text
    for days in range(1, 7):  # the rest of the week: nothing, although L3 was never written about
        later = notices.run_notices(uow.factory(), outbox, NOW + dt.timedelta(days=days))
        assert later.recorded == [] and later.skipped["care_cap_per_week"] == 1
    week_on = notices.run_notices(uow.factory(), outbox, NOW + dt.timedelta(days=7))
    assert week_on.recorded == [("C1", "L1", "care_reminder")]  # the oldest arrears come first
    assert len(outbox.sent) == 2


def test_after_consent_is_withdrawn_notices_follow_the_ordinary_rules_again(uow) -> None:
    care.record_vulnerability(uow.factory(), "C1", "customer:C1", "illness", NOW)
    care.clear_vulnerability(uow.factory(), "C1", NOW)
    report = notices.run_notices(uow.factory(), Outbox(), NOW)
    assert report.recorded == [("C1", "L1", "first_notice")] and uow.notices.notices[0].template == "overdue_first"


@pytest.mark.parametrize(
    ("reason", "priority"), [("request_human", "high"), ("complaint", "high"), ("urgent_scam", "urgent")]
)
def test_a_flagged_customers_ticket_comes_sooner_and_opens_with_the_care_line(uow, reason, priority) -> None:
    care.record_vulnerability(uow.factory(), "C1", "customer:C1", "self_harm", dt.datetime(2026, 11, 20, 9))
    summary = handoff.summarize(reason, "C1", ["talk to a person"], [], None)
    ticket = handoff.create_ticket(uow.factory(), "customer:C1", "C1", reason, "zh", summary, [], NOW)
    first, rest = ticket.summary.split("\n", 1)
    assert ticket.priority == priority
    assert first.startswith("Care: the customer asked us to note a difficult situation")
    assert "self_harm" in first and "2026-11-20" in first and rest == summary


def test_an_unflagged_or_anonymous_ticket_keeps_its_priority_and_summary(uow) -> None:
    care.record_vulnerability(uow.factory(), "C2", "customer:C2", "hardship", NOW)
    mine = handoff.create_ticket(uow.factory(), "customer:C1", "C1", "request_human", "zh", "Why: x", [], NOW)
    anonymous = handoff.create_ticket(uow.factory(), "visitor:abc12345", None, "request_human", "en", "Why", [], NOW)
    assert (mine.priority, mine.summary) == ("normal", "Why: x")
    assert (anonymous.priority, anonymous.summary) == ("normal", "Why")


# --- what the customer asked of us ---------------------------------------------------------


def test_a_customer_hears_about_their_own_cases_and_extension_requests_newest_first(uow) -> None:
    at = lambda hours: NOW + dt.timedelta(hours=hours)  # noqa: E731
    plan = extensions.submit_extension(uow.factory(), "C1", "L1", "job_loss", "", "defer_14", "k1", TODAY, at(0))
    dispute = cases.open_identity_misuse_case(uow.factory(), "C1", "L1", "customer:C1", "not mine", at(1))
    complaint = cases.open_complaint(uow.factory(), "customer:C1", "C1", "rude_collector", "rude", at(2))
    scam = cases.open_scam_report(uow.factory(), "customer:C1", "C1", False, "a fake call", at(3))
    cancelled = extensions.record_cancellation(uow.factory(), "C1", "L1", "other", "", None, at(4))
    cases.open_complaint(uow.factory(), "customer:C2", "C2", "other", "someone else's", at(5))
    uow.cases.by_reference(dispute.reference).status = "confirmed"
    uow.cases.by_reference(complaint.reference).status = "closed"
    commits = uow.commits
    requests = cases.customer_requests(uow.factory(), "C1")
    assert [(r.kind, r.type, r.reference, r.status, r.next_step) for r in requests] == [
        ("extension", "extension", cancelled, "cancelled", "cancelled"),
        ("case", "scam_report", scam.reference, "open", "under_review"),
        ("case", "complaint", complaint.reference, "closed", "closed"),
        ("case", "identity_misuse", dispute.reference, "confirmed", "confirmed"),
        ("extension", "extension", plan.reference, "approved", "approved"),
    ]
    assert [r.created_at for r in requests] == [at(4), at(3), at(2), at(1), at(0)]
    assert (requests[3].loan_id, requests[1].loan_id) == ("L1", None)
    assert uow.commits == commits  # reading changes nothing


def test_a_referred_request_says_a_colleague_decides_and_only_the_ten_newest_are_told(uow) -> None:
    uow.loans.schedule("L1", 9, dt.date(2026, 8, 1), "25000.00")  # far over the self-service limits
    referred = extensions.submit_extension(uow.factory(), "C1", "L1", "illness", "", "split_6", "k2", TODAY, NOW)
    for n in range(12):
        cases.open_scam_report(
            uow.factory(), "customer:C1", "C1", False, f"call {n}", NOW + dt.timedelta(minutes=n + 1)
        )
    requests = cases.customer_requests(uow.factory(), "C1")
    assert len(requests) == 10 and referred.reference not in [r.reference for r in requests]
    assert [r.reference for r in requests] == [c.reference for c in uow.cases.cases[::-1][:10]]
    assert cases.customer_requests(uow.factory(), "C2") == ()  # nobody else's requests
    uow.cases.cases.clear()
    (view,) = cases.customer_requests(uow.factory(), "C1")
    assert (view.reference, view.status, view.next_step) == (referred.reference, "referred", "referred")
