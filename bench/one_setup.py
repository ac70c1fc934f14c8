"""One set-up of `make bench` on its own, with Rasa's and the action server's CPU per message apart.

    python bench/one_setup.py MODEL [--scaled] [--returning-share 0.2] [--levels 1,20] [--seconds 20]
                              [--keep-database]

What bench/run.py does for one set-up, without training, the baseline or the soak, for profiling
a change: a fresh PostgreSQL database `bot_bench` (demo + 50,000 synthetic customers; with
--keep-database the one a previous run left), one verified conversation recorded once (kept in
bench_one/recorded.json under the temporary directory), the assistant (one process, `make run`'s endpoints.yml; --scaled:
two Rasa workers over Redis database 2, endpoints.scaled.yml), the returning customers' long
sessions written into its tracker store (none with --returning-share 0), then the benchmark's
load at each level. Prints one line per level; cpu_ms is server CPU per message, per process group.
Attach a profiler to the printed pids meanwhile (py-spy record --gil -p PID).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench.run as br  # noqa: E402
from bot import db  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.seed import load_demo, load_synthetic  # noqa: E402

WORK = Path(tempfile.gettempdir()) / "bench_one"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", type=Path)
    parser.add_argument("--scaled", action="store_true", help="two Rasa workers over Redis")
    parser.add_argument("--returning-share", type=float, default=br.RETURNING_SHARE)
    parser.add_argument("--levels", default="1,20", help="concurrent conversations, comma-separated")
    parser.add_argument("--seconds", type=float, default=20, help="per level")
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()
    br.RETURNING_SHARE = args.returning_share
    WORK.mkdir(exist_ok=True)
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("SANIC_WORKERS", None)
    env.pop("REDIS_URL", None)
    url = br.ADMIN_URL.rsplit("/", 1)[0] + "/bot_bench"
    if not args.keep_database:
        url = br.fresh_database("bot_bench")
        upgrade(url)
        today = dt.date.fromisoformat(br.TODAY)
        with db.session_factory(url)() as session:
            load_demo(session, today)
            session.commit()
            load_synthetic(session, br.LOAD_CUSTOMERS, today)
        db.dispose_all()
    import redis

    redis.Redis.from_url(br.REDIS_URL).flushdb()
    env.update(
        DATABASE_URL=url, BOT_TODAY=br.TODAY, BOT_JWT_SECRET=br.SECRET, ACTION_SERVER_TOKEN="bench-action-token-0123456789",
        RATE_LIMIT_PER_IP="100000000", RATE_LIMIT_PER_CONVERSATION="100000", DAILY_MESSAGES_PER_CONVERSATION="100000000",
    )  # fmt: skip
    total = br.LOAD_CUSTOMERS
    br.RETURNING[:] = [f"S{total - br.RETURNING_CUSTOMERS + k:07d}" for k in range(br.RETURNING_CUSTOMERS)]
    br.LOAD_CUSTOMERS = total - br.RETURNING_CUSTOMERS
    kept = WORK / "recorded.json"
    if kept.exists():
        events, customer = json.loads(kept.read_text(encoding="utf-8"))
    else:
        recorder = br.Stack("recording", args.model, "endpoints.yml", env, WORK)
        try:
            recorder.wait_first_answer()
            customer = f"S{br.LOAD_CUSTOMERS - 1:07d}"
            events = br.record_session(recorder, customer)
        finally:
            recorder.stop()
        kept.write_text(json.dumps([events, customer]), encoding="utf-8")
    extra = {"SANIC_WORKERS": "2", "REDIS_URL": br.REDIS_URL} if args.scaled else {}
    endpoints = "endpoints.scaled.yml" if args.scaled else "endpoints.yml"
    stack = br.Stack("scaled" if args.scaled else "assistant", args.model, endpoints, {**env, **extra}, WORK)
    try:
        print("cold start", stack.wait_first_answer(), "s; pids", stack.pids(), flush=True)
        if args.returning_share > 0:
            print("returning sessions written:", br.seed_returning(stack, events, customer), flush=True)
        for level in (int(x) for x in args.levels.split(",")):
            pids = stack.pids()
            before = {role: br.cpu_seconds(group) for role, group in pids.items()}
            row = asyncio.run(br.load(stack.webhook, level, args.seconds))
            n = max(1, row["messages"])
            row["cpu_ms"] = {role: round(1000 * (br.cpu_seconds(pids[role]) - before[role]) / n, 1) for role in pids}
            print(row, flush=True)
        print("rss MB", stack.memory(), flush=True)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
