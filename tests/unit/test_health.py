"""The load balancer's health check of a Rasa worker (bot.rasa_ext.health) and its two settings."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot.rasa_ext.health import HealthCheck, is_draining, judge
from bot.settings import SettingsError, load_settings


class Agent:
    def __init__(self, ready: bool = True) -> None:
        self.ready = ready
        self.model_id = "model-fingerprint-1"

    def is_ready(self) -> bool:
        return self.ready


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def check(**kwargs) -> HealthCheck:  # type: ignore[no-untyped-def]
    """A health check whose database always answers, unless the test gives a probe."""
    kwargs.setdefault("database_probe", lambda url: None)
    return HealthCheck("sqlite:///unused.db", kwargs.pop("redis_url", None), kwargs.pop("drain_file", None), **kwargs)


def test_the_verdict_lists_every_failing_part_and_nothing_else() -> None:
    assert judge({"model": True, "database": False, "redis": False}).payload() == {
        "status": "unavailable",
        "failing": ["database", "redis"],
    }
    ok = judge({"model": True, "database": True, "redis": None}, "abc")
    assert ok.http_status == 200
    assert ok.payload() == {
        "status": "ok",
        "checks": {"model": "ok", "database": "ok", "redis": "not configured"},
        "model_id": "abc",
    }
    assert judge({"model": False, "database": True, "redis": True}).http_status == 503


def test_a_worker_drains_while_the_drain_file_exists_or_once_it_stops(tmp_path) -> None:
    drain = tmp_path / "drain"
    assert not is_draining(drain, stopping=False)
    assert not is_draining(None, stopping=False)
    assert is_draining(None, stopping=True)
    drain.touch()
    assert is_draining(drain, stopping=False)


async def test_a_healthy_worker_is_ok_and_a_worker_without_a_model_is_not() -> None:
    assert (await check().status(Agent())).payload()["status"] == "ok"
    assert (await check().status(Agent(ready=False))).failing == ("model",)
    assert (await check().status(None)).failing == ("model",)


async def test_draining_wins_over_a_healthy_verdict_and_takes_effect_at_once(tmp_path) -> None:
    drain = tmp_path / "drain"
    health = check(drain_file=drain)
    assert (await health.status(Agent())).status == "ok"
    drain.touch()  # within the cache's second: still draining at once
    assert (await health.status(Agent())).payload() == {"status": "draining"}
    assert (await health.status(Agent())).http_status == 503
    drain.unlink()
    assert (await health.status(Agent())).status == "ok"
    assert (await health.status(Agent(), stopping=True)).status == "draining"


async def test_the_verdict_is_kept_for_a_second_so_a_storm_of_checks_probes_once() -> None:
    calls: list[str] = []
    clock = Clock()
    health = check(database_probe=calls.append, clock=clock)
    results = await asyncio.gather(*(health.status(Agent()) for _ in range(50)))
    assert {r.status for r in results} == {"ok"} and len(calls) == 1
    clock.now += 0.5
    await health.status(Agent())
    assert len(calls) == 1
    clock.now += 0.6
    await health.status(Agent())
    assert len(calls) == 2


async def test_a_failing_database_is_named_and_no_error_text_is_shown() -> None:
    def refuse(url: str) -> None:
        raise RuntimeError("could not connect to postgresql://bot:s3cret@db/records")

    found = await check(database_probe=refuse).status(Agent())
    assert found.payload() == {"status": "unavailable", "failing": ["database"]}
    assert "s3cret" not in str(found.payload())


async def test_a_hanging_database_fails_at_the_timeout_and_no_second_probe_piles_up() -> None:
    release = threading.Event()
    calls: list[str] = []

    def hang(url: str) -> None:
        calls.append(url)
        release.wait(10)

    clock = Clock()
    health = check(database_probe=hang, clock=clock, timeout=0.1)
    try:
        assert (await health.status(Agent())).failing == ("database",)
        clock.now += 2
        assert (await health.status(Agent())).failing == ("database",)
        assert len(calls) == 1  # the first probe still hangs: not probed again
    finally:
        release.set()
    await asyncio.sleep(0.05)
    clock.now += 2
    assert (await health.status(Agent())).status == "ok" and len(calls) == 2


async def test_redis_is_probed_only_when_configured_and_a_failure_is_named() -> None:
    pinged: list[str] = []

    async def pong(url: str, timeout: float) -> None:
        pinged.append(url)

    async def down(url: str, timeout: float) -> None:
        raise ConnectionError("Connection refused")

    async def slow(url: str, timeout: float) -> None:
        await asyncio.sleep(5)

    assert (await check(redis_probe=pong).status(Agent())).checks["redis"] == "not configured" and not pinged
    assert (await check(redis_url="redis://r:6379/1", redis_probe=pong).status(Agent())).checks["redis"] == "ok"
    assert pinged == ["redis://r:6379/1"]
    assert (await check(redis_url="redis://r/1", redis_probe=down).status(Agent())).failing == ("redis",)
    slow_check = check(redis_url="redis://r/1", redis_probe=slow, timeout=0.1)
    assert (await slow_check.status(Agent())).failing == ("redis",)


def test_drain_file_is_unset_by_default_and_must_be_an_absolute_file_path(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("DRAIN_FILE", raising=False)
    assert load_settings().drain_file is None
    monkeypatch.setenv("DRAIN_FILE", str(tmp_path / "drain"))
    assert load_settings().drain_file == tmp_path / "drain"
    monkeypatch.setenv("DRAIN_FILE", "var/drain")
    with pytest.raises(SettingsError, match="DRAIN_FILE.*absolute"):
        load_settings()
    monkeypatch.setenv("DRAIN_FILE", str(tmp_path))
    with pytest.raises(SettingsError, match="DRAIN_FILE.*directory"):
        load_settings()


def test_rasa_url_defaults_to_the_local_rasa_port_and_must_be_an_http_url(monkeypatch) -> None:
    monkeypatch.delenv("RASA_URL", raising=False)
    monkeypatch.setenv("RASA_PORT", "5123")
    assert load_settings().rasa_url == "http://127.0.0.1:5123"
    monkeypatch.setenv("RASA_URL", "https://assistant.internal:8443/")
    assert load_settings().rasa_url == "https://assistant.internal:8443"
    for bad in ("rasa:5005", "ftp://rasa:5005", "http://", "http://rasa:port", "http://rasa:5005/?x=1"):
        monkeypatch.setenv("RASA_URL", bad)
        with pytest.raises(SettingsError, match="RASA_URL"):
            load_settings()
