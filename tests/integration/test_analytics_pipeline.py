"""The analytics event pipeline end to end: Rasa (the scaled set-up's RabbitMQ broker) -> RabbitMQ ->
``python -m bot analytics consume`` -> PostgreSQL, and ``reconcile`` from the tracker store; plus the
embedded set-up's consumer of Rasa's SQL event broker table.

Every test uses queues and exchanges of its own (deleted afterwards), so neither other tests nor a
`make run-scaled` on this machine see its messages. The RabbitMQ restart test always starts RabbitMQ
again, whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.analytics.events import event_key
from bot.analytics.metrics import conversation_figures, sessions_of
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.conftest import TODAY
from tests.integration import rabbit
from tests.integration.conftest import ROOT, Bot, free_port

QUEUE, EXCHANGE = rabbit.unique_names("pipeline")
SERVER_OPTIONS = {
    "postgres": True,  # the analytics tables live in the bank's database; a test makes it unreachable
    "event_broker": "event_broker:\n  type: bot.rasa_ext.event_broker.UrlPikaEventBroker\n",
    "env": {"ANALYTICS_QUEUE": QUEUE, "ANALYTICS_EXCHANGE": EXCHANGE, "RABBITMQ_URL": rabbit.RABBITMQ_TEST_URL},
}
APOLOGY = ("系统暂时无法", "can't look up your loans right now", "something went wrong")


@pytest.fixture(scope="module", autouse=True)
def _rabbitmq() -> Iterator[None]:
    """Set up before the servers, so torn down after them: the module's queue goes when nobody uses it."""
    rabbit.require_rabbitmq()
    yield
    rabbit.delete(QUEUE, EXCHANGE)


class Consumer:
    """``python -m bot analytics consume`` as a process, logging to a file."""

    def __init__(self, database_url: str, queue: str, log: Path, exchange: str | None = None) -> None:
        self.log = log
        with log.open("a") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "analytics", "consume", "--queue", queue,
                 "--exchange", exchange or f"{queue}_x", "--max-wait", "0.2", "--max-backoff", "1"],
                cwd=ROOT, env={**os.environ, "DATABASE_URL": database_url, "BOT_TODAY": TODAY.isoformat(),
                               "RABBITMQ_URL": rabbit.RABBITMQ_TEST_URL},
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; returns the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=20)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def consumer(bot: Bot) -> Iterator[Consumer]:
    """The module's consumer of the queue the Rasa server publishes to."""
    running = Consumer(bot.database_url, QUEUE, bot.log_dir / "consumer.log", EXCHANGE)
    yield running
    if running.process.poll() is None:
        running.stop()


def query(url: str, sql: str, **params: object) -> list[tuple]:
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def stored(bot: Bot, conversations: list[str]) -> list[tuple]:
    """(conversation, event_type, name, text, event_key) of the stored events of these conversations, in time order."""
    return query(
        bot.database_url,
        "SELECT conversation_id, event_type, name, text, event_key FROM analytics_events "
        "WHERE conversation_id IN :c ORDER BY at, id",
        c=tuple(conversations),
    )


def tracker_events(bot: Bot, conversations: list[str]) -> list[dict]:
    """Every event of these conversations in the SQL tracker store, with its sender id (as the broker carries it)."""
    rows = query(f"sqlite:///{bot.log_dir / 'trackers.db'}", "SELECT sender_id, data FROM events ORDER BY id")
    return [{**json.loads(data), "sender_id": sender} for sender, data in rows if sender in conversations]


def wait_for(condition: Callable[[], bool], timeout: float, what: str, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def caught_up(bot: Bot, conversations: list[str]) -> Callable[[], bool]:
    return lambda: len(stored(bot, conversations)) >= len(tracker_events(bot, conversations))


def reconcile(bot: Bot) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "analytics", "reconcile", "--tracker-store-url", f"sqlite:///{bot.log_dir / 'trackers.db'}"],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": bot.database_url}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def answered(bot: Bot, message: str, **who: str) -> None:
    reply = bot.say(message, **who)
    assert reply and not any(a in (m.get("text") or "") for m in reply for a in APOLOGY), (message, reply)


