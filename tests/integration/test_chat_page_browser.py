"""The in-app chat page in a real browser (Chromium through Playwright) against the real servers.

One set of servers (the module's ``bot`` fixture) and one browser serve every test; each test
opens its own browser context (its own storage) and talks as its own customer or visitor, so
no test depends on another's conversation.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, Request, expect, sync_playwright

from bot.clock import system_utc_now
from bot.identity import customer_conversation, visitor_conversation
from bot.tokens import mint
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.integration.conftest import AGENT_TOKEN

pytestmark = pytest.mark.servers

CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 390, "height": 760}
REPLY_TIMEOUT = 10_000  # ms: a bot answer on a busy 2-core machine
CJK = re.compile(r"[\u4e00-\u9fff]")

# Records what the page tells the app around it (chat.js `tellApp`): a native web view's bridge.
BRIDGE = """
window.__sent = [];
window.BankChatBridge = { postMessage: function (s) { window.__sent.push(JSON.parse(s)); } };
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is needed at {CHROMIUM} for the chat page tests: apt-get install -y chromium")
    with sync_playwright() as p:
        try:
            launched = p.chromium.launch(executable_path=str(CHROMIUM))
        except Exception as exc:  # noqa: BLE001 - say what to do, not only what broke
            pytest.fail(f"Chromium at {CHROMIUM} did not start ({exc}); reinstall it: apt-get install -y chromium")
        yield launched
        launched.close()


OpenChat = Callable[..., Page]


@pytest.fixture
def open_chat(browser: Browser, bot) -> Iterator[OpenChat]:  # the browser first: no servers without it
    """open_chat(token=None, lang=None, locale="zh-CN", bridge=False, wait_stream=True) -> a page showing
    the chat, in a fresh browser context (phone-sized); once the live stream is open unless told not to."""
    contexts, errors = [], []

    def open_(
        token: str | None = None,
        lang: str | None = None,
        locale: str = "zh-CN",
        bridge: bool = False,
        wait_stream: bool = True,
    ) -> Page:
        context = browser.new_context(locale=locale, viewport=PHONE)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(5_000)
        page.on("pageerror", lambda error: errors.append(str(error)))
        if bridge:
            page.add_init_script(BRIDGE)
        url = (
            f"{bot.base}/webhooks/inapp/chat" + (f"?lang={lang}" if lang else "") + (f"#token={token}" if token else "")
        )
        if wait_stream:  # the history is in and the live stream open: nothing the test sends can race them
            with page.expect_request(lambda r: "/webhooks/inapp/stream?" in r.url):
                page.goto(url)
        else:
            page.goto(url)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == [], f"the page threw: {errors}"


# --- helpers ---------------------------------------------------------------------------------


def token_of(bot, customer: str) -> str:
    return mint(customer, bot.secret)


def agent(bot, path: str, body: dict) -> requests.Response:
    return requests.post(
        f"{bot.base}/webhooks/inapp/agent/{path}",
        json=body,
        headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
        timeout=10,
    )


