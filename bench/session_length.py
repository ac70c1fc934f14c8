"""Latency against session length: one conversation of many messages over the in-app channel.

    python bench/session_length.py [--messages 510] [--repeat 3] [--stores embedded,redis]
                                   [--modes stock,speedups] [--stock-repeat N] [--merge] [--write-results]
    python bench/session_length.py --render
    python bench/session_length.py --profile out.prof [--store embedded|redis] [--mode speedups|stock]
                                   [--profile-from 491] [--profile-messages 20]

Server mode (the default) starts, for each tracker store and each mode, the action server and
``rasa run`` over the in-app channel (as bench/run.py does) on a temporary SQLite database
(demo + 200 synthetic customers), then has one verified customer send ``--messages`` messages
to one conversation, one after another, cycling through three of the benchmark's customer
scripts (bench/run.py; 14 messages, so messages 491-500 are the very messages 1-10 are), and
records each message's latency and the CPU time the Rasa and action server processes spent on
it. ``--repeat`` conversations per set-up (each a new customer); the figure of a 10-message
bucket is the median of its latencies in all repeats (CPU: the mean). Set-ups:

- embedded: endpoints.yml as shipped (Rasa's InMemoryTrackerStore, in-memory lock store, the SQL
  event broker, written to a temporary file instead of var/events.db);
- redis: the same with endpoints.scaled.yml's tracker store (RedisEventTrackerStore, on Redis
  database 3 under a key prefix of its own, deleted afterwards); one Rasa process;
- stock: BOT_RASA_SPEEDUPS=off (Rasa as shipped); speedups: the default.

Writes bench/session_length.json (after every conversation, so a stopped run keeps what it
measured; ``--merge`` adds to the conversations already there) and bench/session_length.png;
``--write-results`` (or ``--render``, without measuring) also (re)writes the section "Latency
against session length" of bench/results.md and leaves every other section as it is
(``make bench`` rewrites bench/results.md: run ``--render`` after it).

Profile mode loads the model in this process through Rasa's own ``load_agent`` with the same
endpoints, plays ``--profile-from - 1`` messages, then records cProfile statistics of the next
``--profile-messages`` and prints the top of them.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import io
import json
import logging
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import SCRIPTS_CUSTOMER, TODAY, free_port  # noqa: E402

SECRET = "session-bench-secret-0123456789abcdef0123"
ACTION_TOKEN = "session-bench-action-token-0123456789"
REDIS_URL = "redis://127.0.0.1:6379/3"
BUCKET = 10
SECTION = "## Latency against session length"
# Three of the benchmark's customer scripts, 14 messages: 490 is a multiple of 14, so messages
# 491-500 are the very messages 1-10 are, and the two buckets differ only in what came before.
MESSAGES = [text for script in (SCRIPTS_CUSTOMER[0], SCRIPTS_CUSTOMER[1], SCRIPTS_CUSTOMER[3]) for text in script]
RESULTS_JSON = ROOT / "bench" / "session_length.json"
PLOT = ROOT / "bench" / "session_length.png"


def endpoints_file(store: str, work: Path, prefix: str) -> Path:
    """endpoints.yml with the event broker in ``work``, plus endpoints.scaled.yml's tracker store for redis."""
    shipped = (ROOT / "endpoints.yml").read_text(encoding="utf-8")
    assert "url: sqlite:///var/events.db" in shipped
    text = shipped.replace("url: sqlite:///var/events.db", f"url: sqlite:///{work / 'events.db'}")
    if store == "redis":
        text += (
            "tracker_store:\n"
            "  type: bot.rasa_ext.tracker_store.RedisEventTrackerStore\n"
            f"  url: {REDIS_URL}\n"
            f"  key_prefix: {prefix}\n"
            "  record_exp: 3600\n"
        )
    path = work / f"endpoints-{store}.yml"
    path.write_text(text, encoding="utf-8")
    return path


def seeded_database(work: Path) -> str:
    from bot import db
    from bot.migrate import upgrade
    from bot.seed import load_demo, load_synthetic

    url = f"sqlite:///{work / 'bot.db'}"
    upgrade(url)
    today = dt.date.fromisoformat(TODAY)
    with db.session_factory(url)() as session:
        load_demo(session, today)
        session.commit()
        load_synthetic(session, 200, today)
    db.dispose_all()
    return url


def server_env(database_url: str, mode: str, action_port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "BOT_TODAY": TODAY,
        "BOT_JWT_SECRET": SECRET,
        "ACTION_SERVER_TOKEN": ACTION_TOKEN,
        "ACTION_PORT": str(action_port),
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "RATE_LIMIT_PER_IP": "100000000",
        "RATE_LIMIT_PER_CONVERSATION": "100000",
        "DAILY_MESSAGES_PER_CONVERSATION": "100000000",
        "BOT_RASA_SPEEDUPS": "off" if mode == "stock" else "on",
    }
    for name in ("SANIC_WORKERS", "REDIS_URL", "HANDOFF_WEBHOOK_URL"):
        env.pop(name, None)
    return env


