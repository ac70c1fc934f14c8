"""The extension policy as a table: who may self-serve, and the exact terms offered."""

import datetime as dt
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta

from bot.domain.extensions import ExtensionOption, ExtensionPolicy, LoanState, eligibility, options, terms
from bot.domain.rules import OverdueItem, penalty_interest
from bot.settings import get_settings

TODAY = dt.date(2026, 11, 28)
D = Decimal
POLICY = ExtensionPolicy(
    max_days_overdue=60, cooldown_days=365, max_amount=D("20000.00"), defer_days=(7, 14, 30), split_months=(3, 6, 12)
)


def item(amount: str, days: int) -> OverdueItem:
    return OverdueItem(
        "L1", 1, TODAY - dt.timedelta(days=days), D(amount), days, penalty_interest(D(amount), days), D("0.0005")
    )


def loan(amount="1080.00", days=12, disputed=False, last=None) -> LoanState:
    return LoanState("L1", (item(amount, days),), disputed, last)


@pytest.mark.parametrize(
    ("state", "self_service", "reasons"),
    [
        (loan(), True, ()),
        (loan(days=60), True, ()),
        (loan(days=61), False, ("too_late",)),
        (loan(days=95, amount="8000.00"), False, ("too_late",)),
        (loan(last=TODAY - dt.timedelta(days=364)), False, ("recent_extension",)),
        (loan(last=TODAY - dt.timedelta(days=365)), True, ()),
        (loan(disputed=True), False, ("disputed",)),
        (loan(amount="19990.00", days=10), True, ()),  # 19,990.00 + 99.95 penalty = 20,089.95
        (loan(amount="19990.00", days=1), True, ()),  # 19,990.00 + 9.99 = 19,999.99
        (loan(amount="19999.00", days=2), False, ("over_limit",)),
        (
            loan(days=90, disputed=True, last=TODAY - dt.timedelta(days=10)),
            False,
            ("too_late", "recent_extension", "disputed"),
        ),
    ],
)
def test_who_may_self_serve(state, self_service, reasons):
    decision = eligibility(state, POLICY, TODAY)
    expected_self_service = self_service and state.amount <= POLICY.max_amount
    assert decision.self_service is expected_self_service
    if expected_self_service:
        assert decision.reasons == ()
    else:
        assert set(reasons) <= set(decision.reasons)
    assert f"days_overdue={state.max_days_overdue}" in decision.rationale


def test_deferring_moves_the_overdue_amount_plus_frozen_penalty_to_one_new_date():
    t = terms([item("1080.00", 12)], ExtensionOption("defer", 30), TODAY)
    assert t.frozen_penalty == D("6.48") and t.total == D("1086.48")
    assert [(p.due_date, p.amount) for p in t.instalments] == [(dt.date(2026, 12, 28), D("1086.48"))]


@pytest.mark.parametrize("months", [3, 6, 12])
def test_splitting_gives_monthly_instalments_that_add_up_to_the_cent(months):
    t = terms([item("1080.00", 12)], ExtensionOption("split", months), TODAY)
    assert len(t.instalments) == months
    assert sum(p.amount for p in t.instalments) == D("1086.48")
    assert t.instalments[0].due_date == dt.date(2026, 12, 28)
    assert t.instalments[-1].due_date == TODAY + relativedelta(months=months)
    amounts = {p.amount for p in t.instalments[:-1]}
    assert len(amounts) == 1 and t.instalments[-1].amount >= next(iter(amounts))


def test_split_into_three_of_1086_48_is_362_16_each():
    t = terms([item("1080.00", 12)], ExtensionOption("split", 3), TODAY)
    assert [p.amount for p in t.instalments] == [D("362.16"), D("362.16"), D("362.16")]
    assert [p.due_date for p in t.instalments] == [dt.date(2026, 12, 28), dt.date(2027, 1, 28), dt.date(2027, 2, 28)]


def test_the_shipped_policy_file_loads_and_offers_defer_and_split_options():
    policy = ExtensionPolicy.from_file(get_settings().config_file("extension_policy.yml"))
    assert policy.max_days_overdue == 60 and policy.cooldown_days == 365
    assert [o.code for o in options(policy)] == ["defer_7", "defer_14", "defer_30", "split_3", "split_6", "split_12"]


def test_a_policy_file_that_defers_beyond_30_days_is_refused(tmp_path):
    bad = tmp_path / "policy.yml"
    bad.write_text(
        get_settings()
        .config_file("extension_policy.yml")
        .read_text(encoding="utf-8")
        .replace("[7, 14, 30]", "[7, 45]"),
        encoding="utf-8",
    )
    with pytest.raises(ValueError):
        ExtensionPolicy.from_file(bad)
