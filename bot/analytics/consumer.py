"""``python -m bot analytics consume``: Rasa's events from the broker into ``analytics_events``.

Two sources, one protocol: collect a batch (up to ``batch_size`` events, or what came within
``max_wait`` seconds), store it in one transaction (bot.services.analytics_store.store_batch), and
only then let the source forget it.

- RabbitMQ (the scaled set-up): messages are acknowledged after the commit. A message that is not an
  event is stored as a reject and acknowledged with its batch, so it never blocks the queue. While
  the database is unreachable the batch is nacked back into the queue (requeued) and the consumer
  backs off (0.5 s doubling to ``max_backoff``) before it takes the next: the messages wait in
  RabbitMQ, not in this process. A consumer killed before it acknowledged leaves its messages in the
  queue for the next one; storing them again changes nothing (event keys).
- Rasa's SQL event broker table (the embedded set-up, ``--from-sql``): rows are read by id after the
  last stored id, which is kept in ``analytics_cursor`` and moved in the same transaction as the
  batch, so a restarted consumer resumes exactly where the last commit left off. Ids must be
  committed in id order, which holds for the embedded set-up's one Rasa process on SQLite.

SIGTERM or SIGINT stops either cleanly: the batch in hand is stored and acknowledged, nothing more is
taken, and what RabbitMQ had sent ahead goes back to the queue.

The RabbitMQ side uses pika's blocking client (Rasa's broker uses aio-pika): a message costs 45 us of
CPU there against 670 us through aio-pika here, which made the consumer, not the database, the limit.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.analytics.events import Rejected, decode
from bot.analytics.sources import BrokerTable
from bot.clock import Clock
from bot.domain.errors import RecordsUnavailable
from bot.services.analytics_store import StoreResult, last_read, store_batch
from bot.unit_of_work import UowFactory

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsumerOptions:
    batch_size: int = 200
    max_wait: float = 0.5  # seconds a batch waits to fill up
    prefetch: int = 400  # messages RabbitMQ may have in flight to us (two batches)
    first_backoff: float = 0.5
    max_backoff: float = 10.0


@dataclass
class ConsumeReport:
    batches: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    retries: int = 0  # batches put back (or reads retried) because a database was unreachable

    def add(self, result: StoreResult) -> None:
        self.batches += 1
        self.inserted += result.inserted
        self.duplicates += result.duplicates
        self.rejected += result.rejected

    def summary(self) -> str:
        return (
            f"{self.batches} batch(es): {self.inserted} new event(s), {self.duplicates} already stored, "
            f"{self.rejected} rejected, {self.retries} retried while the database was unreachable"
        )


class _Backoff:
    def __init__(self, options: ConsumerOptions) -> None:
        self.options = options
        self.delay = options.first_backoff

    def next(self) -> float:
        delay, self.delay = self.delay, min(self.delay * 2, self.options.max_backoff)
        return delay

    def reset(self) -> None:
        self.delay = self.options.first_backoff


# --- RabbitMQ ----------------------------------------------------------------------------------

#: aio-pika's URL options (Rasa's side may use them), which pika refuses.
AIO_PIKA_ONLY = ("reconnect_interval", "fail_fast")


def pika_url(url: str) -> str:
    """The AMQP URL without aio-pika's own query options."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in AIO_PIKA_ONLY]
    return urlunsplit(parts._replace(query=urlencode(query)))


