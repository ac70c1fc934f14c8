"""Conversation review in the agent console over real HTTP beside the real Rasa and action servers: a real
conversation reaches the review through the analytics pipeline with its intents and confidence; only
supervisors get the pages; tags and marks with their bilingual refusals, CSRF and audit; the export is
training data Rasa's reader loads."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import time
from urllib.parse import quote

import pytest
import requests
from sqlalchemy import create_engine, text

from bot.clock import system_utc_now
from bot.services import staff
from bot.services.analytics_store import store_batch
from bot.services.review import session_key
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.conftest import TODAY
from tests.integration import test_console_http as console_http
from tests.integration.conftest import ROOT
from tests.integration.test_console_http import page_csrf
from tests.services.test_review import Chat, bank

console = console_http.console  # the console with alice, bob (agents) and sue (supervisor), beside the servers

pytestmark = pytest.mark.servers

DAY = TODAY - dt.timedelta(days=1)
NOW = dt.datetime.combine(TODAY, dt.time(9, 0))
SENDER = "visitor:review_http_visitor1"


def session_url(console, key: str) -> str:  # type: ignore[no-untyped-def]
    return f"{console.url}/review/session?key={quote(key, safe='')}"


def stored_user_events(database_url: str, conversation_id: str) -> list[tuple[str, float, str]]:
    engine = create_engine(database_url, future=True)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT name, intent_confidence, text FROM analytics_events "
                    "WHERE conversation_id = :c AND event_type = 'user' ORDER BY at"
                ),
                {"c": conversation_id},
            ).all()
    finally:
        engine.dispose()
    return [(r[0], r[1], r[2]) for r in rows]


@pytest.fixture(scope="module")
def known(bot) -> str:
    """A visitor's session on DAY (bank time) with two misunderstood messages, one with a phone number and a
    code in it, stored as the pipeline stores Rasa's events; its key."""
    chat = (
        Chat(SENDER, bank(DAY, 10, 0))
        .user("blah blah", "nlu_fallback", 0.21)
        .bot("Sorry, I did not get that.")
        .user("我的号码是13900009999 验证码是123456 能开储蓄卡吗", "nlu_fallback", 0.32)
    )
    factory = lambda: SqlAlchemyUnitOfWork(bot.database_url)  # noqa: E731
    assert store_batch(factory, chat.events, "sql", NOW).inserted == len(chat.events)
    started = next(e for e in chat.events if e["event"] == "session_started")["timestamp"]
    return session_key(SENDER, dt.datetime.fromtimestamp(started, dt.timezone.utc).replace(tzinfo=None))


def test_only_supervisors_reach_the_review_and_find_it_in_the_nav(console, known) -> None:
    sue, alice = console.session("sue"), console.session("alice")
    assert '<a href="/review">对话复核</a>' in sue.get(f"{console.url}/", timeout=10).text
    assert 'href="/review"' not in alice.get(f"{console.url}/", timeout=10).text
    for path in ("/review", f"/review/session?key={quote(known, safe='')}"):
        refused = alice.get(f"{console.url}{path}", timeout=10)
        assert refused.status_code == 403 and "只有主管可以查看此页面" in refused.text, path
    csrf = page_csrf(console, alice)
    for action in ("tag", "untag", "mark", "unmark", "export"):
        posted = alice.post(f"{console.url}/review/{action}", data={"csrf": csrf, "key": known, "tag": "x"}, timeout=10)
        assert posted.status_code == 403, action
    stranger = requests.get(f"{console.url}/review", allow_redirects=False, timeout=10)
    assert stranger.status_code == 303 and stranger.headers["location"] == "/login"
    assert requests.post(f"{console.url}/review/tag", data={"key": known}, timeout=10).status_code == 401
    # Logged in but without the session's CSRF token: refused, nothing tagged.
    assert sue.post(f"{console.url}/review/tag", data={"key": known, "tag": "follow_up"}, timeout=10).status_code == 403
    assert 'data-tag="' not in sue.get(session_url(console, known), timeout=10).text