def synthetic(sender: str, n: int, start: int = 0) -> list[bytes]:
    return [
        json.dumps({"sender_id": sender, "event": "user", "timestamp": 1796170000.0 + k, "text": f"synthetic {k}",
                    "parse_data": {"intent": {"name": "greet", "confidence": 0.5}}}).encode()
        for k in range(start, start + n)
    ]  # fmt: skip


def count_of(bot: Bot, sender: str) -> int:
    return query(bot.database_url, "SELECT count(*) FROM analytics_events WHERE conversation_id = :s", s=sender)[0][0]


CONVERSATIONS = {
    "customer:C1001": [("你好", "greet"), ("我现在欠多少钱", "ask_amount_due")],
    "customer:C1003": [("how much do I owe?", "ask_amount_due")],
    "visitor:pipeline_visitor_1": [("how do I repay", "ask_how_to_repay"), ("how is the late fee calculated", "ask_late_fee_rule")],
}  # fmt: skip


@pytest.mark.servers
@pytest.mark.postgres
def test_known_conversations_over_http_produce_exactly_the_expected_rows(bot: Bot, consumer: Consumer) -> None:
    for conversation, turns in CONVERSATIONS.items():
        who = {"customer": conversation[9:]} if conversation.startswith("customer:") else {"sender": conversation[8:]}
        for message, _ in turns:
            answered(bot, message, **who)
    answered(bot, "我的验证码是 482913，卡号 6222021234567890128", customer="C1003")
    conversations = list(CONVERSATIONS)
    wait_for(caught_up(bot, conversations), 30, "the consumer to store every event")

    rows = stored(bot, conversations)
    expected = tracker_events(bot, conversations)
    # Exactly the tracker store's events: the same count of each type per conversation, the same keys, no more.
    assert Counter((r[0], r[1]) for r in rows) == Counter((e["sender_id"], e["event"]) for e in expected)
    assert sorted(r[4] for r in rows) == sorted(event_key(e) for e in expected)
    for conversation, turns in CONVERSATIONS.items():
        users = [(r[3], r[2]) for r in rows if r[0] == conversation and r[1] == "user"]
        if conversation == "customer:C1003":
            assert users[0] == turns[0] and len(users) == 2
            assert "482913" not in users[1][0] and "6222021234567890" not in users[1][0]
        else:
            assert users == turns
    assert {r[0]: r[1] for r in query(bot.database_url, "SELECT DISTINCT conversation_id, verified FROM analytics_events")} == {
        "customer:C1001": True, "customer:C1003": True, "visitor:pipeline_visitor_1": False
    }  # fmt: skip
    assert {r[0] for r in query(bot.database_url, "SELECT DISTINCT source FROM analytics_events")} == {"pika"}
    assert "session_started" in {r[1] for r in rows} and "action" in {r[1] for r in rows}

    # The figures of docs/analytics.md over what the pipeline stored for these conversations.
    with SqlAlchemyUnitOfWork(bot.database_url) as uow:
        events = [
            e
            for e in uow.reports.events_between(dt.datetime(2000, 1, 1), dt.datetime(2100, 1, 1))
            if e["conversation_id"] in conversations
        ]
    now = max(e["at"] for e in events) + dt.timedelta(minutes=1)
    got = {(f.metric, f.split): f.value for f in conversation_figures(sessions_of(events), now, dt.timedelta(hours=1))}
    assert got[("engaged_sessions", "all")] == 3
    assert got[("engaged_sessions", "verified")] == 2 and got[("engaged_sessions", "anonymous")] == 1
    # A session's language is the last its language slot took: C1003's last message was in Chinese.
    assert {s.conversation_id: s.language for s in sessions_of(events)} == {
        "customer:C1001": "zh", "customer:C1003": "zh", "visitor:pipeline_visitor_1": "en"
    }  # fmt: skip
    assert got[("engaged_sessions", "language=en")] == 1 and got[("engaged_sessions", "language=zh")] == 2
    assert got[("user_messages", "all")] == 6 and got[("containment_rate", "all")] == 1.0
    # The message that gave away a code and a card number matched no intent (the secret guard answers it).
    assert got[("fallback_rate", "all")] == round(1 / 6, 4) and got[("escalation_rate", "all")] == 0.0


