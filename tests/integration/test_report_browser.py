"""The report and the supervisors' dashboard in a real browser (Chromium through Playwright), over a
database holding one known day (tests/integration/test_report.py, ``record_known_day``): the
figures a supervisor reads on the page are exactly the expected ones, the chart is drawn, and
nothing on either page comes from elsewhere."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from bot.services.staff import add_or_change
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.conftest import TODAY
from tests.integration import test_chat_page_browser as chat_page
from tests.integration.conftest import ROOT, _wait, free_port, stop
from tests.integration.test_console_browser import log_in
from tests.integration.test_console_http import PASSWORD, Console
from tests.integration.test_report import DAY, figures, record_known_day, report

browser = chat_page.browser


@pytest.fixture
def known_day(sqlite_url, tmp_path) -> tuple[str, int]:
    """The database URL and how many notices the quiet hours held back."""
    _ticket, night = record_known_day(sqlite_url)
    return sqlite_url, len(night.held)


@pytest.fixture
def console(known_day, tmp_path) -> Iterator[Console]:
    url, _held = known_day
    uow = lambda: SqlAlchemyUnitOfWork(url)  # noqa: E731
    add_or_change(uow, "sue", "supervisor", PASSWORD, dt.datetime.combine(TODAY, dt.time(9)))
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "BOT_TODAY": TODAY.isoformat()}
    log = tmp_path / "console.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "console", "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait(f"http://127.0.0.1:{port}/health", process, log)
        yield Console(f"http://127.0.0.1:{port}", url)
    finally:
        stop([process])


def watched(browser: Browser, locale: str = "en-US") -> tuple[Page, list[str]]:
    """A fresh page, and the list its errors and any request to another origin are added to."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    # A script or style the Content-Security-Policy refused is a console error (the browser's own
    # favicon request, which no page makes, is one too and is left out).
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None,
    )

    def outside(request) -> None:  # noqa: ANN001 - Playwright's Request
        if not request.url.startswith(("file://", "data:", "http://127.0.0.1")):
            problems.append(f"loaded {request.url}")

    page.on("request", outside)
    return page, problems


def cell(page: Page, table: str, metric: str, column: int) -> str:
    """The text of a figure's cell: the row of ``#table`` headed ``metric``, its column-th value cell."""
    found = page.locator(f"#{table} tbody tr").evaluate_all(
        "(rows, [metric, column]) => rows.filter(r => r.cells[0].innerText.trim() === metric)"
        ".map(r => r.cells[1 + column].innerText.trim())",
        [metric, column],
    )
    assert len(found) == 1, (table, metric, found)
    return str(found[0])


def test_the_report_shows_the_expected_figures_and_its_chart_in_chromium(browser, known_day, tmp_path) -> None:
    url, held = known_day
    done = report(url, tmp_path / "out")
    assert done.returncode == 0, done.stderr
    csv_figures = figures(tmp_path / "out")
    page, problems = watched(browser)
    page.goto((tmp_path / "out" / "report.html").as_uri())
    expect(page.locator("#period")).to_have_text(f"{DAY.isoformat()} – {TODAY.isoformat()}")
    # Columns of #figures: all, language=zh, language=en, verified, anonymous.
    assert cell(page, "figures", "engaged_sessions", 0) == "4"
    assert cell(page, "figures", "engaged_sessions", 2) == "1"  # C1005 wrote in English
    assert cell(page, "figures", "engaged_sessions", 4) == "1"  # the visitor
    assert cell(page, "figures", "containment_rate", 0) == "0.75"
    assert cell(page, "figures", "escalation_asked_rate", 0) == "0.25"
    assert cell(page, "figures", "fallback_rate", 0) == "0.25"
    assert cell(page, "figures", "time_to_person_p50_s", 0) == "90"
    assert cell(page, "figures", "satisfaction_mean", 2) == "4"
    # The chart is an image that decoded (inline PNG, nothing fetched).
    chart = page.locator("img[alt^='containment']")
    assert chart.evaluate("img => img.complete && img.naturalWidth > 400 && img.naturalHeight > 200")
    # What changed, and the figures outside the splits (form steps, notices held back by reason).
    expect(page.locator("#changes")).to_contain_text("engaged_sessions: 0 → 4")
    other = {
        tuple(r)
        for r in page.locator("#other tbody tr").evaluate_all(
            "rows => rows.map(r => [...r.cells].map(c => c.innerText))"
        )
    }
    assert ("form_step", "form=extension_form,step=ext_reason", "1") in other
    assert ("form_submitted", "form=extension_form", "0") in other
    assert ("notices_held", "reason=quiet_hours", str(held)) in other
    # The page and the CSV agree on every figure shown in the table by split.
    shown = page.locator("#figures tbody tr").evaluate_all(
        "rows => rows.map(r => [r.cells[0].innerText, ...[...r.cells].slice(1).map(c => c.innerText)])"
    )
    splits = ["all", "language=zh", "language=en", "verified", "anonymous"]
    for metric, *values in shown:
        for split, value in zip(splits, values, strict=True):
            if value:
                assert float(value) == csv_figures[(metric, split)], (metric, split)
    assert problems == []
    page.context.close()


@pytest.mark.servers
def test_the_dashboard_shows_a_supervisor_the_same_figures_in_both_languages(browser, known_day, console) -> None:
    _url, held = known_day
    page, problems = watched(browser)
    log_in(page, console, "sue", english=True)
    page.goto(f"{console.url}/dashboard?lang=en")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    # Columns of #dashboard: today, last 7 days, last 30 days. DAY is yesterday: nothing today.
    assert cell(page, "dashboard", "engaged_sessions", 0) == "0"
    assert cell(page, "dashboard", "engaged_sessions", 1) == "4"
    assert cell(page, "dashboard", "engaged_sessions", 2) == "4"
    assert cell(page, "dashboard", "containment_rate", 1) == "0.75"
    assert cell(page, "dashboard", "handoffs", 1) == "1"
    assert cell(page, "dashboard", "time_to_person_p50_s", 1) == "90"
    assert cell(page, "dashboard", "satisfaction_mean", 1) == "4"
    # Splits of the last 7 days: language=zh, language=en, verified, anonymous.
    assert cell(page, "splits", "engaged_sessions", 1) == "1" and cell(page, "splits", "engaged_sessions", 3) == "1"
    held_row = page.locator("#other tr[data-metric='notices_held'][data-split='reason=quiet_hours'] td").nth(1)
    expect(held_row).to_have_text(str(held))
    step = page.locator("#other tr[data-metric='form_step'][data-split='form=extension_form,step=ext_loan_id'] td")
    expect(step.nth(1)).to_have_text("1")
    # The same page in Chinese.
    page.goto(f"{console.url}/dashboard?lang=zh")
    expect(page.get_by_role("heading", name="数据看板")).to_be_visible()
    expect(page.get_by_role("columnheader", name="近7天").first).to_be_visible()
    expect(page.locator("#other")).to_be_visible()
    assert cell(page, "dashboard", "engaged_sessions", 1) == "4"
    assert problems == []
    page.context.close()
