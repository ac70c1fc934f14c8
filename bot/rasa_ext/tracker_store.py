"""Rasa's shared tracker stores, each configured by one URL, for several Rasa workers.

endpoints.scaled.yml uses Redis (measured faster: README, "Performance")::

    tracker_store:
      type: bot.rasa_ext.tracker_store.UrlRedisTrackerStore
      url: ${REDIS_URL}             # redis://[:password@]host:port/db
      record_exp: 7776000           # a conversation expires 90 days after its last message

or PostgreSQL (``python -m bot conversations prune`` applies the retention period there)::

    tracker_store:
      type: bot.rasa_ext.tracker_store.UrlSQLTrackerStore
      url: ${TRACKER_STORE_URL}     # e.g. postgresql://bot@db.internal:5432/rasa_trackers
"""

from __future__ import annotations

from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import RedisTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from sqlalchemy.engine import make_url


def _required(url: str | None, example: str) -> str:
    if not url:
        raise ValueError(f"tracker_store needs `url`, for example {example}")
    return url


class UrlSQLTrackerStore(SQLTrackerStore):
    def __init__(
        self,
        host: str | None = None,
        domain: Domain | None = None,
        event_broker: EventBroker | None = None,
        **kwargs: Any,
    ) -> None:
        url = make_url(_required(host, "postgresql://user@host:5432/db"))
        super().__init__(
            domain=domain,
            dialect=url.get_backend_name(),
            host=url.host,
            port=url.port,
            db=url.database or "rasa.db",
            username=url.username,
            password=url.password,
            event_broker=event_broker,
            login_db=kwargs.get("login_db"),
            query=dict(url.query) or None,
        )


class UrlRedisTrackerStore(RedisTrackerStore):
    def __init__(
        self,
        host: str | None = None,
        domain: Domain | None = None,
        event_broker: EventBroker | None = None,
        **kwargs: Any,
    ) -> None:
        from redis.connection import parse_url

        url = _required(host, "redis://host:6379/0")
        parts = parse_url(url)
        record_exp = kwargs.pop("record_exp", None)
        super().__init__(
            domain=domain,  # type: ignore[arg-type]
            host=parts.get("host", "localhost"),
            port=parts.get("port", 6379),
            db=parts.get("db", 0),
            username=parts.get("username"),
            password=parts.get("password"),
            event_broker=event_broker,
            record_exp=int(record_exp) if record_exp else None,  # redis-py wants an int
            key_prefix=kwargs.pop("key_prefix", None),
            use_ssl=url.startswith("rediss://"),
        )
