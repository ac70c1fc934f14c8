"""Screenshots of the in-app chat page at phone size, for the docs.

    .venv/bin/python scripts/chat_screenshots.py [--out docs]

Starts the action server and Rasa on free loopback ports over a freshly seeded temporary SQLite
database with the business date pinned (the integration tests' servers, tests/integration/conftest.py)
and the bank's clock started at 10:15 that day (BOT_NOW), so the pictures do not depend on when they are taken;
has two short conversations in Chromium (390x760 CSS pixels, device scale 2) and writes
``chat-zh.png`` (C1001 asks what he owes, then for more time: the reasons as buttons) and
``chat-en.png`` (C1003 asks why a reminder came after she paid, then what she owes).
Needs /usr/bin/chromium and CJK fonts (fonts-noto-cjk); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Locator, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 390, "height": 760}
REPLY_TIMEOUT = 15_000  # ms


def check_machine() -> None:
    """Stop with what to install when the browser or the Chinese fonts are missing."""
    if not CHROMIUM.exists():
        sys.exit(f"Chromium is needed at {CHROMIUM}: apt-get install -y chromium")
    fc_list = shutil.which("fc-list")
    found = subprocess.run([fc_list, ":lang=zh"], capture_output=True, text=True).stdout if fc_list else ""  # noqa: S603
    if not found.strip():
        sys.exit("No Chinese fonts: the zh screenshot would show boxes. apt-get install -y fonts-noto-cjk")
    if not any((ROOT / "models").glob("*.tar.gz")):
        sys.exit("No trained model in models/: run `make train` first")


def converse(page: Page, messages: list[str], textbox: str, button: str, last: Callable[[Page], Locator]) -> None:
    """Send each message from the composer, wait until the bot has answered it, then until ``last`` shows."""
    box = page.get_by_role("textbox", name=textbox)
    for text in messages:
        answered = page.locator("#log .line.bot").count()
        box.fill(text)
        page.get_by_role("button", name=button).click()
        expect(page.locator("#log .line.pending")).to_have_count(0, timeout=REPLY_TIMEOUT)
        page.wait_for_function(
            "n => document.querySelectorAll('#log .line.bot').length > n", arg=answered, timeout=REPLY_TIMEOUT
        )
    expect(last(page)).to_be_visible(timeout=REPLY_TIMEOUT)
    # Every line has its time (the customer's own get it from the live stream a moment later).
    expect(page.locator("#log .line:not(:has(.time))")).to_have_count(0, timeout=REPLY_TIMEOUT)
    page.get_by_role("textbox", name=textbox).blur()
    page.evaluate("document.getElementById('log').scrollTop = 1e6")


def shoot(base: str, secret: str, out: Path) -> list[Path]:
    from bot.tokens import mint

    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        try:
            for name, customer, locale, messages, textbox, button, last in (
                (
                    "chat-zh.png",
                    "C1001",
                    "zh-CN",
                    ["我欠多少钱", "我想申请延期还款"],
                    "消息",
                    "发送",
                    lambda page: page.locator("#log .choices").last.get_by_role("button", name="失业"),
                ),
                (
                    "chat-en.png",
                    "C1003",
                    "en-US",
                    ["I paid this morning, why did I still get a reminder text?", "How much do I owe?"],
                    "Message",
                    "Send",
                    lambda page: page.locator("#log .line.bot").filter(has_text="Next instalment"),
                ),
            ):
                context = browser.new_context(viewport=PHONE, device_scale_factor=2, locale=locale)
                page = context.new_page()
                url = f"{base}/webhooks/inapp/chat#token={mint(customer, secret)}"
                with page.expect_request(lambda r: "/webhooks/inapp/stream?" in r.url):
                    page.goto(url)
                converse(page, messages, textbox, button, last)
                target = out / name
                page.screenshot(path=str(target))
                written.append(target)
                context.close()
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
    from tests.conftest import TODAY, seed
    from tests.integration.conftest import SECRET, _servers, latest_model

    with tempfile.TemporaryDirectory(prefix="chat-screenshots-") as tmp:
        work = Path(tmp)
        url = seed(f"sqlite:///{work / 'bot.db'}")
        db.dispose_all()
        print("starting the action server and Rasa (about 20 s) ...", flush=True)
        options = {"env": {"BOT_NOW": f"{TODAY.isoformat()}T10:15"}}  # after C1003's 09:30 payment
        servers = _servers(options, work, url, latest_model())
        bot = next(servers)
        try:
            for path in shoot(bot.base, SECRET, args.out):
                print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        finally:
            servers.close()  # stops both servers


if __name__ == "__main__":
    main()
