"""Whether this Rasa worker can serve customers: the load balancer's health check.

``GET /webhooks/inapp/health`` (bot.rasa_ext.channel) answers 200 ``{"status": "ok", ...}`` when
the worker has a loaded model, the records database answers and Redis answers PING (when
``REDIS_URL`` is set); 503 ``{"status": "unavailable", "failing": [...]}`` naming what did not;
and 503 ``{"status": "draining"}`` while the file ``DRAIN_FILE`` exists or after the worker was
told to stop (SIGTERM: Sanic's own handler sets ``app.is_stopping``), so the balancer sends no new
connections while the requests in flight finish.

A health-check storm must not load the database: the result is kept for ``CACHE_SECONDS`` per
worker, concurrent checks share one probe, and the database is probed in a daemon thread of its
own (not the thread pool the chat's database calls use; a hung probe cannot hold up the exit),
never more than one at a time. A probe that has not answered within ``PROBE_TIMEOUT_SECONDS``
counts as failed; while it still hangs, the database keeps failing without another probe. Only the names of the failing parts are shown, never an error
message, address or secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

CACHE_SECONDS = 1.0
PROBE_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class Health:
    """What the health endpoint says: ``ok``, ``unavailable`` (with the failing parts) or ``draining``."""

    status: str
    failing: tuple[str, ...] = ()
    checks: dict[str, str] = field(default_factory=dict)
    model_id: str | None = None

    @property
    def http_status(self) -> int:
        return 200 if self.status == "ok" else 503

    def payload(self) -> dict[str, Any]:
        if self.status == "draining":
            return {"status": "draining"}
        if self.status == "unavailable":
            return {"status": "unavailable", "failing": list(self.failing)}
        return {"status": "ok", "checks": dict(self.checks), "model_id": self.model_id}


DRAINING = Health("draining")


def judge(results: dict[str, bool | None], model_id: str | None = None) -> Health:
    """The verdict of the probes: each part is True (answers), False (fails) or None (not configured);
    any failing part makes the worker unavailable, listed in the order the parts were probed."""
    failing = tuple(name for name, ok in results.items() if ok is False)
    if failing:
        return Health("unavailable", failing)
    checks = {name: "ok" if ok else "not configured" for name, ok in results.items()}
    return Health("ok", checks=checks, model_id=model_id)


def is_draining(drain_file: Path | None, stopping: bool) -> bool:
    """A worker drains while the drain file exists (an operator's or a preStop hook's signal) or once it stops."""
    return stopping or (drain_file is not None and drain_file.exists())


def query_database(database_url: str) -> None:
    """One trivial query on the records database (the schema's version row: migrations have run)."""
    from sqlalchemy import text

    from bot.db import get_engine

    with get_engine(database_url).connect() as conn:
        conn.execute(text("SELECT version_num FROM alembic_version")).first()


async def ping_redis(redis_url: str, timeout: float) -> None:
    from bot.rasa_ext.redis_clients import async_client

    await async_client(redis_url, timeout).ping()


class HealthCheck:
    """The health of one worker, cached for ``cache_seconds``; see the module docstring."""

    def __init__(
        self,
        database_url: str,
        redis_url: str | None,
        drain_file: Path | None,
        *,
        cache_seconds: float = CACHE_SECONDS,
        timeout: float = PROBE_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        database_probe: Callable[[str], None] = query_database,
        redis_probe: Callable[[str, float], Awaitable[None]] = ping_redis,
    ) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        self.drain_file = drain_file
        self.cache_seconds = cache_seconds
        self.timeout = timeout
        self._clock = clock
        self._database_probe = database_probe
        self._redis_probe = redis_probe
        self._database_running: asyncio.Future[None] | None = None
        self._checking: asyncio.Future[Health] | None = None
        self._last: tuple[float, Health] | None = None
        self._last_failing: tuple[str, ...] = ()

    async def status(self, agent: Any, stopping: bool = False) -> Health:
        """The worker's health now: draining first, else the cached or a freshly probed verdict."""
        if is_draining(self.drain_file, stopping):
            return DRAINING
        if self._last is not None and self._clock() - self._last[0] < self.cache_seconds:
            return self._last[1]
        if self._checking is None:
            self._checking = asyncio.ensure_future(self._check(agent))
        # Shielded: a health checker that hangs up does not cancel the probe the others wait for.
        return await asyncio.shield(self._checking)

    async def _check(self, agent: Any) -> Health:
        try:
            database, redis = await asyncio.gather(self._database(), self._redis())
            model_ready = _model_ready(agent)
            results = {"model": model_ready, "database": database, "redis": redis}
            health = judge(results, getattr(agent, "model_id", None) if model_ready else None)
            if health.failing != self._last_failing:
                if health.failing:
                    logger.warning("health: unavailable, failing: %s", ", ".join(health.failing))
                else:
                    logger.info("health: ok again")
                self._last_failing = health.failing
            self._last = (self._clock(), health)
            return health
        finally:
            self._checking = None

    async def _database(self) -> bool:
        running = self._database_running
        if running is not None and not running.done():
            return False  # the last probe still hangs: no second one piles up behind it
        probe = self._start_database_probe()
        self._database_running = probe
        try:
            await asyncio.wait_for(asyncio.shield(probe), self.timeout)
        except Exception as exc:  # noqa: BLE001 - any failure (or the timeout) means "not serving"
            logger.debug("health: the records database did not answer (%s)", type(exc).__name__)
            return False
        return True

    async def _redis(self) -> bool | None:
        if not self.redis_url:
            return None
        try:
            await asyncio.wait_for(self._redis_probe(self.redis_url, self.timeout), self.timeout)
        except Exception as exc:  # noqa: BLE001 - any failure (or the timeout) means "not serving"
            logger.debug("health: Redis did not answer PING (%s)", type(exc).__name__)
            return False
        return True

    def _start_database_probe(self) -> asyncio.Future[None]:
        """Run the blocking probe in a daemon thread of its own: never in the thread pool the chat's
        database calls use, and a probe hanging on an unreachable host does not hold up the exit."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        done.add_done_callback(_forget)

        def probe() -> None:
            error: BaseException | None = None
            try:
                self._database_probe(self.database_url)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting coroutine
                error = exc
            with contextlib.suppress(RuntimeError):  # the event loop closed meanwhile (the worker stopped)
                loop.call_soon_threadsafe(_settle, done, error)

        threading.Thread(target=probe, name="health-database-probe", daemon=True).start()
        return done


def _model_ready(agent: Any) -> bool:
    """Rasa's agent has a model and a tracker store (Agent.is_ready); no agent yet is not ready."""
    try:
        return agent is not None and bool(agent.is_ready())
    except Exception:  # noqa: BLE001 - an agent that cannot say is not ready
        return False


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def _forget(future: asyncio.Future[None]) -> None:
    # A probe abandoned at its timeout may fail later; retrieve its error so asyncio does not log it.
    if not future.cancelled():
        future.exception()
