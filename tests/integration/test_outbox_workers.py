"""The outboxes with real worker processes on PostgreSQL and a real HTTP receiver on 127.0.0.1.

Two workers started at once share the rows between them (each sent exactly once); a worker
killed mid-batch leaves its claimed rows to the next worker once the lease has expired.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import db
from bot.domain.model import HandoffTicket, SmsNotice
from bot.seed import load_synthetic
from bot.services.handoff import create_ticket
from bot.services.notices import run_notices
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.conftest import TODAY, seeded_postgres

ROOT = Path(__file__).resolve().parents[2]
BANK_NOW = dt.datetime.combine(TODAY, dt.time(14, 0))
pytestmark = pytest.mark.postgres


class Receiver:
    """Accepts POSTs after ``delay`` seconds and counts them by Idempotency-Key."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay, self.accepted, self.lock = delay, Counter(), threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.accepted[self.headers["Idempotency-Key"]] += 1
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/in"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def total(self) -> int:
        with self.lock:
            return sum(self.accepted.values())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def pg() -> Iterator[str]:
    with seeded_postgres("bot_outbox") as url:
        yield url


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(delay=0.01)
    yield r
    r.close()


def worker(url: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "BOT_NOW": BANK_NOW.isoformat(),
        "BOT_TODAY": "",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def make_tickets(url: str, count: int) -> list[str]:
    factory = lambda: SqlAlchemyUnitOfWork(url)  # noqa: E731
    return [
        create_ticket(factory, f"visitor:load{k:05d}", None, "request_human", "zh", "Why: load", [], BANK_NOW).ticket_id
        for k in range(count)
    ]


def statuses(url: str, model: type[HandoffTicket] | type[SmsNotice]) -> Counter[str]:
    with db.session_factory(url)() as session:
        return Counter(dict(session.execute(select(model.status, func.count()).group_by(model.status)).all()))


def test_two_ticket_workers_started_at_once_deliver_every_ticket_exactly_once(database_url, receiver) -> None:
    pg = database_url  # PostgreSQL skips locked rows; SQLite, without row locks, relies on the guarded UPDATE
    ids = make_tickets(pg, 60)
    workers = [worker(pg, "tickets", "worker", "--once", HANDOFF_WEBHOOK_URL=receiver.url) for _ in range(2)]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    assert set(receiver.accepted) == set(ids)
    assert max(receiver.accepted.values()) == 1
    assert statuses(pg, HandoffTicket) == Counter({"delivered": 60})
    delivered = [int(out.decode().split()[1].rstrip(",")) for out, _ in outputs if out.strip()]
    assert sum(delivered) == 60  # the two workers together, each ticket by one of them


def test_a_ticket_worker_killed_mid_batch_leaves_its_tickets_to_the_next_worker_after_the_lease(pg) -> None:
    slow = Receiver(delay=0.3)
    try:
        ids = make_tickets(pg, 8)
        first = worker(
            pg, "tickets", "worker", "--once", "--timeout", "1", "--lease-seconds", "6", HANDOFF_WEBHOOK_URL=slow.url
        )
        deadline = time.monotonic() + 60
        while slow.total() < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        held = statuses(pg, HandoffTicket)["sending"]
        assert held >= 1  # claimed by the dead worker, not lost
        # While the lease holds, another worker leaves them alone ...
        second = worker(pg, "tickets", "worker", "--once", "--timeout", "1", HANDOFF_WEBHOOK_URL=slow.url)
        second.communicate(timeout=60)
        assert statuses(pg, HandoffTicket)["sending"] == held
        # ... and sends them once it has expired (here: a worker whose clock is 30 s later).
        third = worker(
            pg,
            "tickets",
            "worker",
            "--once",
            "--timeout",
            "1",
            HANDOFF_WEBHOOK_URL=slow.url,
            BOT_NOW=(BANK_NOW + dt.timedelta(seconds=30)).isoformat(),
        )
        third.communicate(timeout=60)
        assert statuses(pg, HandoffTicket) == Counter({"delivered": 8})
        assert set(slow.accepted) == set(ids)
        # Only a ticket in flight when the worker died can arrive twice, with the same key.
        assert sum(n - 1 for n in slow.accepted.values()) <= 1
    finally:
        slow.close()


def test_two_notice_senders_started_at_once_send_every_notice_exactly_once(pg, receiver) -> None:
    with db.session_factory(pg)() as session:
        load_synthetic(session, 300, TODAY)
    report = run_notices(lambda: SqlAlchemyUnitOfWork(pg), None, BANK_NOW)  # record only
    assert len(report.recorded) >= 40
    # SMS (and any call tasks) reach the receiver; in-app messages go into the customers' chats.
    recorded = report.by_channel["sms"] + report.by_channel["call"]
    env = {"SMS_GATEWAY_URL": receiver.url, "SMS_GATEWAY_TOKEN": "gw-token", "DIALER_URL": receiver.url}
    senders = [worker(pg, "notices", "send", **env) for _ in range(2)]
    outputs = [s.communicate(timeout=120) for s in senders]
    assert [s.returncode for s in senders] == [0, 0], outputs
    assert len(receiver.accepted) == recorded and max(receiver.accepted.values()) == 1
    sent = statuses(pg, SmsNotice)
    assert sent["pending"] == 0 and sent["sending"] == 0
