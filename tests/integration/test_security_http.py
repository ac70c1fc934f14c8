"""Locked-down services, secrets never stored, abuse limits, fuzzing, and failure behaviour over HTTP."""

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from tests.conftest import POSTGRES_ADMIN_URL
from tests.integration.conftest import ACTION_TOKEN, ROOT

pytestmark = pytest.mark.servers
SERVER_OPTIONS = {
    "debug": True,
    "postgres": True,
    "env": {"RATE_LIMIT_PER_CONVERSATION": "8", "RATE_LIMIT_PER_IP": "400"},
}
SECRETS = ["482913", "4111111111111111", "11010519491231002X", "hunter2x"]


def test_the_action_server_refuses_calls_without_the_shared_token(bot):
    body = {
        "next_action": "action_tell_amount_due",
        "sender_id": "customer:C1001",
        "tracker": {"sender_id": "customer:C1001", "events": [], "slots": {}},
        "domain": {},
    }
    assert requests.post(f"{bot.action_url}/webhook", json=body, timeout=10).status_code == 401
    assert (
        requests.post(
            f"{bot.action_url}/webhook", json=body, headers={"Authorization": "Bearer wrong"}, timeout=10
        ).status_code
        == 401
    )
    assert requests.get(f"{bot.action_url}/health", timeout=10).status_code == 200
    assert (
        requests.get(
            f"{bot.action_url}/actions", headers={"Authorization": f"Bearer {ACTION_TOKEN}"}, timeout=10
        ).status_code
        == 200
    )


def test_the_action_server_answers_from_its_own_domain_when_rasa_sends_none(bot):
    """endpoints.yml turns Rasa's domain off (enable_selective_domain); the texts must not suffer."""
    body = {
        "next_action": "action_ask_ext_option",
        "sender_id": "customer:C1001",
        "tracker": {
            "sender_id": "customer:C1001",
            "events": [],
            "slots": {"language": "en", "customer_id": "C1001"},
            "latest_message": {},
        },
        "version": "3.6.21",
    }
    reply = requests.post(
        f"{bot.action_url}/webhook", json=body, headers={"Authorization": f"Bearer {ACTION_TOKEN}"}, timeout=10
    )
    assert reply.status_code == 200, reply.text
    [message] = reply.json()["responses"]
    titles = [b["title"] for b in message["buttons"]]
    assert titles and all(titles), titles  # rendered from the domain/ responses, in English
    assert any("day" in t.lower() for t in titles) and any("month" in t.lower() for t in titles), titles


def test_volunteered_secrets_are_warned_about_and_never_reach_the_tracker_store_or_the_logs(bot):
    replies = bot.say(
        "我的验证码是482913，卡号4111111111111111，身份证11010519491231002X，密码是hunter2x", customer="C1001"
    )
    assert "不要" in replies[0]["text"] and "验证码" in replies[0]["text"]
    english = bot.say("my verification code is 482913", sender="anon_secret_probe")
    assert "never send verification codes" in english[0]["text"]
    time.sleep(0.5)
    stored = (bot.log_dir / "trackers.db").read_bytes()
    assert b"customer:C1001" in stored  # the conversation was stored...
    logs = (bot.log_dir / "rasa-debug.log").read_text(encoding="utf-8", errors="replace")
    for secret in SECRETS:  # ...without any of the secrets, in the store or the debug logs
        assert secret.encode() not in stored and secret not in logs
    assert "****" in stored.decode("utf-8", errors="replace")


def test_phone_numbers_are_masked_in_the_logs(bot):
    bot.say("我的手机号13912345678一直收到短信", sender="anon_phone_probe")
    time.sleep(0.5)
    logs = (bot.log_dir / "rasa-debug.log").read_text(encoding="utf-8", errors="replace")
    assert "13912345678" not in logs and "139****5678" in logs


