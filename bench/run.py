"""`make bench`: end-to-end load over the in-app channel, training and start-up times, service latency.

    python bench/run.py [--seconds 20] [--soak 600] [--customers 100000]
                        [--baseline-epochs 100 | --baseline-model PATH]

Writes bench/results.json, bench/results.md and bench/results.png. One run on one machine;
the machine is described in the results. Load: an asyncio client (aiohttp) driving realistic
multi-turn conversations (verified customers and anonymous visitors, both languages) with
real tokens, real actions and the bank's database on PostgreSQL, at 1, 20 and 50 concurrent
conversations, against three set-ups started one after the other:

- baseline: the stock `rasa init` pipeline and policies (bench/baseline_config.yml) trained
  on this project's data, Rasa as shipped (BOT_RASA_SPEEDUPS=off), one process, same
  channel and actions;
- assistant: this project's config.yml, one Rasa process, in-memory conversations
  (`make run`, the embedded default);
- assistant, scaled: the same model with SANIC_WORKERS Rasa workers, conversations, locks
  and rate limits in Redis database 2 (emptied first) (`make run-scaled`, the production setup).

The mix (issue 19): three in four conversations are verified customers, one in four anonymous
visitors. A fifth of all conversations are *returning* customers who continue a session that
already holds 100-500 messages (each set-up starts with such sessions written into its tracker
store through Rasa's HTTP API, from a session recorded once through the assistant), and one
verified message in ten is sent from two connections at once (a double tap, an app retry, two
devices), both of which are measured.

The soak drives the scaled set-up at 20 concurrent conversations and samples every
process's memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


async def conversation_worker(url, stop_at, answered, errors, rng, worker):
    """One simulated app after another; each conversation uses its own keep-alive connection,
    as each customer's phone would (so connections spread over the server's workers)."""
    n = 0
    while time.monotonic() < stop_at:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            n = await conversation(session, url, stop_at, answered, errors, rng, worker, n)


async def conversation(session, url, stop_at, answered, errors, rng, worker, n) -> int:
    """One conversation of a random script; returns the conversation counter."""
    n += 1
    draw = rng.random()
    if draw < RETURNING_SHARE and RETURNING:
        customer = rng.choice(RETURNING)  # continues a session of 100-500 messages
        headers = {"Authorization": f"Bearer {mint(customer, SECRET)}"}
        script, extra = rng.choice(SCRIPTS_CUSTOMER), {}
    elif draw < 0.75:
        customer = f"S{rng.randrange(LOAD_CUSTOMERS):07d}"
        headers = {"Authorization": f"Bearer {mint(customer, SECRET)}"}
        script, extra = rng.choice(SCRIPTS_CUSTOMER), {}
    else:
        headers, script = {}, rng.choice(SCRIPTS_VISITOR)
        extra = {"sender": f"bench_{worker}_{n}_{rng.randrange(10**9)}"}
    for message in script:
        if time.monotonic() >= stop_at:
            return n
        sends = [send(session, url, {"message": message, **extra}, headers, answered, errors)]
        if headers and rng.random() < DOUBLE_SEND_SHARE:  # the same customer from a second connection at once
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as second:
                sends.append(send(second, url, {"message": message, **extra}, headers, answered, errors))
                await asyncio.gather(*sends)
        else:
            await sends[0]
    return n


async def send(session, url, body, headers, answered, errors) -> None:
    """One message; appends (when it was answered, monotonic s; its latency, ms) to ``answered``."""
    t0 = time.perf_counter()
    try:
        async with session.post(url, json=body, headers=headers) as reply:
            await reply.read()
            if reply.status != 200:
                errors.append(reply.status)
    except aiohttp.ClientError as exc:
        errors.append(type(exc).__name__)
    answered.append((time.monotonic(), (time.perf_counter() - t0) * 1000))


async def load(url: str, concurrency: int, seconds: float) -> dict[str, Any]:
    answered: list[tuple[float, float]] = []
    errors: list = []
    started = time.monotonic()
    stop_at = started + seconds
    await asyncio.gather(
        *(conversation_worker(url, stop_at, answered, errors, random.Random(k), k) for k in range(concurrency))
    )
    elapsed = time.monotonic() - started
    latencies = [ms for _, ms in answered]
    row: dict[str, Any] = {
        "concurrency": concurrency,
        "messages": len(latencies),
        "messages_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "errors": len(errors),
    }
    if seconds >= 120:  # a long run (the soak): each whole minute on its own
        row["by_minute"] = by_minute(answered, started, seconds)
    return row


def by_minute(answered: list[tuple[float, float]], started: float, seconds: float) -> list[dict[str, float]]:
    """Messages/s, p50 and p99 of the messages answered in each whole minute of a run."""
    minutes = []
    for m in range(int(seconds // 60)):
        ms = [lat for at, lat in answered if started + 60 * m <= at < started + 60 * (m + 1)]
        if ms:
            minutes.append(
                {
                    "minute": m + 1,
                    "messages_per_s": round(len(ms) / 60, 1),
                    "p50_ms": round(statistics.median(ms), 1),
                    "p99_ms": round(percentile(ms, 99), 1),
                }
            )
    return minutes


ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
# Verified users are drawn from this many synthetic customers. With few customers they come
# back within their 60-minute session and sessions grow all through a long run (seen in a
# soak with 5,000: median session 86 events), which real traffic rarely does.
LOAD_CUSTOMERS = 50_000
REDIS_URL = "redis://127.0.0.1:6379/2"
#: Conversations that continue a long session, and verified messages sent from two connections at once.
RETURNING_SHARE = 0.2
DOUBLE_SEND_SHARE = 0.1
#: The returning customers (synthetic customers outside the range the others are drawn from, so they
#: come back only as returning customers), and the length of their sessions when a set-up starts.
RETURNING_CUSTOMERS = 200
RETURNING_MESSAGES = (100, 500)
RETURNING: list[str] = []
API_TOKEN = "bench-api-token-0123456789"  # Rasa's HTTP API, enabled only for the benchmark's servers


def record_session(stack: Stack, customer: str, messages: int = 60) -> list[dict]:
    """Drive one verified conversation of ``messages`` messages (the customer scripts in turn) and
    return its events as the tracker store keeps them."""
    import requests

    headers = {"Authorization": f"Bearer {mint(customer, SECRET)}"}
    said = 0
    with requests.Session() as http:
        while said < messages:
            for message in SCRIPTS_CUSTOMER[said % len(SCRIPTS_CUSTOMER)]:
                reply = http.post(stack.webhook, json={"message": message}, headers=headers, timeout=60)
                reply.raise_for_status()
                said += 1
        tracker = http.get(
            f"{stack.base}/conversations/customer:{customer}/tracker",
            params={"token": API_TOKEN, "include_events": "ALL"},
            timeout=60,
        )
        tracker.raise_for_status()
    return tracker.json()["events"]


def long_session(recorded: list[dict], recorded_customer: str, customer: str, messages: int, now: float) -> list[dict]:
    """A session of ``messages`` user messages for ``customer``, built from a recorded one: its start
    (session start, the slots its action set) once, then its message turns again and again, retimed
    to end a minute before ``now`` with a few seconds between events (within the session expiry)."""
    first_user = next(i for i, e in enumerate(recorded) if e["event"] == "user")
    head, turns = recorded[:first_user], recorded[first_user:]
    events, users = list(head), 0
    while users < messages:
        for event in turns:
            if event["event"] == "user":
                if users == messages:
                    break
                users += 1
            events.append(event)
    text = json.dumps(events, ensure_ascii=False).replace(recorded_customer, customer)
    out = json.loads(text)
    step = min(3.0, 3000 / max(1, len(out)))  # the whole session within 50 minutes
    for k, event in enumerate(out):
        event["timestamp"] = now - 60 - (len(out) - k) * step
    return out


def seed_returning(stack: Stack, recorded: list[dict], recorded_customer: str, seed: int = 7) -> dict[str, float]:
    """Write the returning customers' long sessions into the set-up's tracker store (Rasa's API)."""
    import requests

    rng = random.Random(seed)
    lengths = []
    t0 = time.perf_counter()
    with requests.Session() as http:
        for customer in RETURNING:
            n = rng.randint(*RETURNING_MESSAGES)
            lengths.append(n)
            reply = http.put(
                f"{stack.base}/conversations/customer:{customer}/tracker/events",
                params={"token": API_TOKEN, "include_events": "NONE"},
                json=long_session(recorded, recorded_customer, customer, n, time.time()),
                timeout=120,
            )
            reply.raise_for_status()
    return {
        "returning_customers": len(lengths),
        "median_messages": statistics.median(lengths),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def process_tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def status_mb(pid: int, field: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


def fresh_database(name: str) -> str:
    from sqlalchemy import create_engine, text

    with create_engine(ADMIN_URL, future=True, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


class Stack:
    """The action server and a Rasa server (with its workers) for one set-up."""

    def __init__(self, name: str, model: Path, endpoints: str, env: dict[str, str], work: Path) -> None:
        self.name = name
        rasa_port, action_port = free_port(), free_port()
        env = {**env, "ACTION_PORT": str(action_port), "RASA_PORT": str(rasa_port)}
        self.base = f"http://127.0.0.1:{rasa_port}"
        self.webhook = f"{self.base}/webhooks/inapp/webhook"
        logs = (work / f"{name}-actions.log").open("w"), (work / f"{name}-rasa.log").open("w")
        self.started = time.perf_counter()
        self.actions = subprocess.Popen(
            [sys.executable, "-m", "bot.rasa_ext.action_server", "--port", str(action_port), "--domain", "domain"],
            cwd=ROOT, env=env, stdout=logs[0], stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.server = subprocess.Popen(
            [sys.executable, "-m", "rasa", "run", "--interface", "127.0.0.1", "--port", str(rasa_port),
             "--credentials", "credentials.yml", "--endpoints", endpoints, "--model", str(model),
             "--enable-api", "--auth-token", API_TOKEN],
            cwd=ROOT, env=env, stdout=logs[1], stderr=subprocess.STDOUT,
        )  # fmt: skip

    def wait_first_answer(self) -> float:
        import requests

        while True:
            try:
                r = requests.post(self.webhook, json={"message": "你好", "sender": "bench_coldstart"}, timeout=5)
                if r.status_code == 200 and r.json():
                    return round(time.perf_counter() - self.started, 1)
            except requests.RequestException:
                pass
            if self.server.poll() is not None or time.perf_counter() - self.started > 300:
                raise SystemExit(f"{self.name}: servers did not start (see the bench work folder logs)")
            time.sleep(0.25)

    def pids(self) -> dict[str, list[int]]:
        return {"rasa": process_tree(self.server.pid), "actions": process_tree(self.actions.pid)}

    def memory(self, field: str = "VmRSS") -> dict[str, list[float]]:
        return {role: [status_mb(p, field) for p in pids] for role, pids in self.pids().items()}

    def stop(self) -> None:
        for p in (self.server, self.actions):
            p.terminate()
        for p in (self.server, self.actions):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def measure(stack: Stack, seconds: float, recorded: tuple[list[dict], str]) -> dict:
    result: dict = {"name": stack.name, "cold_start_seconds": stack.wait_first_answer(), "load": []}
    result["returning_sessions"] = seed_returning(stack, *recorded)
    print(stack.name, "returning sessions written:", result["returning_sessions"], flush=True)
    for concurrency in (1, 20, 50):
        pids = [p for group in stack.pids().values() for p in group]
        cpu_before = cpu_seconds(pids)
        row = asyncio.run(load(stack.webhook, concurrency, seconds))
        row["server_cpu_ms_per_message"] = round(1000 * (cpu_seconds(pids) - cpu_before) / max(1, row["messages"]), 1)
        result["load"].append(row)
        print(stack.name, row, flush=True)
    result["peak_rss_mb"] = stack.memory("VmHWM")
    return result


async def soak(stack: Stack, seconds: float, sample_every: float = 15) -> dict:
    samples: list[tuple[float, float]] = []

    async def sample() -> None:
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            mem = stack.memory()
            samples.append((round(time.monotonic() - started), round(sum(sum(v) for v in mem.values()), 1)))
            await asyncio.sleep(sample_every)

    sampler = asyncio.create_task(sample())
    row = await load(stack.webhook, 20, seconds)
    sampler.cancel()
    first = [m for t, m in samples if t < 60] or [samples[0][1]]
    last = [m for t, m in samples if t >= seconds - 60] or [samples[-1][1]]
    return {
        **row,
        "seconds": seconds,
        "rss_total_mb_first_minute": round(statistics.mean(first), 1),
        "rss_total_mb_last_minute": round(statistics.mean(last), 1),
        "rss_samples": samples,
    }


def train(config: str, out: Path, name: str, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "rasa", "train", "--force", "--quiet", "--config", config, "--domain", "domain",
         "--out", str(out), "--fixed-model-name", name],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:  # say why: the last lines of rasa's own output
        sys.exit(f"training {name} failed ({done.returncode}):\n" + "\n".join(done.stderr.splitlines()[-15:]))
    return round(time.perf_counter() - t0, 1)


def base_env() -> dict[str, str]:
    """This process's environment for the servers, without the settings a set-up chooses itself."""
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2", "ACTION_PORT": "5055"}
    env.pop("SANIC_WORKERS", None)
    env.pop("REDIS_URL", None)
    return env


def seeded_database(customers: int) -> str:
    """A fresh PostgreSQL database `bot_bench` with the demo and ``customers`` synthetic customers, and the
    benchmark's own Redis database emptied; returns the database's URL."""
    import redis

    url = fresh_database("bot_bench")
    upgrade(url)
    today = __import__("datetime").date.fromisoformat(TODAY)
    with db.session_factory(url)() as session:
        load_demo(session, today)
        session.commit()
        load_synthetic(session, customers, today)
    db.dispose_all()
    redis.Redis.from_url(REDIS_URL).flushdb()
    return url


def server_env(url: str) -> dict[str, str]:
    """What every set-up's servers get: the database, the bank's day, the secrets, limits out of the way."""
    return dict(
        DATABASE_URL=url, BOT_TODAY=TODAY, BOT_JWT_SECRET=SECRET, ACTION_SERVER_TOKEN="bench-action-token-0123456789",
        RATE_LIMIT_PER_IP="100000000", RATE_LIMIT_PER_CONVERSATION="100000", DAILY_MESSAGES_PER_CONVERSATION="100000000",
    )  # fmt: skip


def choose_returning(customers: int) -> None:
    """The returning customers sit above the range the others are drawn from."""
    global LOAD_CUSTOMERS
    RETURNING[:] = [f"S{customers - RETURNING_CUSTOMERS + k:07d}" for k in range(RETURNING_CUSTOMERS)]
    LOAD_CUSTOMERS = customers - RETURNING_CUSTOMERS


def record(model: Path, env: dict[str, str], work: Path) -> tuple[list[dict], str]:
    """One verified conversation through the assistant, recorded for the returning customers' sessions."""
    recorder = Stack("recording", model, "endpoints.yml", env, work)
    try:
        recorder.wait_first_answer()
        customer = f"S{LOAD_CUSTOMERS - 1:07d}"
        return record_session(recorder, customer), customer
    finally:
        recorder.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20, help="per load level")
    parser.add_argument("--soak", type=float, default=600, help="soak seconds at 20 concurrent (0: no soak)")
    parser.add_argument("--customers", type=int, default=100_000, help="for the loan-record service latency")
    parser.add_argument("--workers", type=int, default=2, help="Rasa workers of the scaled set-up")
    parser.add_argument(
        "--load-customers", type=int, default=50_000, help="synthetic customers the load draws verified users from"
    )
    parser.add_argument("--baseline-epochs", type=int, default=100)
    parser.add_argument(
        "--baseline-model", type=Path, help="reuse a baseline model trained from bench/baseline_config.yml"
    )
    args = parser.parse_args()
    global LOAD_CUSTOMERS
    LOAD_CUSTOMERS = args.load_customers
    results: dict = {
        "load_customers": args.load_customers,
        "command": "python bench/run.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}",
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    env = base_env()

    results["training_seconds"] = train("config.yml", work, "assistant", env)
    model = work / "assistant.tar.gz"
    if args.baseline_model:
        baseline_model = args.baseline_model
        results["baseline_training"] = f"reused {args.baseline_model}"
    else:
        config = work / "baseline_config.yml"
        text = (ROOT / "bench" / "baseline_config.yml").read_text(encoding="utf-8")
        config.write_text(text.replace("epochs: 100", f"epochs: {args.baseline_epochs}"), encoding="utf-8")
        results["baseline_training_seconds"] = train(str(config), work, "baseline", env)
        results["baseline_epochs"] = args.baseline_epochs
        baseline_model = work / "baseline.tar.gz"
    for name, path in (("assistant", model), ("baseline", baseline_model)):
        out = work / f"nlu-{name}.json"
        subprocess.run(
            [sys.executable, "scripts/eval_nlu.py", "--model", str(path), "--out", str(out)],
            cwd=ROOT, env=env, check=True, capture_output=True,
        )  # fmt: skip
        report = json.loads(out.read_text(encoding="utf-8"))
        results[f"nlu_{name}"] = {k: v["macro_f1_final"] for k, v in report.items() if isinstance(v, dict)}

    url = seeded_database(args.load_customers)
    env.update(server_env(url))
    setups = [
        ("baseline", baseline_model, "endpoints.yml", {"BOT_RASA_SPEEDUPS": "off"}),
        ("assistant", model, "endpoints.yml", {}),
        (
            f"assistant, scaled ({args.workers} workers)",
            model,
            "endpoints.scaled.yml",
            {"SANIC_WORKERS": str(args.workers), "REDIS_URL": REDIS_URL},
        ),
    ]
    choose_returning(args.load_customers)
    recorded = record(model, env, work)
    results["mix"] = {
        "returning_share": RETURNING_SHARE,
        "returning_messages": list(RETURNING_MESSAGES),
        "double_send_share_of_verified_messages": DOUBLE_SEND_SHARE,
    }
    results["setups"] = []
    for name, path, endpoints, extra in setups:
        stack = Stack(name.split(" ")[0].strip(","), path, endpoints, {**env, **extra}, work)
        stack.name = name
        try:
            results["setups"].append(measure(stack, args.seconds, recorded))
            if args.soak and endpoints == "endpoints.scaled.yml":
                results["soak"] = {"setup": name, **asyncio.run(soak(stack, args.soak))}
        finally:
            stack.stop()
    results["service_latency_postgres"] = service_latency(args.customers, 2000, ADMIN_URL)
    shutil.rmtree(work, ignore_errors=True)

    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    plot(results)
    report = render(results) + kept_sections(ROOT / "bench" / "results.md")
    (ROOT / "bench" / "results.md").write_text(report, encoding="utf-8")
    print(report)
    return 0


#: Sections of bench/results.md that other benchmarks write (bench/lock_wait.py, bench/session_length.py),
#: each from its own run: a new run of this one keeps them as they are.
OTHER_SECTIONS = ("## Waiting for a busy conversation", "## Latency against session length")


def kept_sections(path: Path) -> str:
    if not path.exists():
        return ""
    text, kept = path.read_text(encoding="utf-8"), []
    for title in OTHER_SECTIONS:
        start = text.find(title + "\n")
        if start < 0:
            continue
        end = text.find("\n## ", start + len(title))
        kept.append(text[start : end + 1 if end >= 0 else len(text)].rstrip() + "\n")
    return "".join("\n" + k for k in kept)


def at(setup: dict, concurrency: int) -> dict:
    return next(r for r in setup["load"] if r["concurrency"] == concurrency)


def render(results: dict) -> str:
    setups = results["setups"]
    base = setups[0]
    lines = [
        "# Benchmark results",
        "",
        f"`{results['command']}` on {results['date']}; machine: {results['machine']}.",
        "All set-ups ran one after the other on the same machine, client included (it shares the 2 cores).",
        f"Verified users are drawn from {results['load_customers']:,} synthetic customers.",
        *(
            [
                f"Mix: {results['mix']['returning_share']:.0%} of conversations continue a session of "
                f"{results['mix']['returning_messages'][0]}-{results['mix']['returning_messages'][1]} messages "
                f"(written into each set-up's tracker store before its load); "
                f"{results['mix']['double_send_share_of_verified_messages']:.0%} of verified messages are sent "
                "from two connections at once (both measured)."
            ]
            if "mix" in results
            else []
        ),
        "",
        "## Load over the in-app channel (real tokens, actions, PostgreSQL)",
        "",
        "| set-up | concurrent | messages | messages/s | p50 ms | p95 ms | p99 ms | errors | server CPU ms/message |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in setups:
        for r in s["load"]:
            lines.append(
                f"| {s['name']} | {r['concurrency']} | {r['messages']} | {r['messages_per_s']} | {r['p50_ms']} | "
                f"{r['p95_ms']} | {r['p99_ms']} | {r['errors']} | {r['server_cpu_ms_per_message']} |"
            )
    lines += ["", "Ratios to the baseline at 20 concurrent conversations:", ""]
    for s in setups[1:]:
        a, b = at(s, 20), at(base, 20)
        lines.append(
            f"- {s['name']}: {a['messages_per_s'] / b['messages_per_s']:.1f}x messages/s, "
            f"p99 {a['p99_ms']} ms vs {b['p99_ms']} ms, "
            f"{b['server_cpu_ms_per_message'] / max(a['server_cpu_ms_per_message'], 0.1):.1f}x less server CPU per message"
        )
    lines += ["", "## Start-up, memory, training", ""]
    for s in setups:
        mem = "; ".join(f"{role} {', '.join(str(v) for v in vals)} MB" for role, vals in s["peak_rss_mb"].items())
        lines.append(
            f"- {s['name']}: cold start to first answer {s['cold_start_seconds']} s; peak RSS per process: {mem}"
        )
    lines.append(f"- Full training of the assistant (`rasa train --force`): {results['training_seconds']} s")
    if "baseline_training_seconds" in results:
        lines.append(
            f"- Baseline training ({results['baseline_epochs']} epochs): {results['baseline_training_seconds']} s"
        )
    else:
        lines.append(f"- Baseline model: {results['baseline_training']}")
    lines += ["", "## NLU quality (scripts/eval_nlu.py, intent macro-F1)", ""]
    for name in ("assistant", "baseline"):
        nlu = results[f"nlu_{name}"]
        lines.append(f"- {name}: " + ", ".join(f"{k} {v}" for k, v in _f1_summary(nlu).items()))
    if "soak" in results:
        s = results["soak"]
        lines += [
            "",
            f"## Soak: {s['setup']}, 20 concurrent conversations for {s['seconds']:g} s",
            "",
            f"{s['messages']} messages, {s['messages_per_s']} messages/s, p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms, "
            f"errors {s['errors']}; total RSS of all server processes {s['rss_total_mb_first_minute']} MB in the "
            f"first minute, {s['rss_total_mb_last_minute']} MB in the last.",
        ]
        minutes = s.get("by_minute") or []
        if minutes:
            first, last = minutes[0], minutes[-1]
            change = 100 * (last["messages_per_s"] - first["messages_per_s"]) / max(first["messages_per_s"], 0.1)
            lines += [
                "",
                f"Last minute against the first: {last['messages_per_s']} against {first['messages_per_s']} "
                f"messages/s ({change:+.1f} %), p99 {last['p99_ms']} against {first['p99_ms']} ms.",
                "",
                "| minute | messages/s | p50 ms | p99 ms |",
                "| --- | --- | --- | --- |",
                *(f"| {m['minute']} | {m['messages_per_s']} | {m['p50_ms']} | {m['p99_ms']} |" for m in minutes),
            ]
    lines += [
        "",
        "## Loan-record service (`account_overview`) on PostgreSQL",
        "",
        ", ".join(f"{k} {v}" for k, v in results["service_latency_postgres"].items()),
        "",
        "![latency and throughput](results.png)",
    ]
    return "\n".join(lines) + "\n"


def _f1_summary(nlu: dict) -> dict:
    return {name: figures for name, figures in nlu.items()}


def plot(results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for s in results["setups"]:
        xs = [r["concurrency"] for r in s["load"]]
        left.plot(xs, [r["messages_per_s"] for r in s["load"]], marker="o", label=s["name"])
        right.plot(xs, [r["p99_ms"] for r in s["load"]], marker="o", label=s["name"])
    left.set(xlabel="concurrent conversations", ylabel="messages/s", title="Throughput")
    right.set(xlabel="concurrent conversations", ylabel="p99 ms", title="p99 latency", yscale="log")
    right.axhline(300, color="grey", linestyle="--", linewidth=0.8)
    left.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(ROOT / "bench" / "results.png", dpi=90)


if __name__ == "__main__":
    sys.exit(main())
