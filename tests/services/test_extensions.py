"""Extension requests over real databases: approval changes the schedule, referral does not, once only."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot import db
from bot.domain.model import ExtensionRequest, Instalment
from bot.services.extensions import (
    NothingOverdue,
    OptionNotOffered,
    extension_offer,
    preview_terms,
    record_cancellation,
    submit_extension,
)
from bot.services.loans import account_overview
from bot.unit_of_work import SqlAlchemyUnitOfWork

D = Decimal
NOW = dt.datetime(2026, 11, 28, 14, 5)


def uow(url):
    return lambda: SqlAlchemyUnitOfWork(url)


def count(url, model, *where):
    with db.session_factory(url)() as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_c1001_is_offered_self_service_and_c1004_is_not(database_url, today):
    (offer,) = extension_offer(uow(database_url), "C1001", today)
    assert (offer.loan_id, offer.total, offer.self_service) == ("L1001", D("1086.48"), True)
    (offer,) = extension_offer(uow(database_url), "C1004", today)
    assert (offer.loan_id, offer.self_service, offer.reasons) == ("L1004A", False, ("too_late",))


def test_a_customer_with_nothing_overdue_gets_no_offer(database_url, today):
    with pytest.raises(NothingOverdue):
        extension_offer(uow(database_url), "C1005", today)


def test_previewing_terms_changes_nothing(database_url, today):
    t = preview_terms(uow(database_url), "C1001", "L1001", "split_3", today)
    assert [p.amount for p in t.instalments] == [D("362.16")] * 3
    assert count(database_url, ExtensionRequest) == 0
    assert account_overview(uow(database_url), "C1001", today).position.is_overdue


def test_an_option_the_policy_does_not_offer_is_refused(database_url, today):
    with pytest.raises(OptionNotOffered):
        preview_terms(uow(database_url), "C1001", "L1001", "defer_90", today)


def test_approval_reschedules_the_overdue_instalment_and_the_overdue_answers_reflect_the_plan(database_url, today):
    decision = submit_extension(
        uow(database_url), "C1001", "L1001", "job_loss", "失业了", "split_3", "conversation-1", today, NOW
    )
    assert decision.status == "approved" and decision.reference == "EXT-2026-000001"
    assert [p.amount for p in decision.terms.instalments] == [D("362.16")] * 3
    overview = account_overview(uow(database_url), "C1001", today)
    assert not overview.position.is_overdue
    # The regular instalment of 2026-12-16 still comes first; the plan's first is due 2026-12-28.
    assert overview.position.next_due is not None and overview.position.next_due.due_date == dt.date(2026, 12, 16)
    assert count(database_url, Instalment, Instalment.status == "rescheduled") == 1
    assert count(database_url, Instalment, Instalment.extension_id.is_not(None)) == 3
    with db.session_factory(database_url)() as session:
        request = session.execute(select(ExtensionRequest)).scalars().one()
        assert request.rationale.startswith("self-service: days_overdue=12") and request.reason_text == "失业了"


def test_a_repeated_confirmation_returns_the_same_request_and_changes_nothing_more(database_url, today):
    first = submit_extension(
        uow(database_url), "C1001", "L1001", "illness", "", "defer_30", "conversation-1", today, NOW
    )
    again = submit_extension(
        uow(database_url), "C1001", "L1001", "illness", "", "defer_30", "conversation-1", today, NOW
    )
    assert again.reference == first.reference and again.already_recorded
    assert count(database_url, ExtensionRequest) == 1
    assert count(database_url, Instalment, Instalment.extension_id.is_not(None)) == 1


def test_referral_records_the_request_and_leaves_the_schedule_alone(database_url, today):
    decision = submit_extension(
        uow(database_url), "C1004", "L1004A", "business", "生意失败", None, "conversation-1", today, NOW
    )
    assert decision.status == "referred" and decision.reasons == ("too_late",)
    assert account_overview(uow(database_url), "C1004", today).position.total_due == D("8380.00")
    assert count(database_url, Instalment, Instalment.status == "rescheduled") == 0
    again = submit_extension(
        uow(database_url), "C1004", "L1004A", "business", "生意失败", None, "conversation-1", today, NOW
    )
    assert again.already_recorded and again.reference == decision.reference


def test_a_second_extension_within_a_year_goes_to_a_person(database_url, today):
    submit_extension(uow(database_url), "C1001", "L1001", "job_loss", "", "defer_7", "conversation-1", today, NOW)
    later = today + dt.timedelta(days=40)  # the deferred instalment is overdue again
    decision = submit_extension(
        uow(database_url),
        "C1001",
        "L1001",
        "job_loss",
        "",
        "split_3",
        "conversation-2",
        later,
        NOW + dt.timedelta(days=40),
    )
    assert decision.status == "referred" and "recent_extension" in decision.reasons


def test_another_request_after_approval_finds_nothing_overdue(database_url, today):
    submit_extension(uow(database_url), "C1001", "L1001", "illness", "", "defer_30", "conversation-1", today, NOW)
    with pytest.raises(NothingOverdue):
        submit_extension(uow(database_url), "C1001", "L1001", "illness", "", "defer_30", "conversation-2", today, NOW)


def test_a_cancellation_is_recorded_without_changing_the_schedule(database_url, today):
    reference = record_cancellation(uow(database_url), "C1001", "L1001", "other", "算了", "split_6", NOW)
    assert reference.startswith("EXT-2026-")
    assert account_overview(uow(database_url), "C1001", today).position.is_overdue


@pytest.mark.postgres
def test_concurrent_confirmations_on_postgresql_create_one_request_and_one_schedule_change(postgres_url, today):
    results, errors = [], []
    barrier = threading.Barrier(8)

    def confirm():
        try:
            barrier.wait()
            results.append(
                submit_extension(
                    uow(postgres_url), "C1001", "L1001", "job_loss", "", "split_6", "conversation-1", today, NOW
                )
            )
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=confirm) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 8
    assert len({r.reference for r in results}) == 1
    assert count(postgres_url, ExtensionRequest) == 1
    assert count(postgres_url, Instalment, Instalment.extension_id.is_not(None)) == 6
    assert count(postgres_url, Instalment, Instalment.status == "rescheduled") == 1
