"""Loan-record service latency at scale: account_overview on PostgreSQL with N synthetic customers.

    python bench/service_latency.py [--customers 100000] [--samples 2000] [--url postgresql+psycopg2://...]

Creates a fresh database on the server (dropped afterwards), migrates it, bulk-loads the
synthetic book (Faker zh_CN/en), then times account_overview for random customers.
Prints and returns a dict of figures (used by bench/run.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import time
import uuid

from sqlalchemy import create_engine, text

from bot import db
from bot.migrate import upgrade
from bot.seed import load_synthetic
from bot.services.loans import account_overview
from bot.unit_of_work import SqlAlchemyUnitOfWork

TODAY = dt.date(2026, 11, 28)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run(customers: int, samples: int, admin_url: str) -> dict[str, float]:
    name = f"bot_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        started = time.perf_counter()
        with db.session_factory(url)() as session:
            load_synthetic(session, customers, TODAY)
        load_s = time.perf_counter() - started
        # Fresh tables have no planner statistics; ANALYZE must not run inside a transaction
        # that is rolled back (its statistics would be lost with it).
        with db.get_engine(url).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
        factory = lambda: SqlAlchemyUnitOfWork(url)  # noqa: E731
        rng = random.Random(3)
        ids = [f"S{rng.randrange(customers):07d}" for _ in range(samples)]
        for cid in ids[:100]:  # warm the pool and caches
            account_overview(factory, cid, TODAY)
        timings = []
        for cid in ids:
            t0 = time.perf_counter()
            account_overview(factory, cid, TODAY)
            timings.append((time.perf_counter() - t0) * 1000)
        return {
            "customers": customers,
            "samples": samples,
            "load_seconds": round(load_s, 1),
            "p50_ms": round(statistics.median(timings), 2),
            "p99_ms": round(percentile(timings, 99), 2),
            "max_ms": round(max(timings), 2),
        }
    finally:
        db.dispose_all()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    print(json.dumps(run(args.customers, args.samples, args.url)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
