"""The analytics event pipeline: consumer throughput, and what the event broker costs Rasa.

    python bench/analytics_throughput.py [--events 20000] [--seconds 15] [--no-rasa]

1. Consumer: ``--events`` synthetic events shaped like Rasa's (a turn is user + user_featurization +
   action + slot + bot + action_listen, texts and intent rankings as the bot produces them, over
   500 conversations) are put in a fresh RabbitMQ queue, then ``python -m bot analytics consume``
   drains it into a fresh PostgreSQL database (batches of 200). Timed from the consumer's first
   stored row to its last; the consumer's CPU is read from /proc. Then the same events again (what a
   replay or a redelivery costs: every one a duplicate).
2. Rasa: the action server and one Rasa process (in-memory conversations, as ``make run``) four
   times side by side, without an event broker, with the scaled set-up's RabbitMQ broker (and its
   consumer running), with the embedded set-up's SQL broker, and with Rasa's stock SQL broker; driven
   by bench/run.py's conversations at 1 and at 20 concurrent conversations, ``--seconds`` each, taking
   turns for ``--rounds`` rounds.
   Server CPU per message (Rasa + action server, from /proc) is the broker's cost where latency
   hides it. Before that, each broker's ``publish`` alone, in this process: CPU per event.

Prints a markdown table. Needs RabbitMQ, PostgreSQL and a trained model (models/).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench.run as load_run  # noqa: E402
from bench.run import ADMIN_URL, SECRET, TODAY, Stack, cpu_seconds, fresh_database  # noqa: E402
from bench.service_latency import percentile  # noqa: E402
from bot import db  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.seed import load_demo, load_synthetic  # noqa: E402

RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
INTENTS = ["ask_amount_due", "ask_how_to_repay", "ask_late_fee_rule", "greet", "ask_credit_impact", "verify_sms"]
TEXTS = [
    "我现在欠多少钱",
    "how do I repay",
    "罚息怎么算",
    "你好",
    "will this affect my credit report",
    "这条短信是真的吗",
]
BOT_TEXT = (
    "还款方式：\n1. App还款（推荐，实时入账）：打开青禾银行App，进入「我的 > 借款 > 立即还款」，用绑定的本人银行卡还款。\n"
    "2. 自动还款：每期到期日自动从绑定卡扣款，请提前存足余额。\n3. 银行转账：只转入App「立即还款」页面显示的还款账户。"
)


def synthetic_events(n: int, conversations: int = 500) -> list[bytes]:
    rng = random.Random(7)
    meta = {"model_id": "967c2bfa72a44d5898c7d206eb791279", "assistant_id": "overdue-notice-assistant"}
    out: list[bytes] = []
    t = 1796170000.0
    while len(out) < n:
        k = rng.randrange(len(INTENTS))
        sender = (
            f"customer:S{rng.randrange(conversations):07d}"
            if rng.random() < 0.75
            else f"visitor:bench_{rng.randrange(conversations)}"
        )
        ranking = [{"name": name, "confidence": rng.random() / 10} for name in INTENTS + ["out_of_scope"] * 4]
        turn = [
            {"event": "user", "text": TEXTS[k], "input_channel": "inapp", "message_id": uuid.uuid4().hex,
             "metadata": {"authenticated": sender.startswith("customer:"), **meta},
             "parse_data": {"intent": {"name": INTENTS[k], "confidence": 0.9 + rng.random() / 10}, "entities": [],
                            "text": TEXTS[k], "intent_ranking": ranking}},
            {"event": "user_featurization", "use_text_for_featurization": False, "metadata": meta},
            {"event": "action", "name": f"action_{INTENTS[k]}", "policy": "RulePolicy", "confidence": 1.0, "metadata": meta},
            {"event": "slot", "name": "language", "value": "zh", "metadata": meta},
            {"event": "bot", "text": BOT_TEXT, "data": {"buttons": None}, "metadata": {"utter_action": "utter_x", **meta}},
            {"event": "action", "name": "action_listen", "policy": "RulePolicy", "confidence": 1.0, "metadata": meta},
        ]  # fmt: skip
        for event in turn:
            t += 0.001
            out.append(json.dumps({"sender_id": sender, "timestamp": t, **event}).encode())
    return out[:n]


async def _publish(queue: str, bodies: list[bytes]) -> None:
    import aio_pika

    connection = await aio_pika.connect(RABBITMQ_URL)
    async with connection:
        channel = await connection.channel(publisher_confirms=False)
        await channel.declare_queue(queue, durable=True)
        for body in bodies:
            await channel.default_exchange.publish(
                aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key=queue
            )


async def _delete(queue: str, exchange: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(RABBITMQ_URL)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(queue)
        await channel.exchange_delete(exchange)


def _drop(url: str) -> None:
    from sqlalchemy import create_engine, text

    db.dispose_all()
    name = url.rsplit("/", 1)[1]
    with create_engine(ADMIN_URL, future=True, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _count(url: str) -> int:
    from sqlalchemy import text

    with db.get_engine(url).connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM analytics_events")).scalar() or 0)


def consumer_throughput(events: int, work: Path) -> list[dict]:
    url = fresh_database(f"bot_bench_analytics_{uuid.uuid4().hex[:6]}")
    upgrade(url)
    bodies = synthetic_events(events)
    queue = f"bench_analytics_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": url, "RABBITMQ_URL": RABBITMQ_URL}
    rows = []
    try:
        for run, expected in (("new events", events), ("the same events again (all duplicates)", events)):
            asyncio.run(_publish(queue, bodies))
            before = _count(url)
            log = (work / "consumer.log").open("a")
            consumer = subprocess.Popen(
                [sys.executable, "-m", "bot", "analytics", "consume", "--queue", queue, "--exchange", f"{queue}_x"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            # From the first commit to the last: the consumer's start-up (imports, connecting) is not throughput.
            while _count(url) == before and run == "new events":
                time.sleep(0.01)
            cpu0, t0 = cpu_seconds([consumer.pid]), time.perf_counter()
            if run == "new events":
                while _count(url) < before + expected:
                    time.sleep(0.02)
                stored = expected
            else:  # nothing new to count: from the first message taken to an empty queue (less the last prefetch)
                while _queue_depth(queue) >= expected:
                    time.sleep(0.01)
                cpu0, t0 = cpu_seconds([consumer.pid]), time.perf_counter()
                while _queue_depth(queue) > 0:
                    time.sleep(0.02)
                stored = 0
            elapsed = time.perf_counter() - t0
            cpu = cpu_seconds([consumer.pid]) - cpu0
            consumer.terminate()
            consumer.wait(timeout=30)
            rows.append({"run": run, "events": expected, "stored": _count(url) - before, "seconds": round(elapsed, 2),
                         "events_per_s": round(expected / elapsed), "consumer_cpu_ms_per_1000": round(1000 * cpu / expected * 1000, 1)})  # fmt: skip
            assert rows[-1]["stored"] == stored, rows[-1]
            print(rows[-1], flush=True)
    finally:
        asyncio.run(_delete(queue, f"{queue}_x"))
        _drop(url)
    return rows


def _queue_depth(queue: str) -> int:
    import aio_pika

    async def depth() -> int:
        connection = await aio_pika.connect(RABBITMQ_URL)
        async with connection:
            channel = await connection.channel()
            declared = await channel.declare_queue(queue, durable=True, passive=True)
            return int(declared.declaration_result.message_count or 0)

    return asyncio.run(depth())


async def _drive(url: str, concurrency: int, seconds: float, round_: int, total: dict) -> int:
    """bench/run.py's conversations for ``seconds``, latencies added to ``total``; returns the messages sent."""
    before = len(total["latencies"])
    stop_at = time.monotonic() + seconds
    await asyncio.gather(
        *(
            load_run.conversation_worker(
                url, stop_at, total["latencies"], total["errors"], random.Random(1000 * round_ + k), k
            )
            for k in range(concurrency)
        )
    )
    return len(total["latencies"]) - before


