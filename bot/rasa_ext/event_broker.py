"""Rasa's event brokers as the analytics pipeline uses them (bot/analytics), each configured by one URL.

The embedded set-up (endpoints.yml) appends every event to Rasa's SQL event broker table in SQLite::

    event_broker:
      type: bot.rasa_ext.event_broker.UrlSQLEventBroker
      url: sqlite:///var/events.db

The scaled set-up (endpoints.scaled.yml) publishes to RabbitMQ, URL, queue and exchange from the
environment (RABBITMQ_URL, ANALYTICS_QUEUE, ANALYTICS_EXCHANGE; bot.settings) unless given here::

    event_broker:
      type: bot.rasa_ext.event_broker.UrlPikaEventBroker

Neither may stop the bot from answering: a broker that cannot write keeps the events in memory (a
bounded number) and writes them when it can; what is lost there, ``python -m bot analytics
reconcile`` finds in the tracker store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from asyncio import AbstractEventLoop
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import rasa.shared.core.events  # noqa: F401 - Rasa's pika broker calls it without importing it
from rasa.core.brokers.broker import EventBroker
from rasa.core.brokers.pika import PikaEventBroker
from rasa.core.brokers.sql import SQLEventBroker
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy import create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool
from yarl import URL

from bot.settings import get_settings

logger = logging.getLogger(__name__)

#: Events kept in memory while the broker cannot write (about 2 KB each); beyond, the oldest go.
MAX_UNPUBLISHED = 50_000


class UrlPikaEventBroker(PikaEventBroker):
    """Rasa's RabbitMQ event broker, configured by one URL, that never keeps Rasa from starting.

    Rasa's own broker connects before the server starts and, with RabbitMQ down, retries for 100 s
    (20 attempts, 5 s apart) and then stops Rasa from starting at all. This one starts connecting
    in the background and keeps trying (1 s, doubling to 30 s); events published meanwhile (Rasa's
    broker drops them while it has no exchange) wait in memory and go out once connected, as do
    those a failed publish leaves behind (Rasa's reconnect callback republishes them). The queue is
    durable and messages persistent (Rasa's defaults), so RabbitMQ keeps what it accepted over a
    restart.
    """

    def __init__(
        self,
        host: str | None = None,
        username: str | None = None,
        password: str | None = None,
        port: int | str | None = None,
        queues: list[str] | tuple[str, ...] | str | None = None,
        exchange_name: str | None = None,
        connection_attempts: int = 1,
        retry_delay_in_seconds: float = 1,
        **kwargs: Any,
    ) -> None:
        settings = get_settings()
        parts = urlsplit(with_reconnect_interval(host or settings.rabbitmq_url))
        # Rasa logs its host: give it the URL without the credentials, which it puts back (percent-encoded,
        # as written in the URL) when it connects.
        without_credentials = parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]).geturl()
        super().__init__(
            without_credentials,
            username=username or parts.username or "guest",
            password=password or parts.password or "guest",
            port=port or parts.port or 5672,
            queues=queues or [settings.analytics_queue],
            exchange_name=exchange_name or settings.analytics_exchange,
            connection_attempts=connection_attempts,
            retry_delay_in_seconds=retry_delay_in_seconds,
            **kwargs,
        )
        self._unpublished_events: deque[dict[str, Any]] = deque(maxlen=MAX_UNPUBLISHED)
        self._connecting: asyncio.Task | None = None

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig | None, event_loop: AbstractEventLoop | None = None
    ) -> UrlPikaEventBroker | None:
        if broker_config is None:
            return None
        broker = cls(broker_config.url, **broker_config.kwargs, event_loop=event_loop)
        broker._connecting = broker._loop.create_task(broker._keep_connecting())
        return broker

    async def _keep_connecting(self) -> None:
        delay = 1.0
        while True:
            try:
                await self.connect()
            except Exception as exc:  # any failure until RabbitMQ answers: try again later
                logger.warning("RabbitMQ at %s not reachable (%s); events wait in memory, retrying in %.0f s",
                               self.host, exc, delay)  # fmt: skip
                await self._drop_connection()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            self._publish_unpublished_messages()
            return

    async def _drop_connection(self) -> None:
        connection: Any = self._connection  # type: ignore[has-type]  # Rasa's attribute, typed in its __init__
        self._connection = None
        self._exchange = None
        if connection is not None:
            with contextlib.suppress(Exception):  # already broken; nothing to close cleanly
                await connection.close()

    async def _publish(self, event: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        if self._exchange is None:  # not connected yet: keep it (Rasa's broker would drop it)
            self._keep(event)
            return
        await super()._publish(event, headers)

    def _keep(self, event: dict[str, Any]) -> None:
        if len(self._unpublished_events) == self._unpublished_events.maxlen:
            logger.warning("event broker: %d events waiting in memory; dropping the oldest", MAX_UNPUBLISHED)
        self._unpublished_events.append(event)

    async def close(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        await super().close()


class UrlSQLEventBroker(SQLEventBroker):
    """Rasa's SQL event broker (the same table ``events``: id, sender_id, data), configured by one
    SQLAlchemy URL, on one kept connection.

    Rasa's writes each event through a new connection and session in rollback-journal mode: 1.7 ms
    per event here, on the event loop, a dozen events per message. This one keeps its connection
    and, on SQLite, uses WAL with ``synchronous=NORMAL`` (a commit does not wait for the disk; an OS
    crash may lose the last moments, never corrupt the file) so the consumer reading the table never
    blocks it. An event it cannot write (disk full, file locked past the timeout) is kept in memory
    and written with the next one; the bot answers regardless.
    """

    def __init__(self, url: str | None = None, **_: Any) -> None:
        EventBroker.__init__(self)
        self.url = url or "sqlite:///var/events.db"
        sqlite = self.url.startswith("sqlite")
        self.engine = create_engine(
            self.url,
            future=True,
            poolclass=QueuePool,
            pool_size=1,
            max_overflow=4,
            pool_pre_ping=not sqlite,
            connect_args={"check_same_thread": False, "timeout": 5} if sqlite else {},
        )
        if sqlite:
            event.listen(self.engine, "connect", _sqlite_wal)
        self.SQLBrokerEvent.__table__.create(self.engine, checkfirst=True)  # type: ignore[attr-defined]
        self.sessionmaker = sessionmaker(bind=self.engine, future=True)
        self._insert = self.SQLBrokerEvent.__table__.insert()  # type: ignore[attr-defined]
        self._unwritten: deque[dict[str, Any]] = deque(maxlen=MAX_UNPUBLISHED)

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: AbstractEventLoop | None = None
    ) -> UrlSQLEventBroker:
        return cls(broker_config.url, **broker_config.kwargs)

    def publish(self, event: dict[str, Any]) -> None:
        self._unwritten.append(event)
        rows = [{"sender_id": e.get("sender_id"), "data": json.dumps(e)} for e in self._unwritten]
        try:
            with self.engine.begin() as conn:
                conn.execute(self._insert, rows)
        except SQLAlchemyError as exc:
            logger.warning("event broker: %d event(s) not written yet (%s)", len(self._unwritten), exc)
            return
        self._unwritten.clear()

    async def close(self) -> None:
        self.engine.dispose()


def with_reconnect_interval(url: str, seconds: int = 1) -> str:
    """The URL with aio-pika's ``reconnect_interval`` set, unless it sets one: after RabbitMQ comes back,
    the default (5 s) holds Rasa's events in memory that long."""
    parsed = URL(url)
    if "reconnect_interval" in parsed.query:
        return url
    return str(parsed.update_query(reconnect_interval=seconds))


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
