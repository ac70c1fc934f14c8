"""Waiting for a busy conversation: how soon the second message gets the lock the first releases.

    python bench/lock_wait.py [--trials 300] [--stock-trials 60] [--http-trials 80] [--no-http] [--write]

Store level (no server), for each lock store: a first message holds a conversation's lock, a
second one queues on it, and after a random 5-50 ms (5-1000 ms for Rasa's store: the moment
falls anywhere in a poll interval) the first leaves. Measured: from the first message leaving its ``async with
store.lock(...)`` block (the release included) to the second one entering it, with each
store's default waiting (as Rasa calls ``lock()``):

- Rasa's ``InMemoryLockStore`` (what ``make run`` used before: polls once a second);
- ``EventInMemoryLockStore`` (endpoints.yml);
- ``AtomicRedisLockStore`` (endpoints.scaled.yml) with the first message in another process
  (another worker, its own store and Redis connections; both read the same monotonic clock);
- the same while its Redis subscription is unreachable (the fallback poll).

End to end (unless ``--no-http``): an action server and Rasa on the latest model in models/,
once with Rasa's ``InMemoryLockStore``, once with endpoints.yml, once with endpoints.scaled.yml
and two workers (Redis database 3), each without its event broker and over a temporary SQLite
database, the lock store wrapped to note its times (``Timed``). Each trial sends two messages
to a new anonymous conversation, the second 5 ms after the first on another connection.
Reported, for the conversations whose second message queued while the first held the lock:
from the first leaving the lock to the second getting it, as the servers saw it.

Prints markdown tables; ``--write`` puts them into the section "Waiting for a busy
conversation" of bench/results.md, leaving the other sections as they are.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rasa.core.lock_store import InMemoryLockStore, LockStore  # noqa: E402
from rasa.utils.endpoints import EndpointConfig  # noqa: E402

from bench.service_latency import percentile  # noqa: E402
from bot.rasa_ext.lock_store import AtomicRedisLockStore, EventInMemoryLockStore, Subscription  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/3"  # the benchmark's own database; its keys are deleted after
SECTION = "## Waiting for a busy conversation"
FIRST, SECOND = "我为什么收到逾期短信", "how much does 张伟 owe?"


def figures(delays_ms: list[float]) -> dict[str, float]:
    return {
        "trials": len(delays_ms),
        "p50_ms": round(statistics.median(delays_ms), 2),
        "p99_ms": round(percentile(delays_ms, 99), 2),
        "max_ms": round(max(delays_ms), 2),
    }


def queued(store: LockStore, conversation: str) -> bool:
    lock = store.get_lock(conversation)
    return lock is not None and len(lock.tickets) == 2


# -- store level, both messages in this process -------------------------------------------------


async def hold(store: LockStore, conversation: str, held: asyncio.Event, release: asyncio.Event) -> float:
    """The first message: take the lock, keep it until told, return when it left."""
    async with store.lock(conversation):
        held.set()
        await release.wait()
        released = time.monotonic()
    return released


async def take(store: LockStore, conversation: str) -> float:
    """The second message: queue for the lock, return when it got it."""
    async with store.lock(conversation):
        return time.monotonic()


async def in_process_trials(
    store: LockStore, trials: int, rng: random.Random, longest_hold: float = 0.05
) -> list[float]:
    delays = []
    for k in range(trials):
        conversation = f"c{k}"
        held, release = asyncio.Event(), asyncio.Event()
        holder = asyncio.create_task(hold(store, conversation, held, release))
        await held.wait()
        waiter = asyncio.create_task(take(store, conversation))
        while not queued(store, conversation):
            await asyncio.sleep(0)
        await asyncio.sleep(rng.uniform(0.005, longest_hold))
        release.set()
        released, acquired = await asyncio.gather(holder, waiter)
        delays.append((acquired - released) * 1000)
    return delays


# -- store level, the first message in another process (another worker) --------------------------


def holder_main(url: str, prefix: str) -> None:
    """The other worker: on "hold <id>" take the lock, on "release" leave it and say when it left."""

    async def main() -> None:
        store = AtomicRedisLockStore(EndpointConfig(url=url, key_prefix=prefix))
        read = asyncio.get_running_loop().run_in_executor
        while line := (await read(None, sys.stdin.readline)).strip():
            conversation = line.split()[1]
            async with store.lock(conversation):
                print("held", flush=True)
                await read(None, sys.stdin.readline)
                released = time.monotonic()
            print(f"released {released!r}", flush=True)

    asyncio.run(main())


async def cross_process_trials(
    store: AtomicRedisLockStore, prefix: str, trials: int, rng: random.Random
) -> list[float]:
    holder = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--holder", REDIS_URL, prefix, cwd=ROOT,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    assert holder.stdin is not None and holder.stdout is not None
    delays = []
    try:
        for k in range(trials):
            conversation = f"c{k}"
            holder.stdin.write(f"hold {conversation}\n".encode())
            await holder.stdin.drain()
            assert (await holder.stdout.readline()).strip() == b"held"
            waiter = asyncio.create_task(take(store, conversation))
            while not await _queued_in_redis(store, conversation):
                await asyncio.sleep(0.001)
            await asyncio.sleep(rng.uniform(0.005, 0.05))
            holder.stdin.write(b"release\n")
            await holder.stdin.drain()
            released = float((await holder.stdout.readline()).split()[1])
            delays.append((await waiter - released) * 1000)
    finally:
        holder.stdin.close()
        await holder.wait()
    return delays


async def _queued_in_redis(store: AtomicRedisLockStore, conversation: str) -> bool:
    raw = await store._aclient().get(store._key(conversation))
    return raw is not None and raw.count(b"number") == 2


async def store_level(trials: int, stock_trials: int) -> list[dict[str, Any]]:
    rng = random.Random(19)
    rows = []
    for name, store, n, longest_hold in (
        # held up to a whole poll interval, so that the release falls anywhere in the waiter's poll
        ("Rasa's InMemoryLockStore (before; polls every 1 s)", InMemoryLockStore(), stock_trials, 1.0),
        ("EventInMemoryLockStore (endpoints.yml)", EventInMemoryLockStore(), trials, 0.05),
    ):
        rows.append({"store": name, **figures(await in_process_trials(store, n, rng, longest_hold))})
        print(rows[-1], flush=True)
    prefix = "lockbench" + uuid.uuid4().hex[:8]
    redis_store = AtomicRedisLockStore(EndpointConfig(url=REDIS_URL, key_prefix=prefix))
    rows.append(
        {
            "store": "AtomicRedisLockStore (endpoints.scaled.yml), first message in another process",
            **figures(await cross_process_trials(redis_store, prefix, trials, rng)),
        }
    )
    print(rows[-1], flush=True)
    unsubscribed = AtomicRedisLockStore(EndpointConfig(url=REDIS_URL, key_prefix=prefix))
    unsubscribed._subscriptions[asyncio.get_running_loop()] = Subscription(
        "redis://127.0.0.1:1/0", unsubscribed.channel_prefix, 0.5
    )  # nothing listens on port 1: no notifications
    rows.append(
        {
            "store": "the same, Redis subscription unreachable (fallback poll)",
            **figures(await cross_process_trials(unsubscribed, prefix, max(20, trials // 3), rng)),
        }
    )
    print(rows[-1], flush=True)
    return rows


# -- end to end, through running servers -------------------------------------------------------


def without_section(endpoints: str, section: str) -> str:
    """endpoints.yml's text without one top-level section (and the comment lines just before it)."""
    lines = endpoints.splitlines(keepends=True)
    out: list[str] = []
    skipping = False
    for line in lines:
        top = line[:1] not in (" ", "#", "\n", "")
        if top:
            skipping = line.startswith(f"{section}:")
            if skipping:
                while out and out[-1].startswith("#"):
                    out.pop()
        if not skipping:
            out.append(line)
    return "".join(out)