@pytest.mark.servers
@pytest.mark.postgres
def test_a_redelivered_copy_of_every_event_and_two_reconciles_change_nothing(bot: Bot, consumer: Consumer) -> None:
    before = query(bot.database_url, "SELECT count(*), max(id) FROM analytics_events")[0]
    # What a consumer that committed but died before acknowledging gets again: the same messages.
    rabbit.publish(QUEUE, [json.dumps(e).encode() for e in tracker_events(bot, list(CONVERSATIONS))])
    wait_for(lambda: rabbit.depth(QUEUE) == 0, 20, "the redelivered copies to be consumed")
    time.sleep(0.5)  # the last batch's commit
    assert query(bot.database_url, "SELECT count(*), max(id) FROM analytics_events")[0] == before
    for _ in range(2):
        assert "0 new event(s)" in reconcile(bot)
    assert query(bot.database_url, "SELECT count(*), max(id) FROM analytics_events")[0] == before

    # Events the broker never delivered (here: rows removed) are exactly what reconcile adds.
    lost = query(
        bot.database_url,
        "SELECT event_key FROM analytics_events WHERE conversation_id = 'customer:C1001' ORDER BY id LIMIT 5",
    )
    query_lost = tuple(k for (k,) in lost)
    engine = create_engine(bot.database_url, future=True)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM analytics_events WHERE event_key IN :k"), {"k": query_lost})
    engine.dispose()
    assert "5 new event(s)" in reconcile(bot)
    assert query(bot.database_url, "SELECT count(*) FROM analytics_events")[0][0] == before[0]
    restored = query(bot.database_url, "SELECT event_key FROM analytics_events WHERE source = 'reconcile'")
    assert sorted(k for (k,) in restored) == sorted(query_lost)
    assert "0 new event(s)" in reconcile(bot)


@pytest.mark.servers
@pytest.mark.postgres
def test_a_consumer_killed_mid_stream_loses_and_doubles_nothing(bot: Bot) -> None:
    queue, _ = rabbit.unique_names("killed")
    sender = "visitor:killed_consumer_1"
    try:
        rabbit.publish(queue, synthetic(sender, 10_000))
        first = Consumer(bot.database_url, queue, bot.log_dir / "killed.log")
        wait_for(lambda: count_of(bot, sender) > 0, 20, "the first batches", every=0.02)
        first.kill()  # SIGKILL: no clean-up; what it had not acknowledged goes back to the queue
        assert 0 < count_of(bot, sender) < 10_000
        second = Consumer(bot.database_url, queue, bot.log_dir / "killed.log")
        wait_for(lambda: count_of(bot, sender) == 10_000 and rabbit.depth(queue) == 0, 90, "the rest")
        assert second.stop() == 0
        assert count_of(bot, sender) == 10_000
    finally:
        rabbit.delete(queue, f"{queue}_x")


@pytest.mark.servers
@pytest.mark.postgres
def test_with_rabbitmq_stopped_mid_traffic_the_bot_answers_and_after_reconcile_no_event_is_missing(
    bot: Bot, consumer: Consumer
) -> None:
    conversations = ["customer:C1005", "visitor:outage_visitor_1"]

    def talk(k: int) -> None:
        answered(
            bot, ["你好", "how do I repay", "罚息怎么算", "will this affect my credit report"][k % 4], customer="C1005"
        )
        answered(bot, ["how much is the late fee", "怎么还款", "hello"][k % 3], sender="outage_visitor_1")

    talk(0)
    try:
        rabbit.stop_app()
        for k in range(1, 4):
            talk(k)  # every message answered while RabbitMQ is down
    finally:
        rabbit.start_app()
    talk(4)
    with contextlib.suppress(AssertionError):  # whatever the broker lost, reconcile must find
        wait_for(caught_up(bot, conversations), 30, "the consumer to catch up after the restart")
    report = reconcile(bot)
    print(report)
    expected = sorted(event_key(e) for e in tracker_events(bot, conversations))
    assert sorted(r[4] for r in stored(bot, conversations)) == expected
    assert consumer.process.poll() is None  # the consumer rode out the restart
    assert "0 new event(s)" in reconcile(bot)