def rasa_cost(seconds: float, rounds: int, work: Path) -> list[dict]:
    model = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)[-1]
    url = fresh_database(f"bot_bench_broker_{uuid.uuid4().hex[:6]}")
    upgrade(url)
    today = dt.date.fromisoformat(TODAY)
    with db.session_factory(url)() as session:
        load_demo(session, today)
        session.commit()
        load_synthetic(session, 2000, today)
    db.dispose_all()
    load_run.LOAD_CUSTOMERS = 2000
    shipped = (ROOT / "endpoints.yml").read_text(encoding="utf-8")
    head = shipped[: shipped.index("\nevent_broker:\n") + 1]
    queue = f"bench_broker_{uuid.uuid4().hex[:8]}"
    brokers = {
        "no event broker": "",
        "RabbitMQ (UrlPikaEventBroker, scaled set-up)": "event_broker:\n  type: bot.rasa_ext.event_broker.UrlPikaEventBroker\n",
        "SQLite (UrlSQLEventBroker, embedded set-up)": f"event_broker:\n  type: bot.rasa_ext.event_broker.UrlSQLEventBroker\n  url: sqlite:///{work / 'events.db'}\n",
        "SQLite (Rasa's stock SQL broker)": f"event_broker:\n  type: SQL\n  dialect: sqlite\n  db: {work / 'stock-events.db'}\n",
    }  # fmt: skip
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2", "DATABASE_URL": url,
           "BOT_TODAY": TODAY, "BOT_JWT_SECRET": SECRET, "ACTION_SERVER_TOKEN": "bench-action-token-0123456789",
           "RATE_LIMIT_PER_IP": "100000000", "RATE_LIMIT_PER_CONVERSATION": "100000",
           "DAILY_MESSAGES_PER_CONVERSATION": "100000000", "ANALYTICS_QUEUE": queue,
           "ANALYTICS_EXCHANGE": f"{queue}_x", "RABBITMQ_URL": RABBITMQ_URL}  # fmt: skip
    for name in ("SANIC_WORKERS", "REDIS_URL"):
        env.pop(name, None)
    consumer = subprocess.Popen(
        [sys.executable, "-m", "bot", "analytics", "consume"], cwd=ROOT, env=env,
        stdout=(work / "broker-consumer.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    stacks = {}
    for k, (name, section) in enumerate(brokers.items()):
        endpoints = work / f"endpoints-{k}.yml"
        endpoints.write_text(head + section, encoding="utf-8")
        stacks[name] = Stack(f"broker{k}", model, str(endpoints), env, work)
    # All four run side by side and take turns, round after round, so a machine that gets busier or
    # quieter during the run (other work on its two cores) weighs on every set-up alike.
    totals = {(name, c): {"latencies": [], "errors": [], "messages": 0, "cpu": 0.0, "seconds": 0.0}
              for name in brokers for c in (1, 20)}  # fmt: skip
    try:
        for stack in stacks.values():
            stack.wait_first_answer()
            asyncio.run(load_run.load(stack.webhook, 4, 3))  # warm-up
        for round_ in range(rounds):
            for name, stack in stacks.items():
                for concurrency in (1, 20):
                    pids = [p for group in stack.pids().values() for p in group]
                    total = totals[(name, concurrency)]
                    cpu0, t0 = cpu_seconds(pids), time.monotonic()
                    count = asyncio.run(_drive(stack.webhook, concurrency, seconds, round_, total))
                    total["cpu"] += cpu_seconds(pids) - cpu0
                    total["seconds"] += time.monotonic() - t0
                    total["messages"] += count
            print(f"round {round_ + 1} of {rounds} done", flush=True)
    finally:
        for stack in stacks.values():
            stack.stop()
        time.sleep(2)  # the consumer's last batch
        consumer.terminate()
        consumer.wait(timeout=30)
    rows = []
    for name in brokers:
        row: dict = {"broker": name}
        for concurrency in (1, 20):
            t = totals[(name, concurrency)]
            row[concurrency] = {
                "messages": t["messages"],
                "messages_per_s": round(t["messages"] / t["seconds"], 1),
                "p50_ms": round(statistics.median(t["latencies"]), 1),
                "p95_ms": round(percentile(t["latencies"], 95), 1),
                "p99_ms": round(percentile(t["latencies"], 99), 1),
                "errors": len(t["errors"]),
                "server_cpu_ms_per_message": round(1000 * t["cpu"] / max(1, t["messages"]), 1),
            }
        rows.append(row)
        print(row, flush=True)
    stored = _count(url)
    rows.append({"stored_by_consumer": stored})
    asyncio.run(_delete(queue, f"{queue}_x"))
    _drop(url)
    return rows


def publish_cost(work: Path, n: int = 3000) -> list[dict]:
    """CPU per event published, in this process, by each broker's ``publish`` (what Rasa's event loop pays)."""
    import rasa.shared.core.events  # noqa: F401 - as in the Rasa server
    from rasa.core.brokers.sql import SQLEventBroker

    from bot.rasa_ext.event_broker import UrlPikaEventBroker, UrlSQLEventBroker

    events = [json.loads(b) for b in synthetic_events(n)]
    queue = f"bench_publish_{uuid.uuid4().hex[:8]}"
    rows = []

    async def pika() -> float:
        broker = UrlPikaEventBroker(RABBITMQ_URL, queues=[queue], exchange_name=f"{queue}_x")
        await broker.connect()
        c0 = time.process_time()
        for event in events:
            broker.publish(event)
            await asyncio.sleep(0)  # as Rasa's loop moves on between events
        while broker._background_tasks:
            await asyncio.sleep(0.005)
        cpu = time.process_time() - c0
        await broker.close()
        return cpu

    rows.append({"broker": "RabbitMQ (UrlPikaEventBroker = Rasa's aio-pika broker)", "cpu": asyncio.run(pika())})
    asyncio.run(_delete(queue, f"{queue}_x"))
    for name, broker in (
        ("SQLite (UrlSQLEventBroker)", UrlSQLEventBroker(f"sqlite:///{work / 'publish.db'}")),
        ("SQLite (Rasa's stock SQLEventBroker)", SQLEventBroker(db=str(work / "publish-stock.db"))),
    ):
        c0 = time.process_time()
        for event in events:
            broker.publish(event)
        rows.append({"broker": name, "cpu": time.process_time() - c0})
    for row in rows:
        row["cpu_us_per_event"] = round(row.pop("cpu") / n * 1e6)
        print(row, flush=True)
    return rows


def render(consumer: list[dict], rasa: list[dict], publish: list[dict]) -> str:
    lines = [
        "| consumer: RabbitMQ -> PostgreSQL, batches of 200 | events | seconds | events/s | consumer CPU ms per 1,000 events |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r['run']} | {r['events']:,} | {r['seconds']} | {r['events_per_s']:,} | {r['consumer_cpu_ms_per_1000']} |"
        for r in consumer
    ]
    lines += ["", "| broker publish, in process | CPU µs per event |", "| --- | --- |"]
    lines += [f"| {r['broker']} | {r['cpu_us_per_event']} |" for r in publish]
    if rasa:
        lines += [
            "",
            "| Rasa, one process, in-memory conversations | 1 conversation: p50 ms | p95 ms | server CPU ms/message | 20 conversations: messages/s | p50 ms | p99 ms | server CPU ms/message |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in rasa:
            if "broker" not in r:
                continue
            one, many = r[1], r[20]
            lines.append(
                f"| {r['broker']} | {one['p50_ms']} | {one['p95_ms']} | {one['server_cpu_ms_per_message']} | "
                f"{many['messages_per_s']} | {many['p50_ms']} | {many['p99_ms']} | {many['server_cpu_ms_per_message']} |"
            )
    return "\n".join(lines)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10, help="per load level and round of the Rasa comparison")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the Rasa comparison (set-ups take turns)")
    parser.add_argument("--no-rasa", action="store_true", help="only the consumer's throughput")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-analytics-"))
    consumer = consumer_throughput(args.events, work)
    publish = publish_cost(work)
    rasa = [] if args.no_rasa else rasa_cost(args.seconds, args.rounds, work)
    print()
    print(render(consumer, rasa, publish))
    print(f"\n(work folder with the logs: {work}; admin database {ADMIN_URL})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
