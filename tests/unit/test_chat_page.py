"""The chat page's pieces without servers: its words in both languages, the HTML it renders,
its security headers, and the notifiers that wake live streams (Redis across workers)."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from bot.rasa_ext import chat_page
from bot.rasa_ext.chat_stream import MemoryNotifier, RedisNotifier, TooManyStreams, sse
from tests.conftest import require_redis


def test_every_word_of_the_page_exists_in_both_languages_with_the_same_placeholders() -> None:
    words = chat_page.strings()
    assert set(words["zh"]) == set(words["en"])
    for key in words["zh"]:
        zh, en = words["zh"][key], words["en"][key]
        assert zh.strip() and en.strip(), key
        assert set(re.findall(r"\{(\w+)\}", zh)) == set(re.findall(r"\{(\w+)\}", en)), key
    # Chinese words are Chinese and English words are English (but for the switch, which names the other).
    assert all(re.search(r"[\u4e00-\u9fff]", v) for k, v in words["zh"].items() if k != "language_switch")
    assert all(not re.search(r"[\u4e00-\u9fff]", v) for k, v in words["en"].items() if k != "language_switch")
    assert "验证码" in words["zh"]["safety_note"] and "verification code" in words["en"]["safety_note"]


def test_every_word_the_script_asks_for_exists() -> None:
    script = (chat_page.STATIC / "chat.js").read_text(encoding="utf-8")
    asked = set(re.findall(r'\bt\("(\w+)"[,)]', script))
    statuses = {f"status_{s}" for s in ("queued", "agent_joined", "bot_back", "ended")}
    assert asked and asked | statuses <= set(chat_page.strings()["zh"])


def test_the_page_is_rendered_in_the_language_asked_with_its_settings_inert() -> None:
    zh = chat_page.page("/webhooks/inapp", "zh", 2000)
    assert '<html lang="zh-CN">' in zh and 'for="input"' in zh and ">消息<" in zh and ">发送<" in zh
    assert 'role="log"' in zh and 'aria-live="polite"' in zh
    en = chat_page.page("/webhooks/inapp", "en", 2000)
    assert '<html lang="en">' in en and ">Message<" in en and ">Send<" in en
    assert chat_page.page("/x", "fr", 2000).startswith('<!DOCTYPE html>\n<html lang="zh-CN">')
    config = json.loads(
        re.search(r'<script type="application/json" id="chat-config">(.*?)</script>', zh, re.S).group(1)
    )
    assert config["maxChars"] == 2000 and config["officialDomains"] == ["qinghebank.com.cn"]
    assert config["strings"]["en"]["send"] == "Send"
    # Nothing in the settings can close the script element it sits in.
    assert "</" not in re.search(r'id="chat-config">(.*?)</script>', zh, re.S).group(1)
    assert "http://" not in zh and "https://" not in zh and "//" not in re.sub(r"<!--.*?-->", "", zh).replace("://", "")


def test_security_headers_allow_only_this_origin_and_the_configured_app_origins(monkeypatch) -> None:
    headers = chat_page.security_headers()
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "frame-ancestors 'self'" in policy
    assert "unsafe-inline" not in policy and headers["Cache-Control"] == "no-store"
    monkeypatch.setenv("CHAT_EMBED_ORIGINS", "https://app.qinghebank.com.cn/, https://m.qinghebank.com.cn")
    assert chat_page.embed_origins() == ("https://app.qinghebank.com.cn", "https://m.qinghebank.com.cn")
    assert (
        "frame-ancestors 'self' https://app.qinghebank.com.cn https://m.qinghebank.com.cn"
        in (chat_page.security_headers()["Content-Security-Policy"])
    )


def test_only_the_page_assets_are_served() -> None:
    assert chat_page.asset("chat.js") is not None and chat_page.asset("chat.css") is not None
    for name in ("chat.html", "../chat_page.py", "chat.js.map", ""):
        assert chat_page.asset(name) is None


def test_a_server_sent_event_is_one_json_line_with_its_number() -> None:
    event = sse("line", {"seq": 7, "text": "第一行\n第二行"}, 7)
    assert event == 'id: 7\nevent: line\ndata: {"seq": 7, "text": "第一行\\n第二行"}\n\n'
    assert sse("typing", {"who": "agent"}) == 'event: typing\ndata: {"who": "agent"}\n\n'


async def test_a_memory_notifier_wakes_each_stream_of_the_conversation_and_bounds_them() -> None:
    notifier = MemoryNotifier(max_streams=2)
    a, b = notifier.subscribe("customer:C1"), notifier.subscribe("customer:C1")
    other = notifier.subscribe("customer:C2")
    with pytest.raises(TooManyStreams):
        notifier.subscribe("customer:C1")
    await notifier.publish("customer:C1", {"type": "lines"})
    assert a.get_nowait() == b.get_nowait() == {"type": "lines"} and other.empty()
    notifier.unsubscribe("customer:C1", a)
    notifier.subscribe("customer:C1")  # a closed stream frees its place
    for _ in range(200):  # a reader that never reads does not block the writer
        await notifier.publish("customer:C2", {"type": "lines"})
    assert notifier.open_streams() == 3


async def test_redis_carries_a_notification_from_one_worker_to_a_stream_on_another() -> None:
    url = require_redis()
    publisher, listener = RedisNotifier(url), RedisNotifier(url)
    queue = listener.subscribe("customer:C1001")
    for _ in range(50):  # the subscription is being set up
        if listener.hears_other_processes:
            break
        await asyncio.sleep(0.05)
    assert listener.hears_other_processes
    await publisher.publish("customer:C1001", {"type": "typing", "who": "agent", "on": True})
    assert await asyncio.wait_for(queue.get(), timeout=2) == {"type": "typing", "who": "agent", "on": True}
    await publisher.publish("customer:C9999", {"type": "lines"})
    await asyncio.sleep(0.2)
    assert queue.empty()  # another conversation's news is not delivered here
    listener.unsubscribe("customer:C1001", queue)
    await asyncio.sleep(1.2)  # with no stream left the subscription closes
    assert not listener.hears_other_processes


async def test_a_notifier_whose_redis_is_down_still_wakes_its_own_streams() -> None:
    notifier = RedisNotifier("redis://127.0.0.1:1/0")
    queue = notifier.subscribe("customer:C1")
    await notifier.publish("customer:C1", {"type": "lines"})
    assert queue.get_nowait() == {"type": "lines"}
    assert not notifier.hears_other_processes  # streams look in the database more often meanwhile
    notifier.unsubscribe("customer:C1", queue)


def test_the_page_starts_a_new_chat_after_the_same_idle_time_as_rasa_starts_a_new_session() -> None:
    import yaml

    from bot.services.chat_log import idle_minutes
    from tests.integration.conftest import ROOT

    common = yaml.safe_load((ROOT / "domain" / "common.yml").read_text(encoding="utf-8"))
    assert idle_minutes() == common["session_config"]["session_expiration_time"]


def test_every_word_of_the_console_exists_in_both_languages_and_every_canned_reply_too() -> None:
    from bot.console.app import canned_replies, console_config

    words = console_config()["words"]
    assert set(words["zh"]) == set(words["en"])
    assert all(str(v).strip() for language in ("zh", "en") for v in words[language].values())
    for reply in canned_replies():
        assert re.search(r"[\u4e00-\u9fff]", reply["zh"]) and not re.search(r"[\u4e00-\u9fff]", reply["en"])
    templates = (chat_page.STATIC.parent.parent / "console" / "templates").glob("*.html")
    used = {m for path in templates for m in re.findall(r"\bw\.(\w+)", path.read_text(encoding="utf-8"))}
    used.discard("get")  # w.get(key, fallback)
    assert used <= set(words["zh"]), used - set(words["zh"])


def test_canned_replies_pass_the_compliance_guard() -> None:
    from bot.console.app import canned_replies
    from bot.domain.agent_guard import check_agent_message

    for reply in canned_replies():
        for language in ("zh", "en"):
            assert check_agent_message(reply[language], anonymous=True) == (), (reply["key"], language)