@pytest.mark.servers
@pytest.mark.postgres
def test_a_poison_message_is_set_apart_and_the_next_good_one_stored(bot: Bot, consumer: Consumer) -> None:
    sender = "visitor:after_poison_1"
    rabbit.publish(
        QUEUE, [b"\xffnot json {", b'{"event": "user", "timestamp": 1}', b"[1, 2, 3]", *synthetic(sender, 1)]
    )
    wait_for(lambda: count_of(bot, sender) == 1, 20, "the good message after the poison")
    reasons = {r[0] for r in query(bot.database_url, "SELECT reason FROM analytics_rejects WHERE source = 'pika'")}
    assert "sender_id missing or not a string" in reasons and "not a JSON object" in reasons
    assert any(r.startswith("not JSON") for r in reasons)
    wait_for(lambda: rabbit.depth(QUEUE) == 0, 5, "the queue to be empty")


@pytest.mark.servers
@pytest.mark.postgres
def test_while_postgresql_is_unreachable_messages_wait_in_the_queue_and_drain_after(bot: Bot) -> None:
    queue, _ = rabbit.unique_names("outage")
    sender = "visitor:db_outage_1"
    database = bot.database_url.rsplit("/", 1)[1]
    admin = create_engine(bot.database_url.rsplit("/", 1)[0] + "/test", future=True, isolation_level="AUTOCOMMIT")
    try:
        # A database on a port where nothing listens: the consumer never stores, the messages stay queued.
        nowhere = Consumer(
            f"postgresql+psycopg2://postgres@127.0.0.1:{free_port()}/{database}", queue, bot.log_dir / "outage.log"
        )
        rabbit.publish(queue, synthetic(sender, 500))
        wait_for(lambda: "database unreachable" in nowhere.output(), 20, "the consumer to find the database down")
        time.sleep(1)
        assert nowhere.process.poll() is None  # it waits, it does not die
        assert nowhere.stop() == 0  # and stops cleanly on SIGTERM, acknowledging nothing
        assert rabbit.depth(queue) == 500 and count_of(bot, sender) == 0

        # Now the real database, which goes away under the running consumer and comes back.
        # A log of its own: the outage below must be noticed by this consumer, not found in the one above.
        running = Consumer(bot.database_url, queue, bot.log_dir / "outage-running.log")
        wait_for(lambda: count_of(bot, sender) == 500 and rabbit.depth(queue) == 0, 30, "the queue to drain")
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"), {"d": database}
            )
        try:
            rabbit.publish(queue, synthetic(sender, 300, start=500))
            wait_for(lambda: running.output().count("database unreachable") >= 2, 20, "the outage to be noticed")
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true'))
        # The consumer's back-off is at most 10 s (ConsumerOptions.max_backoff); then 300 events to store.
        try:
            wait_for(lambda: count_of(bot, sender) == 800 and rabbit.depth(queue) == 0, 60, "the queue to drain again")
        except AssertionError as exc:  # say what the consumer did meanwhile
            raise AssertionError(
                f"{exc}; stored {count_of(bot, sender)}; consumer log: {running.output()[-2000:]}"
            ) from None
        assert running.stop() == 0
    finally:
        admin.dispose()
        rabbit.delete(queue, f"{queue}_x")