def latest_model() -> Path:
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise SystemExit("no trained model in models/: run `make train` first")
    return models[-1]


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args} exited early")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} did not come up")


def cpu_ms(pid: int) -> float:
    """User + system CPU time of a process so far, in milliseconds (/proc, 10 ms resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def converse(
    webhook: str, customer: str, messages: int, pids: dict[str, int] | None = None
) -> tuple[list[float], dict[str, list[float]]]:
    """Milliseconds of each message of one conversation, sent one after another on one connection,
    and the CPU milliseconds each server process spent on each."""
    import requests

    from bot.tokens import mint

    headers = {"Authorization": f"Bearer {mint(customer, SECRET)}"}
    latencies: list[float] = []
    cpu: dict[str, list[float]] = {name: [] for name in pids or {}}
    with requests.Session() as http:
        for k in range(messages):
            before = {name: cpu_ms(pid) for name, pid in (pids or {}).items()}
            t0 = time.perf_counter()
            reply = http.post(webhook, json={"message": MESSAGES[k % len(MESSAGES)]}, headers=headers, timeout=60)
            latencies.append((time.perf_counter() - t0) * 1000)
            for name, pid in (pids or {}).items():
                cpu[name].append(cpu_ms(pid) - before[name])
            if reply.status_code != 200 or not reply.json():
                raise SystemExit(f"message {k + 1} of {customer}: HTTP {reply.status_code} {reply.text[:200]}")
    return latencies, cpu


def rss_mb(pid: int) -> float:
    """Resident memory of a process now, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def cpu_buckets(runs: list[list[float]]) -> list[float]:
    """The mean CPU milliseconds per message of each 10-message bucket, over all repeats."""
    n = min(len(run) for run in runs)
    return [
        round(statistics.mean(v for run in runs for v in run[start : start + BUCKET]), 1)
        for start in range(0, n - n % BUCKET, BUCKET)
    ]


def buckets(latencies: list[list[float]]) -> list[float]:
    """The median latency of each 10-message bucket, over all repeats."""
    n = min(len(run) for run in latencies)
    return [
        round(statistics.median(v for run in latencies for v in run[start : start + BUCKET]), 1)
        for start in range(0, n - n % BUCKET, BUCKET)
    ]


def measure(
    store: str,
    mode: str,
    args: argparse.Namespace,
    work: Path,
    database_url: str,
    on_run: Callable[[dict[str, Any]], None],
) -> None:
    """Start one set-up's servers and hand ``on_run`` each finished conversation's figures."""
    prefix = f"sessionbench{uuid.uuid4().hex[:8]}"
    rasa_port, action_port = free_port(), free_port()
    env = server_env(database_url, mode, action_port)
    logs = (work / f"{store}-{mode}-actions.log").open("w"), (work / f"{store}-{mode}-rasa.log").open("w")
    actions = subprocess.Popen(
        [sys.executable, "-m", "bot.rasa_ext.action_server", "--port", str(action_port), "--domain", "domain"],
        cwd=ROOT, env=env, stdout=logs[0], stderr=subprocess.STDOUT,
    )  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "rasa", "run", "--interface", "127.0.0.1", "--port", str(rasa_port),
         "--credentials", "credentials.yml", "--endpoints", str(endpoints_file(store, work, prefix)),
         "--model", str(args.model)],
        cwd=ROOT, env=env, stdout=logs[1], stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{action_port}/health", actions)
        wait_for(f"http://127.0.0.1:{rasa_port}/webhooks/inapp/", server)
        webhook = f"http://127.0.0.1:{rasa_port}/webhooks/inapp/webhook"
        converse(webhook, "S0000199", 20)  # warm up (first predictions, connections)
        pids = {"rasa": server.pid, "actions": actions.pid}
        for r in range(args.stock_repeat if mode == "stock" and args.stock_repeat else args.repeat):
            latencies, cpu = converse(webhook, f"S{r + 1:07d}", args.messages, pids)
            print(f"{store} {mode} run {r + 1}: {bucket_summary(buckets([latencies]))}", flush=True)
            print(f"  CPU ms/message rasa: {bucket_summary(cpu_buckets([cpu['rasa']]))}", flush=True)
            print(f"  CPU ms/message actions: {bucket_summary(cpu_buckets([cpu['actions']]))}", flush=True)
            on_run(
                {
                    "store": store,
                    "mode": mode,
                    "at": time.strftime("%Y-%m-%d %H:%M"),
                    "load_average": [round(v, 2) for v in os.getloadavg()],
                    "latencies_ms": [round(v, 1) for v in latencies],
                    "cpu_ms": {name: [round(v, 1) for v in values] for name, values in cpu.items()},
                    "rss_mb": {name: rss_mb(pid) for name, pid in pids.items()},
                }
            )
    finally:
        for p in (server, actions):
            p.terminate()
        for p in (server, actions):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        if store == "redis":
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(match=f"{prefix}:*", count=1000):
                client.delete(key)


