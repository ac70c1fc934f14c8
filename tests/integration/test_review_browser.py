"""Conversation review in a real browser (Chromium through Playwright), against the real servers: a
supervisor finds a conversation the assistant misunderstood, marks the customer's message with the intent
it should have had, and tags the conversation, all by the pages' labels and roles. A failing run keeps a
screenshot in results/screenshots/."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Page, expect

from bot.services import review
from bot.services.analytics_store import store_batch
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.conftest import TODAY
from tests.integration import test_chat_page_browser as chat_page
from tests.integration import test_console_browser as console_browser
from tests.integration import test_console_http as console_http
from tests.integration.conftest import ROOT
from tests.services.test_review import Chat, bank

browser = chat_page.browser
console = console_http.console
desk = console_browser.desk

pytestmark = pytest.mark.servers

DAY = TODAY - dt.timedelta(days=1)
SENDER = "visitor:review_browser_visitor"
ASKED = "能开一张储蓄卡吗"


@contextmanager
def screenshot_on_failure(page: Page, name: str) -> Iterator[None]:
    try:
        yield
    except BaseException:
        folder = ROOT / "results" / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
        raise


@pytest.fixture(scope="module")
def misunderstood(browser, bot) -> str:  # the browser first: no servers without it
    """A visitor's session on DAY that the assistant did not understand, stored as the pipeline stores it."""
    chat = (
        Chat(SENDER, bank(DAY, 16, 0))
        .user("hello?", "greet", 0.62)
        .bot("您好，请问有什么可以帮您？")
        .user(ASKED, "nlu_fallback", 0.27)
        .bot("抱歉，我没有听懂。")
    )
    store_batch(
        lambda: SqlAlchemyUnitOfWork(bot.database_url), chat.events, "sql", dt.datetime.combine(TODAY, dt.time())
    )
    started = next(e for e in chat.events if e["event"] == "session_started")["timestamp"]
    return review.session_key(SENDER, dt.datetime.fromtimestamp(started, dt.timezone.utc).replace(tzinfo=None))


def test_a_supervisor_finds_a_misunderstood_conversation_marks_the_intent_and_tags_it(
    bot, console, desk, misunderstood
):
    sue = desk("sue")
    with screenshot_on_failure(sue, "review_mark_and_tag"):
        sue.get_by_role("link", name="对话复核").click()
        expect(sue.get_by_role("heading", name="对话复核")).to_be_visible()
        sue.get_by_label("开始日期").fill(DAY.isoformat())
        sue.get_by_label("结束日期").fill(DAY.isoformat())
        sue.get_by_label("结果").select_option(label="以未听懂结束")
        sue.get_by_label("客户类型").select_option(label="匿名访客")
        sue.get_by_role("button", name="筛选", exact=True).click()
        row = sue.get_by_role("row").filter(has_text="hello?")
        expect(row).to_have_count(1)
        expect(row).to_contain_text(SENDER)
        expect(row).to_contain_text("0.27")  # the lowest confidence
        row.get_by_role("link").click()

        expect(sue.get_by_role("heading", name=f"对话详情 {SENDER}")).to_be_visible()
        message = sue.get_by_role("listitem").filter(has_text=ASKED)
        expect(message).to_contain_text("nlu_fallback")
        message.get_by_label("正确意图").select_option("out_of_scope")
        message.get_by_role("button", name="标记", exact=True).click()
        expect(sue.get_by_role("status")).to_have_text("已保存标记。")
        message = sue.get_by_role("listitem").filter(has_text=ASKED)
        expect(message).to_contain_text("已标记为 out_of_scope（sue，")
        expect(message.get_by_label("正确意图")).to_have_value("out_of_scope")

        sue.get_by_label("新标签").fill("wrong_intent")
        sue.get_by_role("button", name="添加标签").click()
        expect(sue.get_by_role("status")).to_have_text("已添加标签。")
        expect(sue.get_by_role("button", name="删除标签 意图识别错误")).to_be_visible()

    # What the page showed is what was recorded.
    detail = review.session_detail(
        lambda: SqlAlchemyUnitOfWork(bot.database_url), misunderstood, "Asia/Shanghai",
        dt.datetime.combine(TODAY, dt.time()), dt.timedelta(hours=1),
    )  # fmt: skip
    assert [t.tag for t in detail.summary.tags] == ["wrong_intent"]
    assert [(t.text, t.mark.intent if t.mark else None) for t in detail.turns if t.kind == "user"] == [
        ("hello?", None),
        (ASKED, "out_of_scope"),
    ]
