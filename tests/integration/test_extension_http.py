"""C1001 completes an extension over HTTP, with real servers, tokens and records."""

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from bot import db
from bot.domain.model import ExtensionRequest
from bot.services.notices import run_notices
from bot.unit_of_work import SqlAlchemyUnitOfWork

pytestmark = pytest.mark.servers


def test_c1001_completes_a_split_into_three_and_the_overdue_answers_reflect_it(bot):
    assert "1,080.00" in bot.text(bot.say("我欠多少钱", customer="C1001"))

    reason_prompt = bot.say("我失业了，想申请延期还款", customer="C1001")
    assert [b["title"] for b in reason_prompt[0]["buttons"]] == ["失业", "生病", "生意困难", "自然灾害", "其他"]

    options = bot.say("失业", customer="C1001")
    assert "1,086.48" in bot.text(options)
    assert "分3期" in [b["title"] for b in options[-1]["buttons"]]

    confirm = bot.text(bot.say("分3期", customer="C1001"))
    assert "2026-12-28 应还 362.16 元" in confirm and "2027-02-28 应还 362.16 元" in confirm and "6.48" in confirm

    done = bot.text(bot.say("确认办理", customer="C1001"))
    assert "EXT-2026-000001" in done and "362.16" in done

    after = bot.text(bot.say("我现在欠多少钱", customer="C1001"))
    assert "没有逾期" in after and "EXT-2026-000001" in after

    # The notice engine follows the plan: without it L1001 would get a reminder on 12-05 (a week
    # after the last one); with it, nothing until the next regular instalment (12-16) is late.
    uow = lambda: SqlAlchemyUnitOfWork(bot.database_url)  # noqa: E731
    for day in (dt.datetime(2026, 12, 5, 10), dt.datetime(2026, 12, 15, 10)):
        assert "C1001" not in [c for c, _, _ in run_notices(uow, None, day, dry_run=True).recorded]

    # A second confirmation is just a "yes" now: nothing is submitted twice.
    bot.say("确认办理", customer="C1001")
    assert "EXT-2026-000002" not in bot.text(bot.say("为什么收到逾期短信", customer="C1001"))


def test_c1004_is_referred_to_a_person_in_english_once_he_confirms_and_only_once(bot):
    bot.say("can I get more time to pay?", customer="C1004")
    asked = bot.text(bot.say("my business failed", customer="C1004"))
    assert "Shall I pass your request" in asked and "EXT-" not in asked  # nothing recorded yet
    text = bot.text(bot.say("yes, pass it on", customer="C1004"))
    reference = re.search(r"EXT-2026-\d{6}", text).group(0)
    assert "a person will review it" in text
    # Asking again in the same session finds the request already recorded.
    bot.say("can I get more time to pay?", customer="C1004")
    bot.say("my business failed", customer="C1004")
    again = bot.text(bot.say("yes, pass it on", customer="C1004"))
    assert reference in again and re.findall(r"EXT-2026-\d{6}", again) == [reference]


def test_a_referral_the_customer_does_not_confirm_records_no_request(bot):
    with db.session_factory(bot.database_url)() as session:
        before = session.execute(
            select(func.count()).select_from(ExtensionRequest).where(ExtensionRequest.status == "referred")
        ).scalar()
    bot.say("我想申请分期", customer="C1004")
    bot.say("不是 我就问能不能部分还款", customer="C1004")  # taken as the reason, but never submitted ...
    bot.say("取消", customer="C1004")  # ... because the customer does not confirm
    with db.session_factory(bot.database_url)() as session:
        after = session.execute(
            select(func.count()).select_from(ExtensionRequest).where(ExtensionRequest.status == "referred")
        ).scalar()
    assert after == before


def test_c1005_with_nothing_overdue_is_told_so(bot):
    assert "nothing overdue" in bot.text(bot.say("I need an extension", customer="C1005"))


def test_a_question_at_the_confirmation_step_is_answered_and_the_plan_stays_what_was_chosen(bot):
    bot.say("我想延期还款", customer="C1006")
    bot.say("失业", customer="C1006")
    first = bot.text(bot.say("延期14天", customer="C1006"))
    assert "延期14天" in first and "确认办理吗" in first

    # The "12" of a date and the 2600 of an amount are not a choice of "12 months".
    again = bot.text(bot.say("那12号到期的那期2600还要还吗", customer="C1006"))
    assert "其他还没到期的期数不变" in again
    assert "延期14天" in again and "分12期" not in again and "确认办理吗" in again

    done = bot.text(bot.say("确认办理", customer="C1006"))
    assert "EXT-2026-" in done and "延期14天" in done and "分12期" not in done
