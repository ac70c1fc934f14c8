"""The health check's real probes: the records database (its schema version) and Redis PING."""

from __future__ import annotations

from bot import db
from bot.rasa_ext.health import HealthCheck


class ReadyAgent:
    model_id = "fingerprint"

    def is_ready(self) -> bool:
        return True


async def test_a_migrated_database_and_the_local_redis_answer(sqlite_url, redis_url) -> None:
    found = await HealthCheck(sqlite_url, redis_url, None).status(ReadyAgent())
    assert found.payload() == {
        "status": "ok",
        "checks": {"model": "ok", "database": "ok", "redis": "ok"},
        "model_id": "fingerprint",
    }


async def test_a_database_without_the_schema_and_a_redis_nobody_listens_on_fail(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'never-migrated.db'}"
    try:
        found = await HealthCheck(url, "redis://127.0.0.1:1/0", None).status(ReadyAgent())
    finally:
        db.dispose_all()
    assert found.payload() == {"status": "unavailable", "failing": ["database", "redis"]}