def test_the_embedded_consumer_reads_rasas_sql_broker_table_once_and_resumes_after_its_cursor(
    sqlite_url: str, tmp_path: Path
) -> None:
    from bot.rasa_ext.event_broker import UrlSQLEventBroker

    events_url = f"sqlite:///{tmp_path / 'events.db'}"
    broker = UrlSQLEventBroker(events_url)
    for body in synthetic("visitor:embedded_1", 450):
        broker.publish(json.loads(body))
    broker.publish({"sender_id": "visitor:embedded_1", "event": "user"})  # no timestamp: a reject

    def consume() -> str:
        result = subprocess.run(
            [sys.executable, "-m", "bot", "analytics", "consume", "--from-sql", events_url, "--once"],
            cwd=ROOT, env={**os.environ, "DATABASE_URL": sqlite_url}, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "3 batch(es): 450 new event(s), 0 already stored, 1 rejected" in consume()
    assert "0 batch(es)" in consume()  # the cursor: nothing is read twice
    for body in synthetic("visitor:embedded_1", 10, start=450):
        broker.publish(json.loads(body))
    assert "1 batch(es): 10 new event(s)" in consume()
    assert query(sqlite_url, "SELECT count(*), min(source), max(source) FROM analytics_events")[0] == (
        460,
        "sql",
        "sql",
    )
    assert query(sqlite_url, "SELECT last_id FROM analytics_cursor")[0][0] == 461


def test_rasas_broker_starts_with_rabbitmq_down_keeps_the_events_and_publishes_them_once_it_is_back() -> None:
    """Rasa's own broker would retry for 100 s and then refuse to start; the bot must answer regardless."""
    from rasa.utils.endpoints import EndpointConfig

    from bot.rasa_ext.event_broker import UrlPikaEventBroker

    queue, exchange = rabbit.unique_names("down_at_start")

    async def scenario() -> UrlPikaEventBroker:
        config = EndpointConfig(url=rabbit.RABBITMQ_TEST_URL, queues=[queue], exchange_name=exchange)
        started = time.monotonic()
        broker = await UrlPikaEventBroker.from_endpoint_config(config)
        assert broker is not None and time.monotonic() - started < 1  # no waiting for RabbitMQ
        for body in synthetic("visitor:down_at_start", 5):
            broker.publish(json.loads(body))
        await asyncio.sleep(0.5)
        assert len(broker._unpublished_events) == 5  # kept, not dropped
        await asyncio.to_thread(rabbit.start_app)
        deadline = time.monotonic() + 40
        while await asyncio.to_thread(_depth_or_zero, queue) < 5:
            assert time.monotonic() < deadline, "the kept events were not published"
            await asyncio.sleep(0.5)
        await broker.close()
        return broker

    try:
        rabbit.stop_app()
        broker = asyncio.run(scenario())
        assert not broker._unpublished_events
        assert rabbit.depth(queue) == 5
    finally:
        rabbit.start_app()
        rabbit.delete(queue, exchange)


def _depth_or_zero(queue: str) -> int:
    try:
        return rabbit.depth(queue)
    except Exception:  # not declared yet
        return 0


def test_reconcile_reads_the_redis_tracker_store_and_only_events_since_the_given_time(sqlite_url: str) -> None:
    import redis

    from tests.conftest import require_redis

    prefix = f"test_reconcile_{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(require_redis())
    # As RedisEventTrackerStore keeps them: the event JSON without sender_id, one list per conversation.
    old = {"event": "user", "timestamp": 1700000000.0, "text": "old", "parse_data": {"intent": {"name": "greet"}}}
    new = [{**old, "timestamp": 1796170000.0 + k, "text": f"new {k}"} for k in range(3)]
    client.rpush(f"{prefix}:events:customer:C1001", *(json.dumps(e) for e in [old, *new]))
    client.rpush(f"{prefix}:events:visitor:redis_visitor_1", json.dumps({**old, "timestamp": 1796170100.0}))

    def run(*extra: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "bot", "analytics", "reconcile", "--tracker-store-url", require_redis(),
             "--key-prefix", prefix, *extra],
            cwd=ROOT, env={**os.environ, "DATABASE_URL": sqlite_url}, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout

    try:
        # 1796170000 is 2026-12-02 00:06:40 UTC, 08:06:40 in Shanghai: --since is bank time.
        assert "4 new event(s)" in run("--since", "2026-12-02T08:00")
        assert "0 new event(s), 4 already stored" in run("--since", "2026-12-02T08:00")
        assert "1 new event(s), 4 already stored" in run()  # without --since, the old one too
    finally:
        client.delete(f"{prefix}:events:customer:C1001", f"{prefix}:events:visitor:redis_visitor_1")
    stored = query(sqlite_url, "SELECT conversation_id, text, source FROM analytics_events ORDER BY at")
    assert stored[0] == ("customer:C1001", "old", "reconcile")
    assert {r[0] for r in stored} == {"customer:C1001", "visitor:redis_visitor_1"} and len(stored) == 5
