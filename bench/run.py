"""`make bench`: end-to-end load over the in-app channel, training and start-up times, service latency.

    python bench/run.py [--seconds 20] [--customers 100000]

Writes bench/results.json and bench/results.md. One run on one machine; the machine is
described in the results. Load: an asyncio client (aiohttp) driving realistic multi-turn
conversations (verified customers and anonymous visitors, both languages) with real tokens,
real actions and the database, at 1, 20 and 50 concurrent conversations.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.service_latency import percentile  # noqa: E402
from bench.service_latency import run as service_latency  # noqa: E402
from bot import db  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.seed import load_demo, load_synthetic  # noqa: E402
from bot.tokens import mint  # noqa: E402

TODAY = "2026-11-28"
SECRET = "bench-secret-0123456789abcdef0123456789"
SCRIPTS_CUSTOMER = [
    ["你好", "为什么我一直收到逾期短信", "我现在欠多少钱", "怎么还款", "谢谢"],
    ["hi", "how much do I owe?", "how is the late fee calculated", "will this affect my credit report", "thanks"],
    ["我已经还了怎么还发短信", "罚息怎么算", "怎么设置自动还款", "再见"],
    [
        "why do I keep getting overdue texts",
        "how can I repay early",
        "is this text real? Qinghe Bank: pay now at http://qh-pay.cc",
        "bye",
    ],
]
SCRIPTS_VISITOR = [
    ["我为什么收到逾期短信", "这条短信是真的吗：【青禾银行】您的借款已逾期，请加微信qh888处理", "谢谢"],
    ["why am I getting texts about a loan", "how much does 张伟 owe?", "ok thanks"],
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def conversation_worker(session, url, stop_at, latencies, errors, rng, worker):
    n = 0
    while time.monotonic() < stop_at:
        n += 1
        if rng.random() < 0.75:
            customer = f"S{rng.randrange(5000):07d}"
            headers = {"Authorization": f"Bearer {mint(customer, SECRET)}"}
            script, extra = rng.choice(SCRIPTS_CUSTOMER), {}
        else:
            headers, script = {}, rng.choice(SCRIPTS_VISITOR)
            extra = {"sender": f"bench_{worker}_{n}_{rng.randrange(10**9)}"}
        for message in script:
            if time.monotonic() >= stop_at:
                return
            t0 = time.perf_counter()
            try:
                async with session.post(url, json={"message": message, **extra}, headers=headers) as reply:
                    await reply.read()
                    if reply.status != 200:
                        errors.append(reply.status)
            except aiohttp.ClientError as exc:
                errors.append(type(exc).__name__)
            latencies.append((time.perf_counter() - t0) * 1000)


async def load(url: str, concurrency: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors: list = []
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        started = time.monotonic()
        stop_at = started + seconds
        await asyncio.gather(
            *(
                conversation_worker(session, url, stop_at, latencies, errors, random.Random(k), k)
                for k in range(concurrency)
            )
        )
        elapsed = time.monotonic() - started
    return {
        "concurrency": concurrency,
        "messages": len(latencies),
        "messages_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "errors": len(errors),
    }


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    results: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, {platform.platform()}",
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }

    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2", "ACTION_PORT": "0"}
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "rasa", "train", "--force", "--quiet"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    results["training_seconds"] = round(time.perf_counter() - t0, 1)
    model = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)[-1]

    work = Path(tempfile.mkdtemp(prefix="bench-"))
    url = f"sqlite:///{work / 'bench.db'}"
    upgrade(url)
    with db.session_factory(url)() as session:
        load_demo(session, __import__("datetime").date.fromisoformat(TODAY))
        session.commit()
        load_synthetic(session, 5000, __import__("datetime").date.fromisoformat(TODAY))
    db.dispose_all()

    rasa_port, action_port = free_port(), free_port()
    env.update(
        DATABASE_URL=url, BOT_TODAY=TODAY, BOT_JWT_SECRET=SECRET, ACTION_PORT=str(action_port), RASA_PORT=str(rasa_port),
        ACTION_SERVER_TOKEN="bench-action-token-0123456789", RATE_LIMIT_PER_IP="100000000", RATE_LIMIT_PER_CONVERSATION="100000",
    )  # fmt: skip
    logs = (work / "actions.log").open("w"), (work / "rasa.log").open("w")
    started = time.perf_counter()
    actions = subprocess.Popen(
        [sys.executable, "-m", "bot.rasa_ext.action_server", "--port", str(action_port)],
        cwd=ROOT,
        env=env,
        stdout=logs[0],
        stderr=subprocess.STDOUT,
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "rasa", "run", "--interface", "127.0.0.1", "--port", str(rasa_port), "--credentials", "credentials.yml",
         "--endpoints", "endpoints.yml", "--model", str(model)],
        cwd=ROOT, env=env, stdout=logs[1], stderr=subprocess.STDOUT,
    )  # fmt: skip
    webhook = f"http://127.0.0.1:{rasa_port}/webhooks/inapp/webhook"
    try:
        import requests

        while True:
            try:
                r = requests.post(webhook, json={"message": "你好", "sender": "bench_coldstart"}, timeout=5)
                if r.status_code == 200 and r.json():
                    break
            except requests.RequestException:
                pass
            if time.perf_counter() - started > 180:
                raise SystemExit("servers did not start")
            time.sleep(0.25)
        results["cold_start_to_first_answer_seconds"] = round(time.perf_counter() - started, 1)
        results["load"] = [asyncio.run(load(webhook, c, args.seconds)) for c in (1, 20, 50)]
        results["peak_rss_mb"] = {
            "rasa_server": rss_mb(server.pid),
            "action_server": rss_mb(actions.pid),
            "bench_client": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
    finally:
        for p in (server, actions):
            p.terminate()
        for p in (server, actions):
            p.wait(timeout=30)
    results["service_latency_postgres"] = service_latency(
        args.customers, 2000, "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
    )

    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    lines = [
        "# Benchmark results",
        "",
        f"`python bench/run.py --seconds {args.seconds:g} --customers {args.customers}` on {results['date']}; machine: {results['machine']}.",
        "",
        f"- Full training (`rasa train --force`, warm component cache may apply): {results['training_seconds']} s",
        f"- Cold start of both servers to the first answer: {results['cold_start_to_first_answer_seconds']} s",
        f"- Peak memory (VmHWM): Rasa server {results['peak_rss_mb']['rasa_server']} MB, action server {results['peak_rss_mb']['action_server']} MB",
        "",
        "| concurrent conversations | messages | messages/s | p50 ms | p95 ms | p99 ms | errors |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *[
            f"| {r['concurrency']} | {r['messages']} | {r['messages_per_s']} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['errors']} |"
            for r in results["load"]
        ],
        "",
        "Loan-record service (`account_overview`) on PostgreSQL: "
        + ", ".join(f"{k} {v}" for k, v in results["service_latency_postgres"].items()),
        "",
        "Not measured yet (issue 7): the stock `rasa init` baseline in the same run, several Rasa workers with the Redis lock store, a 10-minute soak.",
    ]
    (ROOT / "bench" / "results.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
