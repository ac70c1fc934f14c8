"""The local RabbitMQ for tests: unique queue and exchange names, publishing, queue depth, clean-up, restarts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterable

import pytest

RABBITMQ_TEST_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


def unique_names(prefix: str) -> tuple[str, str]:
    """A queue and an exchange no other test (or `make run-scaled` on this machine) uses."""
    tag = uuid.uuid4().hex[:10]
    return f"test_{prefix}_{tag}", f"test_{prefix}_{tag}_x"


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def _with_channel(action, confirms: bool = True):  # type: ignore[no-untyped-def]
    import aio_pika

    connection = await aio_pika.connect(RABBITMQ_TEST_URL, timeout=5)
    try:
        channel = await connection.channel(publisher_confirms=confirms)
        return await action(channel)
    finally:
        await connection.close()


def require_rabbitmq() -> str:
    try:
        _run(_with_channel(lambda channel: asyncio.sleep(0)))
    except Exception as exc:
        pytest.fail(f"RabbitMQ at {RABBITMQ_TEST_URL} is required for this test: {exc}")
    return RABBITMQ_TEST_URL


def publish(queue: str, bodies: Iterable[bytes]) -> None:
    """Persistent messages straight into ``queue`` (declared durable, as the consumer declares it)."""
    import aio_pika

    async def action(channel):  # type: ignore[no-untyped-def]
        await channel.declare_queue(queue, durable=True)
        for body in bodies:
            message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            await channel.default_exchange.publish(message, routing_key=queue)

    # Without publisher confirms (one round trip each); closing the connection still waits for RabbitMQ
    # to have handled every frame before it, so the messages are queued when this returns.
    _run(_with_channel(action, confirms=False))


def depth(queue: str) -> int:
    """Messages ready in the queue (not those delivered and waiting for an acknowledgement)."""

    async def action(channel):  # type: ignore[no-untyped-def]
        declared = await channel.declare_queue(queue, durable=True, passive=True)
        return declared.declaration_result.message_count

    return int(_run(_with_channel(action)))


def delete(queue: str, exchange: str | None = None) -> None:
    async def action(channel):  # type: ignore[no-untyped-def]
        await channel.queue_delete(queue)
        if exchange:
            await channel.exchange_delete(exchange)

    with contextlib.suppress(Exception):  # best effort: a broker that is down has nothing to clean
        _run(_with_channel(action))


def stop_app() -> None:
    subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=60)


def start_app() -> None:
    """Start the RabbitMQ application again and wait until it takes connections."""
    subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=120)
    deadline = time.monotonic() + 60
    while True:
        try:
            _run(_with_channel(lambda channel: asyncio.sleep(0)))
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
