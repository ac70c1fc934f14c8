"""The load balancer's health check of a Rasa worker over HTTP: ok, draining while the drain file
exists, unavailable while the records database is, and never counted against the per-IP limit."""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.conftest import POSTGRES_ADMIN_URL

pytestmark = pytest.mark.servers
LIMIT = 5
DRAIN = Path(tempfile.gettempdir()) / f"bot-health-drain-{uuid.uuid4().hex[:10]}"
SERVER_OPTIONS = {
    "postgres": True,  # a database the test can make unreachable
    "env": {"RATE_LIMIT_PER_IP": str(LIMIT), "DRAIN_FILE": str(DRAIN), "REDIS_URL": ""},
}
CACHE_SECONDS = 1.0


def health(bot) -> requests.Response:
    return requests.get(f"{bot.base}/webhooks/inapp/health", timeout=10)


def eventually(bot, status: int, within: float = 3 * CACHE_SECONDS + 2) -> requests.Response:
    """The first health answer with this status (the verdict is cached for a second per worker)."""
    deadline = time.monotonic() + within
    while True:
        reply = health(bot)
        if reply.status_code == status or time.monotonic() > deadline:
            return reply
        time.sleep(0.2)


def test_a_worker_with_its_model_and_database_is_ok_and_says_only_what_it_checked(bot):
    reply = health(bot)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"model": "ok", "database": "ok", "redis": "not configured"}
    assert body["model_id"]
    assert set(body) == {"status", "checks", "model_id"}
    assert reply.headers["Cache-Control"] == "no-store"
    assert bot.database_url.rsplit("/", 1)[1] not in reply.text  # nothing about where the records are


def test_a_worker_drains_while_the_drain_file_exists_and_serves_again_once_it_is_gone(bot):
    DRAIN.touch()
    try:
        reply = health(bot)  # at once, not after the cached second
        assert reply.status_code == 503 and reply.json() == {"status": "draining"}
        assert bot.say("你好", sender="anon_during_drain")  # requests still reaching it are answered
    finally:
        DRAIN.unlink()
    reply = eventually(bot, 200)
    assert reply.status_code == 200 and reply.json()["status"] == "ok"


def test_health_checks_do_not_count_against_the_per_ip_limit(bot):
    assert [health(bot).status_code for _ in range(6 * LIMIT)] == [200] * (6 * LIMIT)
    # The limit is in force for the webhook from this address (a bad body is refused after counting)...
    statuses = []
    for _ in range(2 * LIMIT + 2):  # enough to fill a minute's budget even across a window boundary
        statuses.append(requests.post(bot.url, json={}, timeout=10).status_code)
        if statuses[-1] == 429:
            break
    assert statuses[0] == 400, statuses  # not used up by the health checks before it
    assert statuses[-1] == 429, statuses
    # ...and the health check still answers while the webhook is refused.
    assert [health(bot).status_code for _ in range(LIMIT)] == [200] * LIMIT
    assert requests.post(bot.url, json={}, timeout=10).status_code == 429


def test_while_the_records_database_is_unreachable_the_worker_is_unavailable_naming_only_the_database(bot):
    name = bot.database_url.rsplit("/", 1)[1]
    admin = create_engine(POSTGRES_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # no new connections, existing ones cut
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
    try:
        reply = eventually(bot, 503)
        assert reply.status_code == 503, reply.text
        assert reply.json() == {"status": "unavailable", "failing": ["database"]}
        assert name not in reply.text and "postgres" not in reply.text.lower()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()
    reply = eventually(bot, 200)
    assert reply.status_code == 200, reply.text
