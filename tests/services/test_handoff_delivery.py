"""Handoff tickets reach a real HTTP helpdesk on 127.0.0.1 exactly once, whatever it does."""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from bot.clock import FixedClock
from bot.services.handoff import create_ticket, deliver_due, get_ticket, summarize
from bot.unit_of_work import SqlAlchemyUnitOfWork

NOW = dt.datetime(2026, 11, 28, 14, 0)
TRANSCRIPT = [
    {
        "sender": "user",
        "text": "我的验证码是 482913，卡号 4111 1111 1111 1111",
        "timestamp": "2026-11-28T06:00:00+00:00",
    },
    {"sender": "bot", "text": "请不要分享验证码。", "timestamp": "2026-11-28T06:00:01+00:00"},
]


class Helpdesk:
    """Accepts POSTs; dedups by Idempotency-Key like a real helpdesk; can fail on purpose."""

    def __init__(self, fail: callable = lambda n: False, port: int = 0) -> None:  # type: ignore[valid-type]
        self.fail, self.calls, self.accepted, self.bodies = fail, 0, Counter(), {}
        desk = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                desk.calls += 1
                if desk.fail(desk.calls):
                    self.send_response(500)
                else:
                    key = self.headers["Idempotency-Key"]
                    desk.accepted[key] += 1
                    desk.bodies[key] = body
                    self.send_response(200 if desk.accepted[key] == 1 else 208)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tickets"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def desk():
    d = Helpdesk()
    yield d
    d.close()


def uow(url):
    return lambda: SqlAlchemyUnitOfWork(url)


def ticket(url, conversation="customer:C1001", reason="request_human"):
    summary = summarize(
        reason,
        "C1001",
        ["ask_amount_due", "request_human"],
        ["EXT-2026-000001"],
        "L1001 #4 1,080.00 CNY, 12 days overdue",
    )
    return create_ticket(uow(url), conversation, "C1001", reason, "zh", summary, TRANSCRIPT, NOW)


def test_a_ticket_is_delivered_with_the_contract_payload_and_idempotency_key(sqlite_url, desk):
    t = ticket(sqlite_url)
    report = deliver_due(uow(sqlite_url), desk.url, FixedClock(NOW))
    assert report.delivered == 1
    body = desk.bodies[t.ticket_id]
    assert {
        "ticket_id",
        "conversation_id",
        "customer_id",
        "reason",
        "language",
        "summary",
        "created_at",
        "transcript",
    } <= set(body)
    assert body["customer_id"] == "C1001" and body["priority"] == "normal"
    assert (
        "Why: request_human" in body["summary"]
        and "EXT-2026-000001" in body["summary"]
        and "1,080.00" in body["summary"]
    )
    assert [m["sender"] for m in body["transcript"]] == ["user", "bot"]
    assert "482913" not in json.dumps(body) and "4111 1111 1111 1111" not in json.dumps(body)
    assert get_ticket(uow(sqlite_url), t.ticket_id).status == "delivered"


def test_a_helpdesk_answering_500_is_retried_with_backoff_until_it_accepts(sqlite_url):
    desk = Helpdesk(fail=lambda n: n <= 2)
    try:
        t = ticket(sqlite_url)
        assert deliver_due(uow(sqlite_url), desk.url, FixedClock(NOW)).failed == 1
        assert deliver_due(uow(sqlite_url), desk.url, FixedClock(NOW)).failed == 0  # not due yet: backoff
        assert deliver_due(uow(sqlite_url), desk.url, FixedClock(NOW + dt.timedelta(seconds=2))).failed == 1
        assert deliver_due(uow(sqlite_url), desk.url, FixedClock(NOW + dt.timedelta(seconds=7))).delivered == 1
        view = get_ticket(uow(sqlite_url), t.ticket_id)
        assert view.status == "delivered" and view.attempts == 3 and desk.accepted[t.ticket_id] == 1
    finally:
        desk.close()


def test_a_helpdesk_that_is_down_for_a_while_gets_the_ticket_when_it_is_back(sqlite_url, desk):
    t = ticket(sqlite_url)
    down = desk.url.rsplit(":", 1)[0] + ":1/tickets"
    for k in range(3):
        assert (
            deliver_due(uow(sqlite_url), down, FixedClock(NOW + dt.timedelta(seconds=10 * k)), timeout=0.5).failed == 1
        )
    assert get_ticket(uow(sqlite_url), t.ticket_id).last_error == "ConnectionError"
    assert deliver_due(uow(sqlite_url), desk.url, FixedClock(NOW + dt.timedelta(minutes=5))).delivered == 1
    assert desk.accepted[t.ticket_id] == 1


def test_a_worker_that_dies_after_posting_delivers_again_and_the_helpdesk_sees_one_ticket(sqlite_url, desk):
    t = ticket(sqlite_url)

    class DiesAfterPost:
        def post(self, *args, **kwargs):
            requests.post(*args, **kwargs)  # noqa: S113 - the caller passes timeout=
            raise SystemExit("worker killed")

    with pytest.raises(SystemExit):
        deliver_due(uow(sqlite_url), desk.url, FixedClock(NOW), http=DiesAfterPost(), lease_seconds=60)
    assert get_ticket(uow(sqlite_url), t.ticket_id).status == "sending"  # claimed, not lost
    # A restarted worker leaves it alone while the dead worker's lease holds, then sends it again.
    assert deliver_due(uow(sqlite_url), desk.url, FixedClock(NOW + dt.timedelta(seconds=59))).delivered == 0
    assert deliver_due(uow(sqlite_url), desk.url, FixedClock(NOW + dt.timedelta(seconds=60))).delivered == 1
    assert desk.calls == 2 and desk.accepted[t.ticket_id] == 2 and len(desk.accepted) == 1  # same key twice


def test_soak_200_tickets_with_random_helpdesk_failures_all_arrive_exactly_once(sqlite_url):
    rng = random.Random(42)
    desk = Helpdesk(fail=lambda n: rng.random() < 0.3)
    try:
        tickets = [ticket(sqlite_url, conversation=f"visitor:soak{k:04d}") for k in range(200)]
        at = NOW
        for _ in range(200):  # bounded: stops by itself
            deliver_due(uow(sqlite_url), desk.url, FixedClock(at), limit=50)
            at += dt.timedelta(minutes=5)
            if len(desk.accepted) == 200:
                break
        assert set(desk.accepted) == {t.ticket_id for t in tickets}
        assert all(get_ticket(uow(sqlite_url), t.ticket_id).status == "delivered" for t in tickets)
        assert max(desk.accepted.values()) == 1
    finally:
        desk.close()