class Timed:
    """A lock store that appends each message's times at the lock to $LOCKBENCH_LOG (the servers' side).

    One JSON line per message: when it asked for the lock, got it, and left it (before the
    release, as in the store-level trials); the clock is the machine's monotonic clock, which all
    worker processes share.
    """

    @asynccontextmanager
    async def lock(self, conversation_id: str, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        requested = time.monotonic()
        async with super().lock(conversation_id, *args, **kwargs) as held:  # type: ignore[misc]
            acquired = time.monotonic()
            try:
                yield held
            finally:
                released = time.monotonic()
        times = {"conversation": conversation_id, "requested": requested, "acquired": acquired, "released": released}
        with open(os.environ["LOCKBENCH_LOG"], "a", encoding="utf-8") as log:
            log.write(json.dumps(times) + "\n")


class TimedInMemoryLockStore(Timed, InMemoryLockStore):
    def __init__(self, endpoint_config: EndpointConfig | None = None) -> None:
        super().__init__()


class TimedEventInMemoryLockStore(Timed, EventInMemoryLockStore):
    pass


class TimedAtomicRedisLockStore(Timed, AtomicRedisLockStore):
    pass


async def http_trials(webhook: str, trials: int, run: str) -> None:
    """Two messages to each of ``trials`` new anonymous conversations, the second 5 ms after the first."""
    import aiohttp

    async def say(session: aiohttp.ClientSession, sender: str, text: str) -> None:
        async with session.post(webhook, json={"message": text, "sender": sender}) as reply:
            await reply.read()
            assert reply.status == 200, reply.status

    timeout = aiohttp.ClientTimeout(total=60)
    connector = {"force_close": True}  # a new connection per message: with two workers, either may answer
    async with (
        aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(**connector)) as one,
        aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(**connector)) as two,
    ):
        for k in range(trials):
            sender = f"lockbench_{run}_{k}"
            first = asyncio.create_task(say(one, sender, FIRST))
            await asyncio.sleep(0.005)
            await asyncio.gather(first, say(two, sender, SECOND))