def server_history(bot, token: str | None = None, sender: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {"X-Chat-Sender": sender or ""}
    reply = requests.get(f"{bot.base}/webhooks/inapp/history", headers=headers, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def shown_lines(page: Page) -> list[dict]:
    """Every line in the log: its number, kind, words (the bubble) and everything shown (who, words,
    buttons, time)."""
    return page.locator("#log .line").evaluate_all(
        "nodes => nodes.map(n => ({seq: n.dataset.seq === undefined ? null : Number(n.dataset.seq),"
        " kind: n.dataset.kind, text: n.querySelector('.bubble').innerText, shown: n.innerText}))"
    )


def assert_numbered_once_in_order(page: Page) -> list[int]:
    seqs = [int(s) for s in page.locator("#log [data-seq]").evaluate_all("ns => ns.map(n => n.dataset.seq)")]
    assert len(seqs) == len(set(seqs)), f"a line shown twice: {seqs}"
    assert seqs == sorted(seqs), f"lines out of order: {seqs}"
    return seqs


def webhook_posts(page: Page) -> list[Request]:
    """The messages the page sends from now on (requests to the webhook)."""
    sent: list[Request] = []
    page.on("request", lambda r: sent.append(r) if r.url.endswith("/webhooks/inapp/webhook") else None)
    return sent


def without_message_id(request: Request) -> dict:
    """A webhook body without its client_message_id, which must be there and well formed."""
    body = dict(request.post_data_json)
    assert re.fullmatch(r"[A-Za-z0-9_-]{8,64}", body.pop("client_message_id", "")), request.post_data
    return body


def visitor_id(page: Page) -> str:
    return page.evaluate("sessionStorage.getItem('bankchat.sender')")


def say(page: Page, text: str, english: bool = False) -> None:
    """Type a message and send it with the button; wait until it is stored (numbered)."""
    page.get_by_role("textbox", name="Message" if english else "消息").fill(text)
    page.get_by_role("button", name="Send" if english else "发送").click()
    expect(page.locator("#log .line.pending")).to_have_count(0, timeout=REPLY_TIMEOUT)
    expect(page.locator("#log .line.user").last).to_have_attribute("data-seq", re.compile(r"^\d+$"))


def hand_to_person(page: Page, english: bool = False) -> None:
    say(page, "I want to talk to a real person" if english else "转人工", english)
    queued = "You are in the queue for a person (ticket HO-" if english else "已为您转接人工客服，正在排队（工单 HO-"
    expect(page.locator("#log .line.status").filter(has_text=queued)).to_have_count(1, timeout=REPLY_TIMEOUT)


# --- the tests -------------------------------------------------------------------------------------


def test_a_logged_in_customer_asks_in_chinese_and_sees_the_amount_owed(bot, open_chat):
    page = open_chat(token=token_of(bot, "C1001"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    box = page.get_by_role("textbox", name="消息")
    send = page.get_by_role("button", name="发送")
    expect(box).to_be_visible()
    expect(send).to_be_visible()
    expect(page.get_by_text(re.compile("绝不会.*密码、验证码"))).to_be_visible()
    expect(page.get_by_role("button", name="结束对话")).to_be_visible()
    log = page.get_by_role("log", name="对话记录")
    expect(log.locator(".line")).to_have_count(0)  # a new conversation

    box.fill("我欠多少钱")
    send.click()
    mine = log.locator(".line.user")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text("我欠多少钱")
    answer = log.locator(".line.bot").filter(has_text="1,080.00").first
    expect(answer).to_be_visible(timeout=REPLY_TIMEOUT)
    expect(answer.locator(".who")).to_have_text("智能助手")
    expect(mine).to_have_attribute("data-seq", "1")  # stored, not left pending
    expect(box).to_have_value("")
    assert_numbered_once_in_order(page)


def test_b_an_anonymous_visitor_in_english_gets_english_and_nothing_is_kept_but_a_tab_id(bot, open_chat):
    forced = open_chat(lang="en")  # ?lang=en wins over a Chinese browser
    expect(forced.get_by_role("textbox", name="Message")).to_be_visible()
    expect(forced.locator("html")).to_have_attribute("lang", "en")
    forced.context.close()

    page = open_chat(locale="en-US")  # Accept-Language: en-US
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_text(re.compile("never ask for your password, verification code"))).to_be_visible()
    sent = webhook_posts(page)

    say(page, "How much do I owe?", english=True)
    answer = page.get_by_role("log", name="Conversation").locator(".line.bot").first
    expect(answer).to_contain_text("logging in", timeout=REPLY_TIMEOUT)  # no account details for a visitor
    expect(answer.locator(".who")).to_have_text("Assistant")
    assert not CJK.search(answer.inner_text()), answer.inner_text()
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(page.get_by_role("button", name="End chat")).to_be_visible()

    sender = visitor_id(page)
    assert re.fullmatch(r"web_[0-9a-f]{32}", sender or ""), sender
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []
    assert [without_message_id(r) for r in sent] == [{"message": "How much do I owe?", "sender": sender}]
    assert "authorization" not in sent[0].headers
    stored = server_history(bot, sender=sender)  # the tab's id is the visitor's conversation
    assert [line["text"] for line in stored["lines"]][0] == "How much do I owe?"


def test_c_an_option_button_answers_the_extension_form_and_then_it_and_its_siblings_are_disabled(bot, open_chat):
    page = open_chat(token=token_of(bot, "C1006"))
    say(page, "我想申请延期还款")
    asking = page.locator("#log .line.bot").filter(has_text="是什么原因让您暂时还款困难")
    options = asking.locator(".choices").get_by_role("button")
    expect(options).to_have_count(5, timeout=REPLY_TIMEOUT)
    assert options.evaluate_all("bs => bs.every(b => b.tagName === 'BUTTON' && b.type === 'button')")
    for option in options.all():
        expect(option).to_be_enabled()
    expect(page.get_by_role("textbox", name="消息")).to_have_attribute("placeholder", "选择上方的选项，或直接输入")
    sent = webhook_posts(page)

    asking.get_by_role("button", name="失业").click()
    for option in options.all():
        expect(option).to_be_disabled()
    expect(asking.get_by_role("button", name="失业")).to_have_attribute("aria-pressed", "true")
    expect(asking.get_by_role("button", name="生病")).to_have_attribute("aria-pressed", "false")
    chosen = page.locator("#log .line.user").last
    expect(chosen.locator(".bubble")).to_have_text("失业")
    expect(chosen).to_have_attribute("data-seq", re.compile(r"^\d+$"), timeout=REPLY_TIMEOUT)
    assert [without_message_id(r) for r in sent] == [{"message": "失业"}]

    # The form goes on: the plans, as buttons that are open to choose.
    plans = page.locator("#log .line.bot").filter(has_text="2,626.00").locator(".choices").get_by_role("button")
    expect(plans.first).to_be_visible(timeout=REPLY_TIMEOUT)
    expect(plans.filter(has_text="延期7天")).to_be_enabled()
    for option in options.all():
        expect(option).to_be_disabled()  # the answered question stays answered
    assert_numbered_once_in_order(page)


def test_d_a_reload_mid_conversation_shows_the_same_lines_once(bot, open_chat):
    token = token_of(bot, "C1003")
    page = open_chat(token=token)
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()  # her records say English
    say(page, "How much do I owe?", english=True)
    expect(page.locator("#log .line.bot").filter(has_text="nothing overdue").first).to_be_visible(timeout=REPLY_TIMEOUT)
    say(page, "I'd like to apply for a payment extension", english=True)
    expect(page.locator("#log .line.bot").filter(has_text="nothing to extend")).to_be_visible(timeout=REPLY_TIMEOUT)
    stored = server_history(bot, token=token)["lines"]
    expect(page.locator("#log .line")).to_have_count(len(stored))
    expect(page.locator("#log .line:not(:has(.time))")).to_have_count(0)  # her own lines too
    before = shown_lines(page)
    assert [(line["seq"], line["text"]) for line in before] == [(line["seq"], line["text"]) for line in stored]

    with page.expect_request(lambda r: "/webhooks/inapp/stream?" in r.url):
        page.reload()
    expect(page.locator("#log .line")).to_have_count(len(stored))
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    assert shown_lines(page) == before
    assert_numbered_once_in_order(page)


def test_e_an_agent_message_appears_within_a_second_without_the_customer_typing(bot, open_chat):
    page = open_chat(token=token_of(bot, "C1005"))  # English from her records
    conversation = customer_conversation("C1005")
    # The agent API writes only to a conversation that exists.
    assert agent(bot, "messages", {"conversation_id": conversation, "text": "Hello?"}).status_code == 404
    sent = webhook_posts(page)
    hand_to_person(page, english=True)
    # In service hours "... a human agent ...", outside them "Human agents work 09:00-21:00 ...":
    # the bank's time of day is the real one (BOT_TODAY pins only the date).
    expect(page.locator("#log .line.bot").last).to_contain_text(
        re.compile("human agent", re.IGNORECASE), timeout=REPLY_TIMEOUT
    )

    assert agent(bot, "typing", {"conversation_id": conversation, "typing": True}).status_code == 200
    expect(page.locator("#typing")).to_have_text("An agent is typing…", timeout=1_000)
    started = time.monotonic()
    reply = agent(bot, "messages", {"conversation_id": conversation, "text": "Hi, this is Lin from support."})
    assert reply.status_code == 200, reply.text
    message = page.locator("#log .line.agent")
    expect(message).to_have_count(1, timeout=1_000)
    assert time.monotonic() - started < 1.0
    expect(message.locator(".bubble")).to_have_text("Hi, this is Lin from support.")
    expect(message.locator(".who")).to_have_text("Agent")
    expect(page.locator("#log .line.status").filter(has_text="An agent has joined the chat.")).to_have_count(1)
    expect(page.locator("#typing")).to_have_text("")  # the message ends the typing notice
    assert len(sent) == 1  # only the handoff request: the customer typed nothing for this
    statuses = [line["text"] for line in shown_lines(page) if line["kind"] == "status"]
    assert statuses[0].startswith("You are in the queue") and statuses[-1] == "An agent has joined the chat."
    assert_numbered_once_in_order(page)


def test_f_a_dropped_connection_resumes_without_losing_or_repeating_a_line(bot, open_chat):
    page = open_chat()
    conversation = visitor_conversation(visitor_id(page))
    hand_to_person(page)
    assert agent(bot, "messages", {"conversation_id": conversation, "text": "您好，我是客服小林。"}).status_code == 200
    expect(page.locator("#log .line.agent")).to_have_count(1, timeout=2_000)

    banner = page.get_by_role("alert")
    page.context.set_offline(True)
    expect(banner).to_have_text("连接中断，正在重新连接…")
    expect(banner).to_be_visible()
    assert agent(bot, "messages", {"conversation_id": conversation, "text": "请问还在吗？"}).status_code == 200
    page.wait_for_timeout(1_000)  # a live stream would have shown it in a few milliseconds
    expect(page.locator("#log .line.agent")).to_have_count(1)

    page.context.set_offline(False)
    later = page.locator("#log .line.agent").filter(has_text="请问还在吗？")
    expect(later).to_have_count(1, timeout=3_000)
    expect(banner).to_be_hidden()
    page.wait_for_timeout(500)  # nothing more is coming: a repeat would be here by now
    expect(later).to_have_count(1)
    expect(page.locator("#log .line.agent")).to_have_count(2)
    seqs = assert_numbered_once_in_order(page)
    assert seqs == [line["seq"] for line in server_history(bot, sender=visitor_id(page))["lines"]]


def test_g_an_expired_token_asks_the_app_for_a_new_one_and_the_chat_goes_on_with_it(bot, open_chat):
    # C1004 chatted, ended that chat and started another, so the history to show is the second only.
    old = bot.say("你好", customer="C1004")
    assert old
    ended = requests.post(
        f"{bot.base}/webhooks/inapp/end",
        json={"language": "zh"},
        headers={"Authorization": f"Bearer {token_of(bot, 'C1004')}"},
        timeout=10,
    )
    assert ended.status_code == 200, ended.text
    assert "8,380.00" in bot.text(bot.say("我欠多少钱", customer="C1004"))
    current = server_history(bot, token=token_of(bot, "C1004"))
    assert len(current["lines"]) >= 2 and current["lines"][0]["text"] == "我欠多少钱"

    expired = mint("C1004", bot.secret, ttl=dt.timedelta(minutes=10), now=system_utc_now() - dt.timedelta(hours=1))
    page = open_chat(token=expired, bridge=True, wait_stream=False)
    banner = page.get_by_role("alert")
    expect(banner).to_have_text("登录已过期，请重新登录后继续。")
    page.wait_for_function("() => window.__sent.some(m => m.type === 'auth_required')")
    assert [m["type"] for m in page.evaluate("window.__sent")] == ["ready", "auth_required"]

    # Sending now is refused in the page, and what was typed stays in the box.
    sent = webhook_posts(page)
    box = page.get_by_role("textbox", name="消息")
    box.fill("我想申请延期还款")
    page.get_by_role("button", name="发送").click()
    expect(banner).to_have_text("登录已过期，请重新登录后继续。")
    expect(box).to_have_value("我想申请延期还款")
    assert sent == []

    fresh = token_of(bot, "C1004")
    with page.expect_request(lambda r: "/webhooks/inapp/stream?" in r.url):
        page.evaluate("t => window.postMessage({type: 'auth', token: t}, location.origin)", fresh)
    expect(banner).to_be_hidden()
    # The current chat, as a reload would show it; nothing of the ended one.
    expect(page.locator("#log .line")).to_have_count(len(current["lines"]))
    assert [line["seq"] for line in shown_lines(page)] == [line["seq"] for line in current["lines"]]
    expect(page.get_by_role("log")).not_to_contain_text("你好")
    expect(box).to_be_enabled()

    page.get_by_role("button", name="发送").click()
    expect(page.locator("#log .line.bot .choices").last.get_by_role("button", name="失业")).to_be_visible(
        timeout=REPLY_TIMEOUT
    )
    assert [r.headers["authorization"] for r in sent] == [f"Bearer {fresh}"]
    assert_numbered_once_in_order(page)


def test_h_the_keyboard_alone_reaches_the_box_sends_with_enter_and_breaks_lines_with_shift_enter(bot, open_chat):
    page = open_chat()
    box = page.get_by_role("textbox", name="消息")
    sent = webhook_posts(page)
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == "input":
            break
    expect(box).to_be_focused()

    page.keyboard.type("你好")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("我想问一下还款")
    expect(box).to_have_value("你好\n我想问一下还款")
    expect(page.locator("#log .line")).to_have_count(0)
    assert sent == []

    page.keyboard.press("Enter")
    mine = page.locator("#log .line.user")
    expect(mine).to_have_count(1)
    expect(mine.locator(".bubble")).to_have_text("你好\n我想问一下还款")
    expect(page.locator("#log .line.bot").first).to_contain_text("还款方式", timeout=REPLY_TIMEOUT)
    expect(box).to_have_value("")
    expect(box).to_be_focused()  # ready for the next message
    assert [r.post_data_json["message"] for r in sent] == ["你好\n我想问一下还款"]


def test_i_a_message_over_2000_characters_is_refused_in_the_page_and_kept(bot, open_chat):
    page = open_chat()
    sent = webhook_posts(page)
    box = page.get_by_role("textbox", name="消息")
    too_long = "还" * 2001
    box.fill(too_long)
    reason = page.locator("#input-help")
    expect(reason).to_have_text("消息太长了：最多 2000 个字，现在 2001 个字。")
    page.get_by_role("button", name="发送").click()
    box.press("Enter")
    expect(reason).to_be_visible()
    expect(reason).to_have_text("消息太长了：最多 2000 个字，现在 2001 个字。")
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(box).to_have_value(too_long)
    expect(page.locator("#log .line")).to_have_count(0)
    assert sent == []

    box.press("Backspace")  # at the limit the page lets it go
    expect(reason).to_have_text("还可输入 0 个字")
    expect(box).not_to_have_attribute("aria-invalid", "true")
    box.fill("你好")
    page.get_by_role("button", name="发送").click()
    expect(page.locator("#log .line.bot").first).to_be_visible(timeout=REPLY_TIMEOUT)
    assert len(sent) == 1  # the counter above would have seen a request


def test_j_ending_the_chat_with_a_rating_stores_it_and_shows_the_end(bot, open_chat):
    page = open_chat(bridge=True)
    say(page, "你好")
    expect(page.locator("#log .line.bot").first).to_be_visible(timeout=REPLY_TIMEOUT)

    page.get_by_role("button", name="结束对话").click()
    rating = page.get_by_role("dialog", name="您对本次服务满意吗？")
    expect(rating).to_be_visible()
    rating.get_by_role("button", name="4 分").click()
    expect(page.locator("#log .line.status .bubble").last).to_have_text("本次对话已结束。")
    expect(rating).to_be_hidden()
    expect(page.get_by_role("alert")).to_have_text("感谢您的评价！")
    expect(page.get_by_role("textbox", name="消息")).to_be_disabled()
    expect(page.get_by_role("button", name="开始新对话")).to_be_focused()
    page.wait_for_function("() => window.__sent.some(m => m.type === 'chat_ended')")
    assert {"type": "chat_ended", "rating": 4} in page.evaluate("window.__sent")

    history = server_history(bot, sender=visitor_id(page))
    assert history["ended"] is True and history["lines"] == []  # a reopened page starts afresh
    with SqlAlchemyUnitOfWork(bot.database_url) as uow:
        stored = uow.chat.rating_of(visitor_conversation(visitor_id(page)), history["session"])
        assert stored is not None and (stored.rating, stored.language) == (4, "zh")

    page.get_by_role("button", name="开始新对话").click()
    expect(page.locator("#log .line")).to_have_count(0)
    expect(page.get_by_role("textbox", name="消息")).to_be_enabled()


def test_k_only_https_links_to_the_bank_become_links(bot, open_chat):
    page = open_chat()
    conversation = visitor_conversation(visitor_id(page))
    say(page, "我收到一条短信：您的贷款已逾期，请点击 http://qinghe-bank.top/pay 立即还款，这是真的吗")
    warning = page.locator("#log .line.bot").filter(has_text="可疑").first
    expect(warning).to_be_visible(timeout=REPLY_TIMEOUT)
    # The bot's warning names the fake link (text) and the bank's domain (a link).
    expect(warning.locator(".bubble")).to_contain_text("http://qinghe-bank.top/pay")
    expect(warning.get_by_role("link")).to_have_count(1)
    expect(warning.get_by_role("link", name="qinghebank.com.cn")).to_have_attribute(
        "href", "https://qinghebank.com.cn/"
    )
    expect(page.locator("#log .line.user a")).to_have_count(0)  # the customer's own words are never links

    hand_to_person(page)
    text = "请只在官方页面还款：https://www.qinghebank.com.cn/repay 。不要打开 http://qinghe-bank.top/pay 这样的链接。"
    assert agent(bot, "messages", {"conversation_id": conversation, "text": text}).status_code == 200
    message = page.locator("#log .line.agent")
    expect(message).to_have_count(1, timeout=2_000)
    expect(message.locator(".bubble")).to_have_text(text)
    link = message.get_by_role("link")
    expect(link).to_have_count(1)
    expect(link).to_have_text("https://www.qinghebank.com.cn/repay")
    expect(link).to_have_attribute("href", "https://www.qinghebank.com.cn/repay")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(link).to_have_attribute("target", "_blank")
    expect(page.locator("#log a[href*='qinghe-bank.top']")).to_have_count(0)


def test_l_an_answer_lost_on_the_way_is_asked_for_again_with_the_same_message_id_and_handled_once(bot, open_chat):
    page = open_chat(locale="en-US")
    bodies: list[dict] = []

    def lose_the_first_answer(route) -> None:  # the server handles it; a proxy then loses the answer
        bodies.append(route.request.post_data_json)
        if len(bodies) == 1:
            handled = route.fetch()
            assert handled.status == 200, handled.text()
            route.fulfill(status=502, body="")
        else:
            route.continue_()

    page.route("**/webhooks/inapp/webhook", lose_the_first_answer)
    say(page, "How much do I owe?", english=True)
    # The page sends the same body again after a second (the live stream may show the answer first).
    page.wait_for_function("() => !document.getElementById('send').disabled", timeout=REPLY_TIMEOUT)
    assert len(bodies) == 2, bodies
    assert bodies[0] == bodies[1] and re.fullmatch(r"[A-Za-z0-9_-]{8,64}", bodies[0]["client_message_id"]), bodies
    answer = page.locator("#log .line.bot")
    expect(answer).to_have_count(1)  # the replayed answer is the line already shown, not a second one
    expect(answer).to_contain_text("logging in")
    expect(page.locator("#log .line.user")).to_have_count(1)
    expect(page.locator("#banner")).not_to_contain_text("not sent")
    # The server handled it once: one customer line and one answer in the stored chat.
    lines = server_history(bot, sender=visitor_id(page))["lines"]
    assert [line["kind"] for line in lines] == ["user", "bot"], lines


def test_m_an_in_app_notice_reaches_the_customers_open_page_and_no_visitors(bot, open_chat, tmp_path):
    from bot.notice_senders import FileSender
    from bot.services.notices import run_notices
    from bot.services.preferences import set_contact_preferences

    page = open_chat(token=token_of(bot, "C1001"))
    visitor = open_chat()
    before = page.locator("#log .line").count()

    def uow() -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(bot.database_url)

    monday = dt.datetime(2026, 11, 30, 10, 0)  # a working day two days after the tests' today
    set_contact_preferences(uow, "C1001", monday, prefer="in_app")
    report = run_notices(uow, FileSender(tmp_path / "sms.jsonl"), monday)
    assert report.delivered["in_app"] >= 1, report

    notice = page.locator("#log .line.notice")
    expect(notice).to_have_count(1, timeout=REPLY_TIMEOUT)  # through the live stream, no reload
    expect(notice.locator(".who")).to_have_text("青禾银行通知")
    expect(notice.locator(".bubble")).to_contain_text("1,080.00")
    expect(page.locator("#log .line")).to_have_count(before + 1)
    page.reload()
    expect(page.locator("#log .line.notice")).to_have_count(1)  # kept in the history, once
    expect(visitor.locator("#log .line")).to_have_count(0)