def rows_of(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per set-up: bucket medians over all of its conversations."""
    rows = []
    for store in ("embedded", "redis"):
        for mode in ("stock", "speedups"):
            mine = [r for r in runs if r["store"] == store and r["mode"] == mode]
            if not mine:
                continue
            medians = buckets([r["latencies_ms"] for r in mine])
            rows.append(
                {
                    "store": store,
                    "mode": mode,
                    "conversations": len(mine),
                    "measured": sorted({r["at"] for r in mine}),
                    "bucket_medians_ms": medians,
                    "per_run_bucket_medians_ms": [buckets([r["latencies_ms"]]) for r in mine],
                    "ratio_491_500_to_1_10": ratio(medians),
                    "cpu_ms_per_message": {
                        name: cpu_buckets([r["cpu_ms"][name] for r in mine]) for name in ("rasa", "actions")
                    },
                    "rss_mb_max": {name: max(r["rss_mb"][name] for r in mine) for name in ("rasa", "actions")},
                    "load_averages": [r["load_average"] for r in mine],
                }
            )
    return rows


def ratio(medians: list[float]) -> float | None:
    return round(medians[49] / medians[0], 2) if len(medians) >= 50 else None


def bucket_summary(medians: list[float]) -> str:
    shown = [0, 5, 10, 20, 30, 40, 49, 50]
    return ", ".join(f"{k * BUCKET + 1}-{(k + 1) * BUCKET}: {medians[k]} ms" for k in shown if k < len(medians)) + (
        f"; 491-500 / 1-10 = {ratio(medians)}x" if ratio(medians) else ""
    )


def servers(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="session-length-"))
    database_url = seeded_database(work)
    data: dict[str, Any] = {"runs": [], "commands": []}
    if args.merge and RESULTS_JSON.exists():  # add this invocation's conversations to those measured before
        data = json.loads(RESULTS_JSON.read_text(encoding="utf-8"))
    data["commands"].append(
        {
            "command": "python bench/session_length.py " + " ".join(sys.argv[1:]),
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "load_average_before": [round(v, 2) for v in os.getloadavg()],
        }
    )
    data.update(
        machine=f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        messages=args.messages,
        model=args.model.name,
    )

    def on_run(run: dict[str, Any]) -> None:  # written after every conversation: a stopped run keeps them
        data["runs"].append(run)
        data["rows"] = rows_of(data["runs"])
        RESULTS_JSON.write_text(json.dumps(data) + "\n", encoding="utf-8")

    for store in args.stores.split(","):
        for mode in args.modes.split(","):
            measure(store, mode, args, work, database_url, on_run)
    plot(data)
    for row in data.get("rows", []):
        print(row["store"], row["mode"], bucket_summary(row["bucket_medians_ms"]))
    if args.write_results:
        write_section(data)
    return 0


def plot(results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    styles = {"stock": "--", "speedups": "-"}
    for row in results["rows"]:
        medians = row["bucket_medians_ms"]
        xs = [k * BUCKET + BUCKET for k in range(len(medians))]
        label = f"{row['store']} tracker store, {'Rasa as shipped' if row['mode'] == 'stock' else 'speedups'}"
        ax.plot(xs, medians, styles.get(row["mode"], "-"), label=label)
    ax.set(
        xlabel="messages in the session so far",
        ylabel="median latency per 10 messages (ms)",
        title="Latency against session length (one conversation)",
        yscale="log",
    )
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=90)


def section(results: dict[str, Any]) -> str:
    shown = [0, 5, 10, 20, 30, 40, 49, 50]
    n = min(len(r["bucket_medians_ms"]) for r in results["rows"])
    shown = [k for k in shown if k < n]
    head = " | ".join(f"{k * BUCKET + 1}-{(k + 1) * BUCKET}" for k in shown)
    commands = "; ".join(f"`{c['command']}` on {c['date']}" for c in results["commands"])
    lines = [
        SECTION,
        "",
        f"{commands}; machine: {results['machine']}; model {results['model']}. One conversation of "
        f"{results['messages']} messages from one verified customer, sent one after another over the in-app "
        "channel (a new conversation per repeat); each figure is the median latency (ms) of a 10-message "
        "bucket over all of a set-up's conversations (their number in the second column).",
        "",
        f"| tracker store | Rasa (conversations) | {head} | 491-500 / 1-10 |",
        "| --- | --- | " + " | ".join("---" for _ in shown) + " | --- |",
    ]
    for row in results["rows"]:
        m = row["bucket_medians_ms"]
        lines.append(
            f"| {row['store']} | {'as shipped' if row['mode'] == 'stock' else 'speedups'} ({row['conversations']}) | "
            + " | ".join(str(m[k]) for k in shown)
            + f" | {row['ratio_491_500_to_1_10']}x |"
        )
    lines += ["", "![latency against session length](session_length.png)", ""]
    return "\n".join(lines)


def write_section(results: dict[str, Any], notes: str = "") -> None:
    """Replace (or append) this benchmark's section of bench/results.md; other sections stay as they are."""
    path = ROOT / "bench" / "results.md"
    text = path.read_text(encoding="utf-8")
    new = section(results) + (notes.strip() + "\n" if notes.strip() else "")
    if SECTION in text:
        start = text.index(SECTION)
        following = text.find("\n## ", start + len(SECTION))
        text = text[:start] + new + (text[following + 1 :] if following != -1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + new
    path.write_text(text, encoding="utf-8")


async def profile(args: argparse.Namespace) -> int:
    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    work = Path(tempfile.mkdtemp(prefix="session-profile-"))
    database_url = seeded_database(work)
    port = free_port()
    env = server_env(database_url, args.mode, port)
    os.environ.update({k: env[k] for k in ("BOT_RASA_SPEEDUPS", "ACTION_SERVER_TOKEN", "ACTION_PORT")})
    actions = subprocess.Popen(
        [sys.executable, "-m", "bot.rasa_ext.action_server", "--port", str(port), "--domain", "domain"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    prefix = f"sessionprofile{uuid.uuid4().hex[:8]}"
    try:
        configure_logging_and_warnings(logging.WARNING)
        configure_structlog(logging.WARNING)
        if args.mode == "speedups":
            from bot.rasa_ext import speedups

            speedups.install()  # as the in-app channel does at start-up
        endpoints = AvailableEndpoints.read_endpoints(str(endpoints_file(args.store, work, prefix)))
        agent = await load_agent(model_path=str(args.model), endpoints=endpoints)
        time.sleep(3)  # the action server's start-up
        sender = "customer:S0000001"
        profiler = cProfile.Profile()
        timings = []
        for k in range(args.profile_from - 1 + args.profile_messages):
            message = UserMessage(
                MESSAGES[k % len(MESSAGES)],
                CollectingOutputChannel(),
                sender,
                input_channel="inapp",
                metadata={"authenticated": True},
            )
            profiling = k >= args.profile_from - 1
            t0 = time.perf_counter()
            if profiling:
                profiler.enable()
            await agent.handle_message(message)
            if profiling:
                profiler.disable()
            timings.append((time.perf_counter() - t0) * 1000)
        profiler.dump_stats(args.profile)
        print(f"in process, {args.store}, {args.mode}: " + bucket_summary(buckets([timings])))
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
        print(out.getvalue())
    finally:
        actions.terminate()
        actions.wait(timeout=20)
        if args.store == "redis":
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(match=f"{prefix}:*", count=1000):
                client.delete(key)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=510)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--stock-repeat", type=int, default=0, help="conversations with Rasa as shipped (default: --repeat)"
    )
    parser.add_argument("--merge", action="store_true", help="add to the conversations in bench/session_length.json")
    parser.add_argument("--render", action="store_true", help="only plot and write the section from the JSON")
    parser.add_argument("--stores", default="embedded,redis")
    parser.add_argument("--modes", default="stock,speedups")
    parser.add_argument("--model", type=Path, default=None, help="default: the latest in models/")
    parser.add_argument("--write-results", action="store_true", help="(re)write this section of bench/results.md")
    parser.add_argument("--profile", type=Path, help="profile in process instead, writing cProfile statistics here")
    parser.add_argument("--store", default="embedded", choices=["embedded", "redis"])
    parser.add_argument("--mode", default="speedups", choices=["stock", "speedups"])
    parser.add_argument("--profile-from", type=int, default=491)
    parser.add_argument("--profile-messages", type=int, default=20)
    args = parser.parse_args()
    args.model = args.model or latest_model()
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    if args.profile:
        return asyncio.run(profile(args))
    if args.render:
        data = json.loads(RESULTS_JSON.read_text(encoding="utf-8"))
        plot(data)
        write_section(data)
        return 0
    return servers(args)


if __name__ == "__main__":
    sys.exit(main())
