"""The rules behind what customers in arrears ask: the day a question is about, what a partial
payment does, what repaying the whole loan costs, why a payment had extra fen, and whether a
described text fits a notice we sent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest

from bot.domain.dates import asks_due_date, mentioned_date, wants_whole_loan
from bot.domain.notice_match import described_notice, fits
from bot.domain.repayment import RepaymentPolicy, ScheduledInstalment, apply_partial, explain_extra, loan_payoff
from bot.domain.rules import InstalmentState, overdue_position

ROOT = Path(__file__).resolve().parents[2]
SATURDAY = dt.date(2026, 11, 28)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("那我明天还要多少", dt.date(2026, 11, 29)),
        ("後天還的話呢", dt.date(2026, 11, 30)),
        ("如果我12号之前全部还清 要多少钱", dt.date(2026, 12, 12)),
        ("28号还", dt.date(2026, 11, 28)),
        ("20号还可以吗", dt.date(2026, 12, 20)),  # the 20th has passed this month: next month's
        ("12月16号那期", dt.date(2026, 12, 16)),
        ("3月1日", dt.date(2027, 3, 1)),
        ("下周一还的话是多少", dt.date(2026, 11, 30)),
        ("这周日", dt.date(2026, 11, 29)),
        ("3天后", dt.date(2026, 12, 1)),
        ("how much if i pay on friday", dt.date(2026, 12, 4)),
        ("how much tmr", dt.date(2026, 11, 29)),
        ("on the 15th", dt.date(2026, 12, 15)),
        ("Dec 20", dt.date(2026, 12, 20)),
        ("by 5 january", dt.date(2027, 1, 5)),
        ("2026-12-05", dt.date(2026, 12, 5)),
        ("12/5", dt.date(2026, 12, 5)),
        ("in 10 days", dt.date(2026, 12, 8)),
        ("月底", dt.date(2026, 11, 30)),
    ],
)
def test_the_day_a_question_is_about(text: str, expected: dt.date) -> None:
    assert mentioned_date(text, SATURDAY) == expected


@pytest.mark.parametrize(
    "text", ["我欠多少", "how much do I owe", "逾期45天了", "我先还1000行不行", "几号还款", "i sat down"]
)
def test_no_day_is_read_into_a_question_without_one(text: str) -> None:
    assert mentioned_date(text, SATURDAY) is None


@pytest.mark.parametrize(
    ("text", "whole"),
    [
        ("如果我12号之前全部还清 要多少钱", True),
        ("提前还款要多少", True),
        ("pay off the whole loan, how much?", True),
        ("那我明天还要多少", False),
        ("how much do I owe", False),
    ],
)
def test_whole_loan_questions(text: str, whole: bool) -> None:
    assert wants_whole_loan(text) is whole


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("几号还款", True),
        ("下次还款日", True),
        ("我要什么时候还款", True),
        ("when is my next payment due", True),
        ("what day is my payment due", True),
        ("那12号到期的那期2600还要还吗", False),
        ("我欠多少", False),
        ("how much do i owe", False),
    ],
)
def test_due_date_questions(text: str, due: bool) -> None:
    assert asks_due_date(text) is due


def policy() -> RepaymentPolicy:
    return RepaymentPolicy.from_file(ROOT / "config" / "repayment_policy.yml")


def c1001_position(day: dt.date = SATURDAY):  # type: ignore[no-untyped-def]
    return overdue_position([InstalmentState("L1001", 4, dt.date(2026, 11, 16), D("1080.00"), paid=False)], day)


def test_the_configured_rule_is_oldest_instalment_first_and_penalty_before_the_instalment() -> None:
    p = policy()
    assert p.allocation_order == ("penalty", "instalment") and p.penalty_first
    assert p.partial_payment_in_app and p.min_partial_payment == D("1.00") and p.early_repayment_fee == D("0.00")


def test_an_order_that_does_not_name_both_parts_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "repayment_policy.yml"
    bad.write_text(
        (ROOT / "config" / "repayment_policy.yml")
        .read_text(encoding="utf-8")
        .replace("[penalty, instalment]", "[penalty]"),
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="allocation_order"):
        RepaymentPolicy.from_file(bad)


def test_c1001_paying_1000_today_covers_the_penalty_first_and_leaves_86_48_overdue() -> None:
    result = apply_partial(c1001_position(), D("1000"), policy())
    (part,) = result.allocations
    assert (part.to_penalty, part.to_instalment, part.instalment_left) == (D("6.48"), D("993.52"), D("86.48"))
    assert result.still_overdue == D("86.48") and not result.clears_everything
    assert result.daily_penalty_after == D("0.04")  # 86.48 x 0.05 %


def test_instalment_first_leaves_the_penalty_unpaid_instead() -> None:
    p = RepaymentPolicy(True, D("1.00"), ("instalment", "penalty"), D("0.00"))
    (part,) = apply_partial(c1001_position(), D("1000"), p).allocations
    assert (part.to_instalment, part.to_penalty) == (D("1000.00"), D("0.00"))


def test_the_oldest_instalment_is_settled_before_the_next_one() -> None:
    position = overdue_position(
        [
            InstalmentState("L9", 2, dt.date(2026, 11, 20), D("500.00"), paid=False),
            InstalmentState("L9", 1, dt.date(2026, 10, 20), D("500.00"), paid=False),
        ],
        SATURDAY,
    )
    result = apply_partial(position, D("600"), policy())
    first, second = result.allocations
    assert (first.seq, first.settled) == (1, True)
    assert second.seq == 2 and not second.settled


def test_enough_money_clears_everything() -> None:
    assert apply_partial(c1001_position(), D("1086.48"), policy()).clears_everything


def test_c1001_tomorrow_is_todays_figure_plus_one_days_penalty_to_the_fen() -> None:
    today, tomorrow = c1001_position(), c1001_position(SATURDAY + dt.timedelta(days=1))
    assert today.total_due == D("1086.48")
    assert tomorrow.total_due == D("1087.02") == today.total_due + D("1080.00") * D("0.0005")


def c1001_schedule() -> list[ScheduledInstalment]:
    dues = [dt.date(2026, 8, 16), dt.date(2026, 9, 16), dt.date(2026, 10, 16), dt.date(2026, 11, 16)]
    dues += [dt.date(2026 + (11 + k) // 12, (11 + k) % 12 + 1, 16) for k in range(8)]
    return [ScheduledInstalment(n + 1, d, D("1080.00"), paid=n < 3) for n, d in enumerate(dues)]


def test_repaying_the_whole_of_l1001_today() -> None:
    payoff = loan_payoff("L1001", D("12000.00"), c1001_schedule(), SATURDAY, policy())
    # overdue 1,080.00 + penalty 6.48; eight instalments not due, 1,000.00 principal each; the
    # current period's 80.00 interest for 12 of its 30 days.
    assert (payoff.overdue, payoff.penalty, payoff.principal, payoff.interest, payoff.fee) == (
        D("1080.00"),
        D("6.48"),
        D("8000.00"),
        D("32.00"),
        D("0.00"),
    )
    assert payoff.total == D("9118.48")


def test_a_later_payoff_day_adds_penalty_and_interest() -> None:
    later = loan_payoff("L1001", D("12000.00"), c1001_schedule(), dt.date(2026, 12, 12), policy())
    assert later.penalty == D("14.04")  # 26 days
    assert later.interest == D("69.33")  # 80.00 x 26 / 30


def test_c1003s_extra_2_15_is_two_days_of_penalty_on_2150() -> None:
    fee = explain_extra("L1003", 3, D("2150.00"), dt.date(2026, 11, 26), D("2152.15"), SATURDAY)
    assert fee is not None
    assert (fee.extra, fee.days_late, fee.penalty, fee.formula_matches) == (D("2.15"), 2, D("2.15"), True)


def test_a_payment_of_the_instalment_amount_has_nothing_to_explain() -> None:
    assert explain_extra("L1", 1, D("500.00"), dt.date(2026, 11, 1), D("500.00"), SATURDAY) is None


def test_an_extra_the_rule_does_not_explain_is_flagged() -> None:
    fee = explain_extra("L1", 1, D("500.00"), dt.date(2026, 11, 26), D("510.00"), SATURDAY)
    assert fee is not None and not fee.formula_matches


def test_what_a_customer_says_a_text_told_them() -> None:
    told = described_notice("你们发短信说我欠3000块逾期45天？？我从来没在你们这借过钱！！")
    assert told.amounts == {D("3000")} and told.days == {45} and not told.dates
    told = described_notice("text says I owe 3,000.00 and I'm 45 days late, sent on 11月14日")
    assert told.amounts == {D("3000.00")} and told.days == {45} and told.dates == {(11, 14)}
    assert described_notice("我从来没借过钱").empty


def test_a_described_text_fits_a_notice_by_amount_days_or_day_sent() -> None:
    due, sent = dt.date(2026, 10, 14), dt.datetime(2026, 11, 26, 10, 0)
    assert fits(described_notice("说我欠3000块"), D("3000.00"), due, sent, SATURDAY)
    assert fits(described_notice("说我逾期45天"), D("3000.00"), due, sent, SATURDAY)  # 45 days overdue today
    assert fits(described_notice("11月26号那条"), D("3000.00"), due, sent, SATURDAY)
    assert not fits(described_notice("说我欠8000块逾期90天"), D("3000.00"), due, sent, SATURDAY)