def waits_at_the_lock(log: Path, prefix: str) -> dict[str, Any]:
    """From the servers' lock times: for each conversation whose second message queued while the
    first held the lock, the time from the first leaving to the second getting it."""
    sessions: dict[str, list[dict[str, float]]] = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        times = json.loads(line)
        if prefix in times["conversation"]:
            sessions.setdefault(times["conversation"], []).append(times)
    delays, not_queued = [], 0
    for pair in sessions.values():
        first, second = sorted(pair, key=lambda t: t["acquired"])
        if second["requested"] < first["released"]:
            delays.append((second["acquired"] - first["released"]) * 1000)
        else:
            not_queued += 1
    return {**figures(delays), "not_queued": not_queued}


def end_to_end(trials: int) -> list[dict[str, Any]]:
    import redis

    from bench.run import Stack
    from bot import db
    from bot.migrate import upgrade
    from bot.seed import load_demo

    work = Path(tempfile.mkdtemp(prefix="lockbench-"))
    database = f"sqlite:///{work / 'bot.db'}"
    upgrade(database)
    with db.session_factory(database)() as session:
        load_demo(session, __import__("datetime").date(2026, 11, 28))
        session.commit()
    db.dispose_all()
    embedded = without_section((ROOT / "endpoints.yml").read_text(encoding="utf-8"), "event_broker")
    scaled = without_section((ROOT / "endpoints.scaled.yml").read_text(encoding="utf-8"), "event_broker")
    store_type = "type: bot.rasa_ext.lock_store."
    assert embedded.count(store_type) == 1 and scaled.count(store_type) == 1
    setups = [
        (
            "one process, Rasa's InMemoryLockStore (before)",
            embedded.replace(store_type + "EventInMemoryLockStore", "type: bench.lock_wait.TimedInMemoryLockStore"),
            {},
        ),
        (
            "one process, EventInMemoryLockStore (`make run`)",
            embedded.replace(store_type, "type: bench.lock_wait.Timed"),
            {},
        ),
        (
            "2 workers, AtomicRedisLockStore (`make run-scaled`)",
            scaled.replace(store_type, "type: bench.lock_wait.Timed"),
            {"SANIC_WORKERS": "2", "REDIS_URL": REDIS_URL},
        ),
    ]
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"SANIC_WORKERS", "REDIS_URL", "HANDOFF_WEBHOOK_URL"}},
        "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2", "DATABASE_URL": database,
        "BOT_TODAY": "2026-11-28", "BOT_JWT_SECRET": "lockbench-secret-0123456789abcdef0123456789",
        "ACTION_SERVER_TOKEN": "lockbench-action-token-0123456789", "RATE_LIMIT_PER_IP": "100000000",
        "RATE_LIMIT_PER_CONVERSATION": "100000", "DAILY_MESSAGES_PER_CONVERSATION": "100000000",
    }  # fmt: skip
    latest = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)[-1]
    model = Path(shutil.copy(latest, work / latest.name))  # a training meanwhile cannot change it
    rows = []
    run = uuid.uuid4().hex[:6]
    finished = False
    try:
        for k, (name, endpoints, extra) in enumerate(setups):
            path, log = work / f"endpoints-{k}.yml", work / f"locks-{k}.jsonl"
            path.write_text(endpoints, encoding="utf-8")
            log.touch()
            stack = Stack(f"lockbench{k}", model, str(path), {**env, **extra, "LOCKBENCH_LOG": str(log)}, work)
            try:
                stack.wait_first_answer()
                asyncio.run(http_trials(stack.webhook, trials, f"{run}{k}"))
            finally:
                stack.stop()
            rows.append({"setup": name, **waits_at_the_lock(log, f"lockbench_{run}{k}_")})
            print(rows[-1], flush=True)
        finished = True
    finally:
        red = redis.Redis.from_url(REDIS_URL)
        for pattern in (f"*lockbench_{run}*", "*:visitor:bench_coldstart*"):  # ours, and Stack's first message
            for key in red.scan_iter(match=pattern):
                red.delete(key)
        if finished:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"servers' logs kept in {work}", file=sys.stderr)
    return rows