class RabbitConsumer:
    """Consumes the durable queue ``queue`` (bound to the fanout ``exchange`` Rasa publishes to) with pika's
    blocking client, reconnecting whenever RabbitMQ goes away."""

    def __init__(
        self,
        uow_factory: UowFactory,
        clock: Clock,
        url: str,
        queue: str,
        exchange: str,
        options: ConsumerOptions = ConsumerOptions(),  # noqa: B008 - frozen
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.url = pika_url(url)
        self.queue = queue
        self.exchange = exchange
        self.options = options
        self.report = ConsumeReport()
        self.stopping = threading.Event()
        self._backoff = _Backoff(options)  # the database's
        self._reconnect = _Backoff(options)  # RabbitMQ's

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> ConsumeReport:
        import pika
        from pika.exceptions import AMQPError

        while not self.stopping.is_set():
            try:
                connection = pika.BlockingConnection(pika.URLParameters(self.url))
            except AMQPError as exc:
                delay = self._reconnect.next()
                logger.warning("RabbitMQ not reachable (%r); retrying in %.1f s", exc, delay)
                self.stopping.wait(delay)
                continue
            try:
                self._consume(connection)
            except AMQPError as exc:
                # Whatever was not acknowledged is back in the queue; what was stored is stored once.
                delay = self._reconnect.next()
                logger.warning("RabbitMQ connection lost (%r); reconnecting in %.1f s", exc, delay)
                self.stopping.wait(delay)
            finally:
                with contextlib.suppress(Exception):
                    connection.close()  # returns every unacknowledged message to the queue
        return self.report

    def _consume(self, connection: Any) -> None:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=max(self.options.prefetch, self.options.batch_size))
        # Declared as Rasa declares them (a non-durable fanout exchange, a durable queue), so either may come first.
        channel.exchange_declare(self.exchange, exchange_type="fanout")
        channel.queue_declare(self.queue, durable=True)
        channel.queue_bind(self.queue, self.exchange)
        self._reconnect.reset()
        logger.info("consuming %s (exchange %s)", self.queue, self.exchange)
        batch: list[tuple[int, bytes]] = []
        deadline = 0.0
        for method, _, body in channel.consume(self.queue, inactivity_timeout=0.1):
            if method is not None:
                if not batch:
                    deadline = time.monotonic() + self.options.max_wait
                batch.append((method.delivery_tag, body))
            full = len(batch) >= self.options.batch_size
            if batch and (full or time.monotonic() >= deadline or self.stopping.is_set()):
                self._store(connection, channel, batch)
                batch = []
            if self.stopping.is_set():
                break
        channel.cancel()  # what RabbitMQ sent ahead and was not taken goes back to the queue

    def _store(self, connection: Any, channel: Any, batch: list[tuple[int, bytes]]) -> None:
        events = [decode(body) for _, body in batch]
        last_tag = batch[-1][0]
        try:
            result = store_batch(self.uow_factory, events, "pika", self.clock.now())
        except RecordsUnavailable as exc:
            self.report.retries += 1
            delay = self._backoff.next()
            logger.warning(
                "database unreachable (%s); %d message(s) back to the queue, next try in %.1f s",
                str(exc.__cause__ or exc).split("\n", 1)[0], len(batch), delay,
            )  # fmt: skip
            channel.basic_nack(delivery_tag=last_tag, multiple=True, requeue=True)
            self._pause(connection, delay)
            return
        self._backoff.reset()
        # One frame acknowledges the whole batch: every earlier delivery on this channel is settled already.
        channel.basic_ack(delivery_tag=last_tag, multiple=True)
        self.report.add(result)
        logger.debug("stored %s", result)

    def _pause(self, connection: Any, seconds: float) -> None:
        """Wait, answering RabbitMQ's heartbeats meanwhile, until ``seconds`` pass or we are stopped."""
        until = time.monotonic() + seconds
        while not self.stopping.is_set() and time.monotonic() < until:
            connection.sleep(min(0.2, max(0.0, until - time.monotonic())))


def consume_rabbitmq(uow_factory: UowFactory, clock: Clock, url: str, queue: str, exchange: str,
                     options: ConsumerOptions) -> ConsumeReport:  # fmt: skip
    """Run the RabbitMQ consumer until SIGTERM or SIGINT."""
    consumer = RabbitConsumer(uow_factory, clock, url, queue, exchange, options)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: consumer.stop())
    return consumer.run()


# --- Rasa's SQL event broker table -------------------------------------------------------------


class TableConsumer:
    """Reads Rasa's SQL event broker table by id after the stored cursor."""

    def __init__(
        self,
        uow_factory: UowFactory,
        clock: Clock,
        table: BrokerTable,
        options: ConsumerOptions = ConsumerOptions(),  # noqa: B008 - frozen
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.table = table
        self.options = options
        self.report = ConsumeReport()
        self.stopping = threading.Event()
        self._backoff = _Backoff(options)

    def stop(self) -> None:
        self.stopping.set()

    def run(self, once: bool = False) -> ConsumeReport:
        """Until stopped (``once``: until the table has nothing more)."""
        name = self.table.cursor_name
        last: int | None = self._retrying(lambda: last_read(self.uow_factory, name))
        logger.info("consuming %s after id %s", name, last)
        while last is not None and not self.stopping.is_set():
            rows = self._retrying(
                functools.partial(self.table.after, last, self.options.batch_size), "Rasa's event table not readable"
            )
            if rows is None:
                break
            if not rows:
                if once:
                    break
                self.stopping.wait(self.options.max_wait)
                continue
            events: list[object] = [decode(data) if data else Rejected("empty row", "") for _, data in rows]
            store = functools.partial(store_batch, self.uow_factory, events, "sql", cursor=(name, rows[-1][0]))
            result = self._retrying(lambda: store(now=self.clock.now()))  # noqa: B023 - called here, at once
            if result is None:
                break
            self.report.add(result)
            last = rows[-1][0]
        return self.report

    def _retrying(self, step: Callable[[], Any], what: str = "database unreachable") -> Any:
        """``step()``, again after a back-off while the database (ours or Rasa's) is unreachable; None if stopped."""
        from sqlalchemy.exc import SQLAlchemyError

        while not self.stopping.is_set():
            try:
                value = step()
            except (RecordsUnavailable, SQLAlchemyError) as exc:
                self.report.retries += 1
                delay = self._backoff.next()
                cause = exc.__cause__ or exc
                logger.warning("%s (%s); retrying in %.1f s", what, str(cause).split("\n", 1)[0], delay)
                self.stopping.wait(delay)
                continue
            self._backoff.reset()
            return value
        return None


def consume_table(uow_factory: UowFactory, clock: Clock, url: str, options: ConsumerOptions,
                  once: bool = False) -> ConsumeReport:  # fmt: skip
    """Run the SQL-table consumer until SIGTERM or SIGINT (or, ``once``, until the table is read)."""
    consumer = TableConsumer(uow_factory, clock, BrokerTable(url), options)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: consumer.stop())
    return consumer.run(once=once)