def test_a_flooding_conversation_gets_429_with_a_json_error(bot):
    # The limits count in fixed one-minute windows: 12 requests that straddle a minute would be
    # counted in two (a loaded CI machine answers each in up to a second or two). Start in a fresh one.
    into_minute = time.time() % 60
    if into_minute > 30:
        time.sleep(60.5 - into_minute)
    statuses = []
    for k in range(12):
        r = requests.post(bot.url, json={"message": f"hi {k}", "sender": "anon_flooder_1"}, timeout=30)
        statuses.append(r.status_code)
    assert statuses[:8] == [200] * 8 and set(statuses[8:]) == {429}
    assert "error" in requests.post(bot.url, json={"message": "hi", "sender": "anon_flooder_1"}, timeout=10).json()
    assert requests.post(bot.url, json={"message": "hi", "sender": "anon_other_person"}, timeout=30).status_code == 200


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=300),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5),
    max_leaves=30,
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    body=st.one_of(
        st.binary(max_size=3000),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries({"message": st.text(max_size=2100), "sender": st.text(max_size=70)}).map(
            lambda v: json.dumps(v).encode()
        ),
    ),
    # Printable ASCII that an HTTP client can send at all (requests refuses a value with leading whitespace).
    authorization=st.one_of(
        st.none(), st.text(max_size=200).filter(lambda t: t.isprintable() and t.isascii() and not t[:1].isspace())
    ),
)
def test_fuzzed_requests_never_get_a_5xx(bot, body, authorization):
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    reply = requests.post(bot.url, data=body, headers=headers, timeout=30)
    assert reply.status_code < 500, (body[:200], authorization, reply.text[:200])


def test_deeply_nested_and_huge_json_is_refused_cleanly_and_the_server_still_answers(bot):
    for body in (
        b"[" * 50000 + b"]" * 50000,
        json.dumps({"message": "x" * 100_000, "sender": "anon_huge_body"}).encode(),
    ):
        assert requests.post(
            bot.url, data=body, headers={"Content-Type": "application/json"}, timeout=30
        ).status_code in (400, 413)
    assert bot.say("你好", sender="anon_after_fuzz")[0]["text"]


def test_production_mode_with_development_secrets_refuses_to_start():
    env = {**os.environ, "BOT_ENV": "production", "BOT_JWT_SECRET": "", "ACTION_SERVER_TOKEN": ""}
    result = subprocess.run(
        [sys.executable, "-m", "bot.rasa_ext.action_server", "--port", "1"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        result.returncode != 0
        and "Refusing to start in production mode" in result.stderr
        and "BOT_JWT_SECRET" in result.stderr
    )


def test_when_the_database_is_unreachable_the_customer_gets_an_apology_and_others_are_served(bot):
    name = bot.database_url.rsplit("/", 1)[1]
    admin = create_engine(POSTGRES_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # stop the database for the bot: no new connections, existing ones cut
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
    try:
        text_ = bot.text(bot.say("how much do I owe?", customer="C1006"))
        assert "can't look up your loans right now" in text_ and "400-888-0000" in text_
        assert bot.text(bot.say("hello", sender="anon_db_down"))
        # Asking for a person still works: with no ticket possible, the hotline.
        person = bot.text(bot.say("I want to talk to a real person", customer="C1003"))
        assert "can't open a ticket" in person and "400-888-0000" in person
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()
    assert "2,600.00" in bot.text(bot.say("how much do I owe?", customer="C1006"))
    assert "nothing overdue" in bot.text(bot.say("how much do I owe?", customer="C1003"))  # not paused, not stuck


def test_when_the_action_server_is_down_the_customer_gets_an_apology(bot):
    bot.processes["actions"].terminate()
    bot.processes["actions"].wait(timeout=20)
    text = bot.text(bot.say("我欠多少钱", customer="C1004"))
    assert "系统暂时无法" in text or "400-888-0000" in text
    # The server keeps serving everything that needs no action.
    assert bot.text(bot.say("hello", sender="anon_still_served"))


def test_when_the_action_server_hangs_the_channel_stops_waiting_and_apologises(bot):
    # The channel gives up after REPLY_TIMEOUT_SECONDS (4.5 s); the fake server would answer after 15 s.
    port = int(bot.action_url.rsplit(":", 1)[1])

    class Hang(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            time.sleep(15)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Hang)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        text = bot.text(bot.say("how much do I owe?", customer="C1005"))
        assert time.monotonic() - started < 15  # cut short by the channel, not by the hanging server
        assert "400-888-0000" in text
    finally:
        server.shutdown()
        server.server_close()
