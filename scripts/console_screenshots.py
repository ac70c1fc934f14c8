"""Screenshots of the agent console at desktop size, for the docs.

    .venv/bin/python scripts/console_screenshots.py [--out docs]

Starts the action server and Rasa like scripts/chat_screenshots.py does (a freshly seeded temporary
SQLite database, the business date pinned, the bank's clock started at 10:15 that day), and the
console beside them with the same clock; creates the agent "lin"; has an anonymous visitor report
a scam after giving a code away (an urgent ticket) and then C1005 ask for a person in her chat
page; logs in through the console's login form in Chromium (1280x800 CSS pixels) and writes
``console-queue.png`` (the queue: the urgent ticket above C1005's) and ``console-ticket.png``
(C1005's ticket claimed: the conversation, her details and a reply sent to her).
Needs /usr/bin/chromium and CJK fonts (fonts-noto-cjk); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chat_screenshots import CHROMIUM, PHONE, REPLY_TIMEOUT, ROOT, check_machine  # the same folder
from playwright.sync_api import Page, expect, sync_playwright

DESK = {"width": 1280, "height": 800}
AGENT, PASSWORD = "lin", "screenshot password"  # noqa: S105 - a throwaway account in a temporary database
SCAM_SENDER = "visitor_screenshot_scam"
REPLY = "Hello Emily, this is Lin from Qinghe Bank support. I have read your conversation; how can I help?"


@contextmanager
def console_server(bot, env: dict[str, str], work: Path) -> Iterator[str]:
    """``python -m bot console`` on a free port beside the bot's servers (as tests/integration/test_console_http.py
    starts it); yields its address."""
    from tests.integration.conftest import AGENT_TOKEN, SECRET, _wait, free_port, stop

    port = free_port()
    log = work / "console.log"
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bot", "console", "--port", str(port)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "DATABASE_URL": bot.database_url,
                "BOT_JWT_SECRET": SECRET,
                "RASA_PORT": bot.base.rsplit(":", 1)[1],
                "AGENT_API_TOKEN": AGENT_TOKEN,
                **env,
            },
        )
    try:
        _wait(f"http://127.0.0.1:{port}/health", process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop([process])


def urgent_scam_ticket(bot) -> str:
    """An anonymous visitor who gave a code away asks to record a scam report: an urgent ticket."""
    for text in ("我已经把验证码告诉骗子了，钱被转走了", "是的，登记", "登记举报"):
        answer = bot.text(bot.say(text, sender=SCAM_SENDER))
    found = re.search(r"HO-\d{4}-\d{6}", answer)
    if not found:
        sys.exit(f"the scam report did not make a ticket; the bot said: {answer}")
    return found.group(0)


def ask_for_a_person(page: Page, base: str, token: str) -> str:
    """C1005 asks for a person in her chat page; returns her ticket's number once she sees it."""
    with page.expect_request(lambda r: "/webhooks/inapp/stream?" in r.url):
        page.goto(f"{base}/webhooks/inapp/chat#token={token}")
    page.get_by_role("textbox", name="Message").fill("I want to talk to a real person")
    page.get_by_role("button", name="Send").click()
    queued = page.locator("#log .line.status").filter(has_text="You are in the queue for a person")
    expect(queued).to_have_count(1, timeout=REPLY_TIMEOUT)
    return re.search(r"HO-\d{4}-\d{6}", queued.inner_text()).group(0)


def shoot(bot, console: str, out: Path) -> list[Path]:
    from bot.tokens import mint
    from tests.integration.conftest import SECRET

    urgent = urgent_scam_ticket(bot)
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        try:
            customer = browser.new_context(viewport=PHONE, locale="en-US").new_page()
            ticket = ask_for_a_person(customer, bot.base, mint("C1005", SECRET))

            page = browser.new_context(viewport=DESK, locale="zh-CN").new_page()
            page.goto(f"{console}/login")
            page.get_by_label("用户名", exact=True).fill(AGENT)
            page.get_by_label("密码", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="登录", exact=True).click()
            expect(page.locator(f'#queue tr[data-ticket="{ticket}"]')).to_be_visible()
            expect(page.locator(f'#queue tr[data-ticket="{urgent}"] .badge')).to_have_text("紧急")
            page.wait_for_timeout(1_200)  # the waits have counted up once
            written.append(out / "console-queue.png")
            page.screenshot(path=str(written[-1]))

            page.locator(f'#queue tr[data-ticket="{ticket}"]').get_by_role("button", name="认领").click()
            expect(page.locator("#assignee")).to_have_text(AGENT)
            page.get_by_role("textbox", name="回复").fill(REPLY)
            page.get_by_role("button", name="发送", exact=True).click()
            expect(page.locator("#reply").get_by_role("status")).to_have_text("已发送。")
            expect(page.locator("#log .line.agent")).to_contain_text([REPLY])
            expect(customer.locator("#log .line.agent")).to_have_count(1)  # it reached her page
            page.locator("#reply-text").blur()
            page.evaluate("window.scrollTo(0, 0)")  # sending scrolled to the button; show the page from its top
            written.append(out / "console-ticket.png")
            page.screenshot(path=str(written[-1]))
        finally:
            browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for the PNGs (default: docs/)")
    args = parser.parse_args()
    check_machine()
    args.out.mkdir(parents=True, exist_ok=True)

    from bot import db
    from bot.services.staff import add_or_change
    from bot.unit_of_work import SqlAlchemyUnitOfWork
    from tests.conftest import TODAY, seed
    from tests.integration.conftest import _servers, latest_model

    with tempfile.TemporaryDirectory(prefix="console-screenshots-") as tmp:
        work = Path(tmp)
        url = seed(f"sqlite:///{work / 'bot.db'}")
        add_or_change(
            lambda: SqlAlchemyUnitOfWork(url), AGENT, "agent", PASSWORD, dt.datetime.combine(TODAY, dt.time(10))
        )
        db.dispose_all()
        print("starting the action server, Rasa and the console (about 25 s) ...", flush=True)
        clock = {"BOT_TODAY": TODAY.isoformat(), "BOT_NOW": f"{TODAY.isoformat()}T10:15"}
        servers = _servers({"env": clock}, work, url, latest_model())
        bot = next(servers)
        try:
            with console_server(bot, clock, work) as console:
                for path in shoot(bot, console, args.out):
                    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        finally:
            servers.close()  # stops both servers


if __name__ == "__main__":
    main()
