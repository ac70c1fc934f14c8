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
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench.run as br  # noqa: E402

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
    env = br.base_env()
    if args.keep_database:
        url = br.ADMIN_URL.rsplit("/", 1)[0] + "/bot_bench"
        import redis

        redis.Redis.from_url(br.REDIS_URL).flushdb()
    else:
        url = br.seeded_database(br.LOAD_CUSTOMERS)
    env.update(br.server_env(url))
    br.choose_returning(br.LOAD_CUSTOMERS)
    kept = WORK / "recorded.json"
    if kept.exists():
        events, customer = json.loads(kept.read_text(encoding="utf-8"))
    else:
        events, customer = br.record(args.model, env, WORK)
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
