"""Two Rasa servers with endpoints.scaled.yml (conversations and locks in Redis), and with its
PostgreSQL variant (conversations in PostgreSQL, locks in Redis).

Concurrent messages to one conversation, spread over both servers, must each be processed
once and whole: every message stored once, each followed by its own answers before the next
message starts (rasa issue 9213 loses or interleaves them with Rasa's RedisLockStore).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
from sqlalchemy import create_engine, text

from bot import db
from bot.services import chat_log
from bot.tokens import mint
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.conftest import REDIS_TEST_URL, TODAY, require_redis, seeded_postgres
from tests.integration import rabbit
from tests.integration.conftest import (
    ACTION_TOKEN,
    AGENT_TOKEN,
    BIN,
    ROOT,
    SECRET,
    _wait,
    free_port,
    latest_model,
    stop,
)
from tests.integration.test_chat_http import Stream

REDIS_URL = REDIS_TEST_URL
MESSAGES = [
    "罚息怎么算",
    "how do I repay",
    "我现在欠多少钱",
    "will this affect my credit report",
    "怎么设置自动还款",
    "how much do I owe?",
    "逾期会影响征信吗",
    "how is the late fee calculated",
]


@pytest.fixture(scope="module", params=["redis", "postgresql"])
def servers(request, tmp_path_factory) -> Iterator[dict]:
    require_redis()
    model = latest_model()
    work = tmp_path_factory.mktemp("scaled")
    with seeded_postgres("bot_scaled") as url:
        db.dispose_all()
        yield from _start(request.param, work, url, model)


def _start(store: str, work: Path, url: str, model: Path) -> Iterator[dict]:
    """An action server and two Rasa servers on the shared stores; stopped afterwards."""

    endpoints = ROOT / "endpoints.scaled.yml"
    if store == "postgresql":
        endpoints = work / "endpoints.yml"
        endpoints.write_text(
            (ROOT / "endpoints.scaled.yml")
            .read_text(encoding="utf-8")
            .replace(
                "type: bot.rasa_ext.tracker_store.RedisEventTrackerStore",
                "type: bot.rasa_ext.tracker_store.UrlSQLTrackerStore",
            )
            .replace("url: ${REDIS_URL}\n  key_prefix: bot\n", "url: ${TRACKER_STORE_URL}\n", 1),
            encoding="utf-8",
        )
        assert "UrlSQLTrackerStore\n  url: ${TRACKER_STORE_URL}" in endpoints.read_text(encoding="utf-8")
    redis.Redis.from_url(REDIS_URL).delete("bot:events:customer:C1001", "bot:session:customer:C1001")
    action_port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"HANDOFF_WEBHOOK_URL", "SANIC_WORKERS"}},
        "DATABASE_URL": url,
        "TRACKER_STORE_URL": url.replace("+psycopg2", ""),
        "REDIS_URL": REDIS_URL,
        "BOT_TODAY": TODAY.isoformat(),
        "BOT_JWT_SECRET": SECRET,
        "ACTION_PORT": str(action_port),
        "ACTION_SERVER_TOKEN": ACTION_TOKEN,
        "AGENT_API_TOKEN": AGENT_TOKEN,
        "SANIC_HOST": "127.0.0.1",
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    # The scaled set-up publishes every event to RabbitMQ: into a queue of this module's own, deleted after.
    queue, exchange = rabbit.unique_names("scaled")
    env.update({"ANALYTICS_QUEUE": queue, "ANALYTICS_EXCHANGE": exchange})
    processes: list[tuple[subprocess.Popen, str, Path]] = []
    log = work / "actions.log"
    with log.open("w") as out:
        action = subprocess.Popen(
            [sys.executable, "-m", "bot.rasa_ext.action_server", "--port", str(action_port), "--domain", "domain"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    processes.append((action, f"http://127.0.0.1:{action_port}/health", log))
    webhooks = []
    for k in range(2):
        port, log = free_port(), work / f"rasa{k}.log"
        with log.open("w") as out:
            server = subprocess.Popen(
                [str(BIN / "rasa"), "run", "--interface", "127.0.0.1", "--port", str(port), "--credentials",
                 "credentials.yml", "--endpoints", str(endpoints), "--model", str(model)],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        processes.append((server, f"http://127.0.0.1:{port}/webhooks/inapp/", log))
        webhooks.append(f"http://127.0.0.1:{port}/webhooks/inapp/webhook")
    try:
        for process, health, log in processes:
            _wait(health, process, log)
        yield {"webhooks": webhooks, "database_url": url, "store": store}
    finally:
        stop([process for process, _, _ in processes])
        rabbit.delete(queue, exchange)


def stored_events(servers: dict, sender: str) -> list[dict]:
    if servers["store"] == "redis":
        return [json.loads(e) for e in redis.Redis.from_url(REDIS_URL).lrange(f"bot:events:{sender}", 0, -1)]
    engine = create_engine(servers["database_url"], future=True)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"), {"s": sender}
            ).scalars()
            return [json.loads(r) for r in rows]
    finally:
        engine.dispose()


def test_concurrent_messages_to_one_conversation_across_two_servers_are_each_handled_once_and_whole(servers):
    customer = "C1001"
    headers = {"Authorization": f"Bearer {mint(customer, SECRET)}"}
    # The conversation exists before the burst (as in the app: the customer has opened the chat).
    first = requests.post(servers["webhooks"][0], json={"message": "你好"}, headers=headers, timeout=30)
    assert first.status_code == 200 and first.json()

    replies: dict[str, list[dict]] = {}
    start = threading.Barrier(len(MESSAGES))

    def send(k: int, message: str) -> None:
        start.wait()
        reply = requests.post(servers["webhooks"][k % 2], json={"message": message}, headers=headers, timeout=30)
        assert reply.status_code == 200, reply.text
        replies[message] = reply.json()

    threads = [threading.Thread(target=send, args=(k, m)) for k, m in enumerate(MESSAGES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(replies) == set(MESSAGES)
    for message, answer in replies.items():
        apology = [
            m for m in answer if "系统暂时无法" in m["text"] or "can't look up your loans right now" in m["text"]
        ]
        assert answer and not apology, (message, answer)

    events = stored_events(servers, f"customer:{customer}")
    user_texts = [e["text"] for e in events if e["event"] == "user"]
    assert sorted(user_texts) == sorted(["你好", *MESSAGES])  # each message stored exactly once
    # Each message's turn is whole: the next user message comes only after the bot listened again.
    for k, event in enumerate(events):
        if event["event"] == "user" and k > 0:
            previous_action = next(e for e in reversed(events[:k]) if e["event"] == "action")
            assert previous_action["name"] == "action_listen", (event["text"], previous_action)
    # And the answers stored are the answers each sender received, turn by turn.
    turns: dict[str, list[str]] = {}
    current = None
    for event in events:
        if event["event"] == "user":
            current = event["text"]
            turns[current] = []
        elif event["event"] == "bot" and current is not None:
            turns[current].append(event.get("text") or "")
    for message in MESSAGES:
        assert turns[message] == [m.get("text") or "" for m in replies[message] if m.get("from") is None], message

    # The chat page's lines of this burst: numbered once each, none skipped, whichever server wrote them.
    lines = chat_log.lines_after(lambda: SqlAlchemyUnitOfWork(servers["database_url"]), f"customer:{customer}", 0, 1000)
    assert [line.seq for line in lines] == list(range(1, len(lines) + 1))
    assert sorted(line.text for line in lines if line.kind == "user") == sorted(["你好", *MESSAGES])


class _Bot:
    """What tests.integration.test_chat_http.Stream needs to reach one of the servers."""

    def __init__(self, webhook: str) -> None:
        self.base = webhook.rsplit("/webhooks/", 1)[0]


def test_a_page_streaming_from_one_server_sees_an_agent_message_posted_to_the_other(servers):
    customer = "C1006"
    # A conversation of this database's seed only (Redis outlives a module's database).
    redis.Redis.from_url(REDIS_URL).delete(f"bot:events:customer:{customer}", f"bot:session:customer:{customer}")
    headers = {"Authorization": f"Bearer {mint(customer, SECRET)}"}
    assert requests.post(servers["webhooks"][0], json={"message": "转人工"}, headers=headers, timeout=30).ok
    first, second = (_Bot(w) for w in servers["webhooks"])
    stream = Stream(first, headers, after=0)
    try:
        replayed = stream.lines(1)
        assert replayed[0]["text"] == "转人工"
        time.sleep(0.5)  # the stream has caught up with the stored lines and waits for news
        while not stream.events.empty():
            stream.events.get_nowait()
        started = time.monotonic()
        posted = requests.post(
            f"{second.base}/webhooks/inapp/agent/messages",
            json={"conversation_id": f"customer:{customer}", "text": "您好，我是另一台服务器上的客服。"},
            headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
            timeout=10,
        )
        assert posted.status_code == 200
        arrived = stream.lines(1, timeout=3)
        while arrived[-1]["kind"] != "agent":  # "agent joined" comes first when the chat waited for a person
            arrived += stream.lines(1, timeout=3)
        assert time.monotonic() - started < 1.0  # by Redis pub/sub, not by the stream's next database look
        assert arrived[-1]["text"] == "您好，我是另一台服务器上的客服。"
        assert [line["status"] for line in arrived[:-1]] in ([], ["agent_joined"])
    finally:
        stream.close()