def test_a_real_conversation_reaches_the_review_with_what_the_assistant_understood(bot, console) -> None:
    bot.say("我现在欠多少钱？", customer="C1006")
    bot.say("谢谢", customer="C1006")
    events_db = bot.log_dir / "events.db"
    for _ in range(10):  # what make run's consumer does, a pass at a time, until the turn's events are in
        consumed = subprocess.run(
            [sys.executable, "-m", "bot", "analytics", "consume", "--from-sql", f"sqlite:///{events_db}", "--once",
             "--database-url", bot.database_url],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert consumed.returncode == 0, consumed.stderr
        stored = stored_user_events(bot.database_url, "customer:C1006")
        if [t for _, _, t in stored][-2:] == ["我现在欠多少钱？", "谢谢"]:
            break
        time.sleep(0.5)
    assert [t for _, _, t in stored][-2:] == ["我现在欠多少钱？", "谢谢"]
    intent, confidence, _ = stored[-2]
    # Rasa stamps events with the real time (BOT_TODAY moves only the bank's records): list around it.
    real_day = system_utc_now().astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    window = {
        "since": (real_day - dt.timedelta(days=1)).isoformat(),
        "until": (real_day + dt.timedelta(days=1)).isoformat(),
    }
    sue = console.session("sue")
    page = sue.get(f"{console.url}/review", params={**window, "intent": intent, "who": "verified"}, timeout=30)
    assert page.status_code == 200
    keys = re.findall(r'data-session="(customer:C1006@[^"]+)"', page.text)
    assert len(keys) == 1
    session = sue.get(session_url(console, keys[0]), timeout=10).text
    assert "我现在欠多少钱？" in session and f"<code>{intent}</code>" in session and f"{confidence:.2f}" in session
    # The outcome list agrees: a thanked session the assistant handled is contained, not escalated.
    contained = sue.get(f"{console.url}/review", params={**window, "outcome": "contained"}, timeout=30).text
    escalated = sue.get(f"{console.url}/review", params={**window, "outcome": "escalated"}, timeout=30).text
    assert keys[0] in contained and keys[0] not in escalated


def test_a_supervisor_filters_reads_masked_tags_marks_and_exports(bot, console, known, tmp_path) -> None:
    from rasa.shared.nlu.training_data.loading import load_data

    sue = console.session("sue")
    listed = sue.get(
        f"{console.url}/review", params={"since": DAY.isoformat(), "until": DAY.isoformat(), "outcome": "fallback_ended",
                                         "below": "0.3", "who": "anonymous"}, timeout=30,
    )  # fmt: skip
    assert listed.status_code == 200 and f'data-session="{known}"' in listed.text
    assert "以未听懂结束" in listed.text and "13900009999" not in listed.text
    page = sue.get(session_url(console, known), timeout=10)
    assert "139****9999" in page.text and "13900009999" not in page.text and "123456" not in page.text
    assert "文字按存储时显示" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    event_keys = re.findall(r'data-event="([0-9a-f]{64})"', page.text)
    assert len(event_keys) == 2

    def post(action: str, **form: str) -> requests.Response:
        return sue.post(f"{console.url}/review/{action}", data={"csrf": csrf, "key": known, **form},
                        allow_redirects=False, timeout=10)  # fmt: skip

    tagged = post("tag", tag="Wrong Intent")
    assert tagged.status_code == 303 and "m=tagged" in tagged.headers["location"]
    shown = sue.get(session_url(console, known), timeout=10).text
    assert 'data-tag="wrong_intent"' in shown and "意图识别错误" in shown
    refused = post("tag", tag="13800001001")
    assert refused.status_code == 400 and "标签不能包含客户信息" in refused.text
    refused_en = sue.post(f"{console.url}/review/tag?lang=en", data={"csrf": csrf, "key": known, "tag": "a/b"},
                          timeout=10)  # fmt: skip
    assert refused_en.status_code == 400 and "A tag may contain only letters, digits, _ and -." in refused_en.text
    assert post("tag", tag="wrong_intent").status_code == 400  # already there
    shown = sue.get(session_url(console, known) + "&lang=zh", timeout=10).text
    assert shown.count('data-tag="') == 1

    marked = post("mark", event_key=event_keys[1], intent="out_of_scope")
    assert marked.status_code == 303 and marked.headers["location"].endswith(f"#e-{event_keys[1]}")
    assert "已标记为 out_of_scope（sue，" in sue.get(session_url(console, known), timeout=10).text
    unknown = post("mark", event_key=event_keys[0], intent="savings_account")
    assert unknown.status_code == 400 and "请从列表中选择一个已有的意图。" in unknown.text
    assert post("mark", event_key="f" * 64, intent="greet").status_code == 400
    assert post("dance").status_code == 404

    exported = sue.post(f"{console.url}/review/export", data={"csrf": csrf, "since": TODAY.isoformat()}, timeout=30)
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    path = tmp_path / "marked.yml"
    path.write_bytes(exported.content)
    loaded = {(m.get("text"), m.get("intent")) for m in load_data(str(path)).intent_examples}
    assert ("我的号码是139****9999 验证码是****** 能开储蓄卡吗", "out_of_scope") in loaded
    assert "13900009999" not in exported.text
    bad_export = sue.post(f"{console.url}/review/export", data={"csrf": csrf, "since": "yesterday"}, timeout=10)
    assert bad_export.status_code == 400 and "日期格式应为 2026-11-28。" in bad_export.text

    assert post("unmark", event_key=event_keys[1]).status_code == 303
    assert post("untag", tag="wrong_intent").status_code == 303
    shown = sue.get(session_url(console, known), timeout=10).text
    assert 'data-tag="' not in shown and "已标记为" not in shown
    actions = [e.action for e in staff.audit_log(lambda: SqlAlchemyUnitOfWork(bot.database_url), 50)
               if e.action.startswith("review_") and e.username == "sue"]  # fmt: skip
    assert actions == ["review_untag", "review_unmark", "review_export", "review_mark", "review_tag"]
    audit = sue.get(f"{console.url}/audit?action=review_mark", timeout=10).text
    assert event_keys[1] in audit and "out_of_scope" in audit


def test_a_bad_filter_is_explained_in_the_supervisors_language(console) -> None:
    sue = console.session("sue")
    zh = sue.get(f"{console.url}/review", params={"below": "2"}, timeout=10)
    assert zh.status_code == 400 and "置信度应为大于 0、不超过 1 的数" in zh.text
    en = sue.get(
        f"{console.url}/review", params={"since": "2026-01-01", "until": "2026-11-28", "lang": "en"}, timeout=10
    )
    assert en.status_code == 400 and "At most 92 days at a time." in en.text
    assert sue.get(f"{console.url}/review/session", params={"key": "nonsense"}, timeout=10).status_code == 404
