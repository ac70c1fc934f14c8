"""Shared fixtures: a pinned today, migrated and seeded SQLite and PostgreSQL databases."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text

from bot import db
from bot.migrate import upgrade
from bot.seed import load_demo

TODAY = dt.date(2026, 11, 28)

# tests/hosts/ builds network namespaces (root) and takes minutes: only `make test-hosts` runs it.
collect_ignore = [] if os.environ.get("RUN_HOSTS_TESTS") == "1" else ["hosts"]
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


@pytest.fixture
def today() -> dt.date:
    return TODAY


def seed(url: str, today: dt.date = TODAY) -> str:
    """Migrate the database at url and load the demo data; returns url."""
    upgrade(url)
    with db.session_factory(url)() as session:
        load_demo(session, today)
        session.commit()
    return url


@pytest.fixture
def sqlite_url(tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    yield seed(url)
    db.dispose_all()


@contextmanager
def seeded_postgres(prefix: str = "bot_test") -> Iterator[str]:
    """A fresh database on the local PostgreSQL server with the demo data, dropped afterwards
    (also when a test has blocked connections to it to simulate an outage)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - only when the server is missing
        admin.dispose()
        pytest.fail(f"PostgreSQL at {POSTGRES_ADMIN_URL} is required for this test: {exc}")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield seed(url)
    finally:
        db.dispose_all()
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the local PostgreSQL server, dropped afterwards."""
    with seeded_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request) -> str:  # type: ignore[no-untyped-def]
    """Run a test against both databases the bot supports."""
    return request.getfixturevalue(f"{request.param}_url")


REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/1")


def require_redis() -> str:
    """The local Redis (database 1) for tests of the shared stores; fails clearly if it is down."""
    import redis

    try:
        redis.Redis.from_url(REDIS_TEST_URL).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {REDIS_TEST_URL} is required for this test: {exc}")
    return REDIS_TEST_URL


@pytest.fixture
def redis_url() -> str:
    return require_redis()


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Settings are read once per process; a test that sets the environment gets them read anew."""
    from bot.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