# -- report -----------------------------------------------------------------------------------


def render(results: dict[str, Any]) -> str:
    lines = [
        SECTION,
        "",
        f"`{results['command']}` on {results['date']}; machine: {results['machine']}; "
        f"load average {results['load']} when it started (the machine was shared).",
        "",
        "From the first message leaving the lock (its release included) to the second one, queued "
        "behind it, getting it; each store waiting as Rasa calls it (default poll):",
        "",
        "| lock store | trials | p50 ms | p99 ms | max ms |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in results["stores"]:
        lines.append(f"| {r['store']} | {r['trials']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} |")
    if results.get("http"):
        lines += [
            "",
            "End to end: two messages to each of many new anonymous conversations over the in-app "
            "channel, the second sent 5 ms after the first; the servers' lock store (wrapped to note "
            "the times) gives, for each conversation whose second message queued while the first held "
            "the lock, the time from the first leaving the lock to the second getting it:",
            "",
            "| set-up | conversations where the second queued | p50 ms | p99 ms | max ms | second not queued |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for r in results["http"]:
            lines.append(
                f"| {r['setup']} | {r['trials']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} | {r['not_queued']} |"
            )
    return "\n".join(lines) + "\n"


def write_section(section: str, path: Path = ROOT / "bench" / "results.md") -> None:
    """Replace this benchmark's section of results.md (or add it at the end); the rest stays."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if SECTION in text:
        start = text.index(SECTION)
        following = text.find("\n## ", start + len(SECTION))
        rest = text[following + 1 :] if following != -1 else ""
        text = text[:start] + section + ("\n" + rest if rest else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--holder":
        holder_main(sys.argv[2], sys.argv[3])
        return 0
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=300, help="per store")
    parser.add_argument("--stock-trials", type=int, default=60, help="for Rasa's store (up to a second each)")
    parser.add_argument("--http-trials", type=int, default=80, help="per server set-up")
    parser.add_argument("--no-http", action="store_true", help="store level only")
    parser.add_argument("--write", action="store_true", help="put the results into bench/results.md")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "command": "python bench/lock_wait.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load": ", ".join(f"{v:.2f}" for v in os.getloadavg()),
    }
    results["stores"] = asyncio.run(store_level(args.trials, args.stock_trials))
    if not args.no_http:
        results["http"] = end_to_end(args.http_trials)
    section = render(results)
    print(section)
    if args.write:
        write_section(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
