"""The agent console in a real browser (Chromium through Playwright) beside the customer's chat page,
against the real Rasa, action and console servers.

One set of servers (the module's ``bot`` and ``console`` fixtures, the accounts alice and bob (agents)
and sue (supervisor)) and one browser serve every test; each agent and each customer is its own
browser context (its own cookies), so an agent's page and a customer's page are as separate as two
people's devices. The journey: an urgent scam report waits, C1005 asks for a person in her chat
page, alice logs in, claims her ticket, replies (the customer's page shows it without her typing),
is stopped by the compliance guard, and resolves (the assistant answers C1005 again). Then: two
agents claiming one ticket at once, the lockout after five wrong passwords, a supervisor's decision
on a referred extension, the CSRF token on every form, and the login form by keyboard alone.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from bot.services.staff import add_or_change, audit_log
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.conftest import TODAY
from tests.integration import test_chat_page_browser as chat_page
from tests.integration import test_console_http as console_http
from tests.integration.test_chat_page_browser import REPLY_TIMEOUT, hand_to_person, say, token_of, webhook_posts
from tests.integration.test_console_http import PASSWORD

# The fixtures this module shares: the browser and the customer's chat page (test_chat_page_browser),
# the console server with its accounts (test_console_http); each module gets its own servers.
browser = chat_page.browser
open_chat = chat_page.open_chat
console = console_http.console

pytestmark = pytest.mark.servers

DESK = {"width": 1280, "height": 800}
TICKET = re.compile(r"HO-\d{4}-\d{6}")
SCAM_SENDER = "visitor_console_browser_scam"


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def urgent_ticket(browser, bot) -> str:  # the browser first: no servers without it
    """An anonymous visitor reports a scam with money gone and agrees to record it: an urgent ticket."""
    asked = bot.text(bot.say("我已经把验证码告诉骗子了，钱被转走了", sender=SCAM_SENDER))
    assert "是否已经向对方转账" in asked, asked  # the bot asks whether money or a code was given away
    asked = bot.text(bot.say("是的，登记", sender=SCAM_SENDER))
    assert "要我把这次情况登记为诈骗举报吗" in asked, asked  # then whether to record the report
    recorded = bot.text(bot.say("登记举报", sender=SCAM_SENDER))
    assert "标记为紧急" in recorded and TICKET.search(recorded), recorded
    return TICKET.search(recorded).group(0)


Desk = Callable[..., Page]


@pytest.fixture
def desk(browser: Browser, console) -> Iterator[Desk]:
    """desk(username=None, english=False) -> a console page at desktop size in a fresh browser
    context; logged in through the login form when given a username."""
    contexts, errors = [], []

    def open_(username: str | None = None, english: bool = False) -> Page:
        context = browser.new_context(viewport=DESK, locale="en-US" if english else "zh-CN")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(5_000)
        page.on("pageerror", lambda error: errors.append(str(error)))
        # A script or style the Content-Security-Policy refused would be a console error (a 4xx answer
        # to a form or fetch is one too, and is what some tests want).
        page.on(
            "console",
            lambda m: errors.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None,
        )
        if username:
            log_in(page, console, username, english=english)
            expect(page).to_have_url(f"{console.url}/")
            expect(page.locator("header .me strong")).to_have_text(username)
        else:
            page.goto(f"{console.url}/login" + ("?lang=en" if english else ""))
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == [], f"a console page threw or refused something: {errors}"


# --- helpers ---------------------------------------------------------------------------------


def log_in(page: Page, console, username: str, password: str = PASSWORD, english: bool = False) -> None:
    """Fill the login form by its labels and submit it."""
    page.goto(f"{console.url}/login" + ("?lang=en" if english else ""))
    page.get_by_label("Username" if english else "用户名", exact=True).fill(username)
    page.get_by_label("Password" if english else "密码", exact=True).fill(password)
    page.get_by_role("button", name="Log in" if english else "登录", exact=True).click()


def queue_ids(page: Page) -> list[str]:
    return page.locator("#queue tr[data-ticket]").evaluate_all("rows => rows.map(r => r.dataset.ticket)")


def customer_lines(bot, customer: str) -> list[dict]:
    reply = requests.get(
        f"{bot.base}/webhooks/inapp/history",
        headers={"Authorization": f"Bearer {token_of(bot, customer)}"},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["lines"]


def post_status(page: Page, path: str, form: dict | None = None, json: dict | None = None) -> int | str:
    """What the console answers a fetch POST from inside the page (its cookies, same origin) with the
    form or JSON body given: the status, or "redirected" for a 303 (which fetch does not follow here)."""
    return page.evaluate(
        """([path, form, json]) => fetch(path, json === null
            ? {method: "POST", body: new URLSearchParams(form || {}), redirect: "manual"}
            : {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(json)}
          ).then(r => r.type === "opaqueredirect" ? "redirected" : r.status)""",
        [path, form, json],
    )


# --- the tests -------------------------------------------------------------------------------------


def test_a_customer_asks_for_a_person_an_agent_answers_in_the_console_and_hands_her_back(
    browser, bot, console, urgent_ticket, open_chat, desk
):
    # 1. The urgent scam report waits; C1005 asks for a person in her chat page and is queued.
    customer = open_chat(token=token_of(bot, "C1005"))  # English from her records
    sent = webhook_posts(customer)
    hand_to_person(customer, english=True)
    queued = customer.locator("#log .line.status").filter(has_text="You are in the queue for a person")
    ticket_id = TICKET.search(queued.inner_text()).group(0)
    assert ticket_id != urgent_ticket

    # 2. alice logs in (the form, by its Chinese labels) and sees the urgent ticket above C1005's.
    alice = desk("alice")
    expect(alice.get_by_role("heading", name="排队")).to_be_visible()
    ids = queue_ids(alice)
    assert urgent_ticket in ids and ticket_id in ids, ids
    assert ids.index(urgent_ticket) < ids.index(ticket_id), ids
    urgent_row = alice.locator(f'#queue tr[data-ticket="{urgent_ticket}"]')
    mine = alice.locator(f'#queue tr[data-ticket="{ticket_id}"]')
    expect(urgent_row.locator(".badge")).to_have_text("紧急")
    expect(urgent_row).to_contain_text("匿名访客")
    expect(mine).to_contain_text("已验证 C1005 · en")
    expect(mine).to_contain_text("未认领")
    expect(urgent_row.locator(".wait")).to_have_text(re.compile(r"^\d+ 分钟 \d+ 秒$"))  # counting up live

    mine.get_by_role("button", name="认领").click()
    expect(alice).to_have_url(f"{console.url}/tickets/{ticket_id}")
    expect(alice.locator("#assignee")).to_have_text("alice")
    transcript = alice.get_by_role("log", name="对话记录")
    expect(transcript.locator(".line.user")).to_contain_text(["I want to talk to a real person"])
    panel = alice.get_by_role("complementary")
    expect(panel.get_by_role("heading", name="客户信息")).to_be_visible()
    expect(panel).to_contain_text("Emily")

    # 3. alice replies; the customer's page shows it at once, after "agent joined", without her typing.
    box = alice.get_by_role("textbox", name="回复")
    box.fill("Hello Emily, this is Alice from support. How can I help?")
    expect(customer.locator("#typing")).to_have_text("An agent is typing…", timeout=2_000)
    started = time.monotonic()
    with alice.expect_request(lambda r: r.url.endswith(f"/tickets/{ticket_id}/reply")) as posted:
        alice.get_by_role("button", name="发送", exact=True).click()
    assert posted.value.headers.get("x-csrf-token") == alice.locator("body").get_attribute("data-csrf")
    message = customer.locator("#log .line.agent")
    expect(message).to_have_count(1, timeout=2_000)
    assert time.monotonic() - started < 2.5
    expect(message.locator(".bubble")).to_have_text("Hello Emily, this is Alice from support. How can I help?")
    expect(customer.locator("#log .line.status").filter(has_text="An agent has joined the chat.")).to_have_count(1)
    assert len(sent) == 1  # only "I want to talk to a real person": the page was told, not asked
    expect(alice.locator("#reply").get_by_role("status")).to_have_text("已发送。")
    expect(box).to_have_value("")
    expect(transcript.locator(".line.agent")).to_contain_text(["Hello Emily, this is Alice from support."])

    # 4. A threat to contact her employer is stopped: the console says why; the customer sees nothing.
    box.fill("If you do not pay we will contact your employer.")
    alice.get_by_role("button", name="发送", exact=True).click()
    blocked = alice.locator("#reply").get_by_role("status")
    expect(blocked).to_contain_text("消息未发送：")
    expect(blocked).to_contain_text("单位")  # the reason, in the agent's language
    expect(blocked).to_have_class("blocked")
    expect(box).to_have_value("If you do not pay we will contact your employer.")  # kept, to be rewritten
    expect(transcript).not_to_contain_text("employer")

    # 5. alice resolves with an outcome; the customer is back with the assistant, which answers her.
    alice.get_by_label("处理结果").fill("greeted her; she had no further questions")
    alice.get_by_role("button", name="结束并交还智能助手").click()
    expect(alice).to_have_url(f"{console.url}/?m=resolved")
    assert ticket_id not in queue_ids(alice) and urgent_ticket in queue_ids(alice)
    back = customer.locator("#log .line.status").filter(has_text="You are back with the virtual assistant.")
    expect(back).to_have_count(1, timeout=2_000)
    expect(customer.locator("#log .line.bot").last).to_contain_text("The agent has finished")
    expect(customer.get_by_role("log")).not_to_contain_text("employer")  # later lines came; that one never
    rating = customer.get_by_role("dialog", name="How satisfied are you with this chat?")
    expect(rating).to_be_visible()  # the one-question rating after a person's help
    rating.get_by_role("button", name=re.compile(r"^5")).click()  # she rates it and goes on chatting
    expect(rating).to_be_hidden()
    expect(customer.get_by_text("Thank you for your rating!")).to_be_visible()
    expect(customer.locator("#ended")).to_be_hidden()  # the chat did not end
    with SqlAlchemyUnitOfWork(bot.database_url) as u:
        stored = u.chat.rating_of("customer:C1005", customer_lines(bot, "C1005")[-1]["session"])
        assert stored is not None and stored.rating == 5
    say(customer, "how much do I owe?", english=True)
    answer = customer.locator("#log .line.bot").filter(has_text="nothing overdue")
    expect(answer.first).to_be_visible(timeout=REPLY_TIMEOUT)
    expect(answer.first.locator(".who")).to_have_text("Assistant")
    assert "employer" not in " ".join(line["text"] or "" for line in customer_lines(bot, "C1005"))


def test_b_of_two_agents_claiming_the_same_ticket_at_once_exactly_one_gets_it(browser, bot, console, desk):
    asked = bot.text(bot.say("I want to talk to a real person", sender="visitor_console_browser_race"))
    ticket_id = TICKET.search(asked).group(0)
    pages = {"alice": desk("alice", english=True), "bob": desk("bob", english=True)}
    for page in pages.values():
        expect(
            page.locator(f'#queue tr[data-ticket="{ticket_id}"]').get_by_role("button", name="Claim")
        ).to_be_enabled()

    # Both click Claim at the same instant (one shared clock: both contexts are in the same browser).
    claims_sent: list = []
    for page in pages.values():
        page.on("request", lambda r: claims_sent.append(r) if r.url.endswith(f"/tickets/{ticket_id}/claim") else None)
    at = pages["alice"].evaluate("Date.now()") + 300
    for page in pages.values():
        page.evaluate(
            """([id, at]) => setTimeout(() => document.querySelector(
                 `#queue tr[data-ticket="${id}"] button[type=submit]`).click(), at - Date.now())""",
            [ticket_id, at],
        )
    for page in pages.values():
        page.wait_for_url(re.compile(rf"/tickets/{ticket_id}(\?m=taken)?$"))
        expect(page.get_by_role("heading", name=re.compile(f"Ticket {ticket_id}"))).to_be_visible()
    assert len(claims_sent) == 2 and all(r.method == "POST" for r in claims_sent)
    starts = [r.timing["startTime"] for r in claims_sent]  # ms since the epoch, from the browser
    assert abs(starts[0] - starts[1]) < 150, starts  # sent together (a claim takes the console ~50 ms)

    holders = [name for name, page in pages.items() if not page.url.endswith("?m=taken")]
    assert len(holders) == 1, {name: page.url for name, page in pages.items()}
    holder = holders[0]
    (other,) = set(pages) - {holder}
    won, lost = pages[holder], pages[other]
    expect(won.locator("#assignee")).to_have_text(holder)
    expect(won.get_by_role("textbox", name="Reply")).to_be_visible()
    expect(won.get_by_role("alert")).to_have_count(0)
    expect(lost.get_by_role("alert")).to_have_text(f"This ticket was claimed by {holder}.")
    expect(lost.locator("#assignee")).to_have_text(holder)
    expect(lost.get_by_role("textbox", name="Reply")).to_have_count(0)  # nothing to write with
    expect(lost.get_by_role("button", name="Claim")).to_have_count(0)

    claims = [
        (e.username, e.action)
        for e in audit_log(lambda: SqlAlchemyUnitOfWork(console.database_url), 300)
        if e.ticket_id == ticket_id
    ]
    assert sorted(claims) == sorted([(holder, "claim"), (other, "claim_lost")]), claims


def test_c_five_wrong_passwords_lock_the_account_and_then_the_right_one_is_refused_too(browser, console, desk):
    now = dt.datetime.combine(TODAY, dt.time(10, 0))
    add_or_change(lambda: SqlAlchemyUnitOfWork(console.database_url), "locked_agent", "agent", PASSWORD, now)
    page = desk(english=True)
    refusal = page.get_by_role("alert")
    for attempt in range(1, 6):
        log_in(page, console, "locked_agent", "not the password", english=True)
        if attempt < 5:
            expect(refusal).to_have_text("Wrong username or password.")
    expect(refusal).to_have_text(re.compile(r"^Too many failed attempts; the account is locked until \d\d:\d\d\.$"))
    log_in(page, console, "locked_agent", PASSWORD, english=True)
    expect(refusal).to_have_text(re.compile(r"the account is locked until \d\d:\d\d"))
    expect(page.get_by_label("Password", exact=True)).to_be_visible()  # still the login form
    assert "console_session" not in {c["name"] for c in page.context.cookies()}
    log_in(page, console, "bob", PASSWORD, english=True)  # the lock is the account's, not the page's
    expect(page).to_have_url(f"{console.url}/")


def test_d_a_supervisor_approves_a_referred_extension_and_the_customer_is_told_in_her_chat(
    browser, bot, console, desk, open_chat
):
    bot.say("can I get more time?", customer="C1004")
    bot.say("my business failed", customer="C1004")
    referred = bot.text(bot.say("yes, pass it on", customer="C1004"))
    reference = re.search(r"EXT-\d{4}-\d{6}", referred).group(0)

    sue = desk("sue")
    expect(sue.locator("#queue tr[data-ticket]").filter(has_text="C1004")).to_have_count(1)  # the referral's ticket
    sue.get_by_role("navigation").get_by_role("link", name="审批", exact=True).click()
    expect(sue).to_have_url(f"{console.url}/decisions")
    row = sue.locator(f'table.referred tr[data-reference="{reference}"]')
    expect(row).to_contain_text("C1004")
    expect(row).to_contain_text("L1004A")
    expect(row).to_contain_text("business")
    row.get_by_label("内部备注").first.fill("checked with the branch")
    row.get_by_role("button", name="批准").click()
    expect(sue).to_have_url(f"{console.url}/decisions?m=approved")
    expect(sue.get_by_role("status")).to_have_text("已保存。")
    expect(sue.locator(f'tr[data-reference="{reference}"]')).to_have_count(0)
    sue.get_by_role("navigation").get_by_role("link", name="排队", exact=True).click()
    expect(sue.locator("#queue tr[data-ticket]").filter(has_text="C1004")).to_have_count(0)  # decided: it left

    agent_lines = [line for line in customer_lines(bot, "C1004") if line["kind"] == "agent"]
    assert any(reference in line["text"] for line in agent_lines), agent_lines
    chat = open_chat(token=token_of(bot, "C1004"))  # and her chat page shows it
    expect(chat.locator("#log .line.agent").filter(has_text=reference)).to_have_count(1)


def test_e_every_console_form_posts_the_csrf_token_and_a_post_without_it_is_refused(
    browser, console, urgent_ticket, desk
):
    login = desk()
    assert post_status(login, "/login", {"username": "sue", "password": PASSWORD}) == 403  # no form token

    sue = desk("sue")
    token = sue.locator("body").get_attribute("data-csrf")
    assert token and len(token) >= 32
    sue.goto(f"{console.url}/tickets/{urgent_ticket}")  # a supervisor sees every form a ticket has
    forms = sue.locator("form[method=post]")
    actions = forms.evaluate_all("fs => fs.map(f => new URL(f.action).pathname)")
    base = f"/tickets/{urgent_ticket}"
    assert {"/logout", f"{base}/claim", f"{base}/resolve", f"{base}/transfer", f"{base}/note"} <= set(actions), actions
    for form in forms.all():
        expect(form.locator('input[type=hidden][name="csrf"]')).to_have_value(token)

    # From the page itself (its cookies, same origin) but without the token: 403, and nothing happens.
    assert post_status(sue, f"/tickets/{urgent_ticket}/note", {"text": "forged note"}) == 403
    assert post_status(sue, f"/tickets/{urgent_ticket}/note", {"text": "forged note", "csrf": "wrong"}) == 403
    assert post_status(sue, f"/tickets/{urgent_ticket}/reply", json={"text": "forged reply"}) == 403
    assert post_status(sue, f"/tickets/{urgent_ticket}/claim") == 403
    assert post_status(sue, "/logout") == 403
    sue.reload()
    expect(sue.get_by_role("log")).not_to_contain_text("forged")
    expect(sue.locator(".notes")).not_to_contain_text("forged")
    expect(sue.locator("#assignee")).to_have_text("未认领")
    expect(sue.locator("header .me strong")).to_have_text("sue")  # still logged in

    # The page's own form sends the token, and goes through.
    with sue.expect_request(lambda r: r.url.endswith(f"{base}/note") and r.method == "POST") as posted:
        sue.get_by_label("内部备注", exact=True).fill("checked the report")
        sue.get_by_role("button", name="添加备注").click()
    assert f"csrf={token}" in (posted.value.post_data or ""), posted.value.post_data
    expect(sue.locator(".notes")).to_contain_text("checked the report")
    expect(sue.get_by_role("status").filter(has_text="已保存。")).to_be_visible()
    sue.get_by_role("button", name="退出").click()
    expect(sue).to_have_url(f"{console.url}/login")
    sue.goto(f"{console.url}/")
    expect(sue).to_have_url(f"{console.url}/login")  # the session is over


def test_f_the_login_form_works_with_the_keyboard_alone(browser, console, desk):
    page = desk(english=True)
    username = page.get_by_label("Username", exact=True)
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == "username":
            break
    expect(username).to_be_focused()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"  # focus is visible
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password", exact=True)).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{console.url}/")
    expect(page.locator("header .me strong")).to_have_text("alice")
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
