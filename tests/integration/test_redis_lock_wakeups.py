"""The Redis lock store (endpoints.scaled.yml) wakes a worker's waiter when another worker releases.

Against the local Redis, each test under its own key prefix. Functional, not timed: waiters
get a poll interval of 30 s, far beyond each test's timeout, so a test passes only if the
waiter was woken by the release's notification (or by the expiry of a crashed holder's
ticket) rather than by its poll.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LockError
from rasa.utils.endpoints import EndpointConfig

from bot.rasa_ext.lock_store import AtomicRedisLockStore, Subscription
from tests.conftest import REDIS_TEST_URL as REDIS_URL

ROOT = Path(__file__).resolve().parents[2]
NEVER = 30.0  # a poll interval no test waits for
TIMEOUT = 10.0

# Another worker process: takes the lock, says "held", releases when it reads a line.
HOLDER = """
import asyncio, sys
from rasa.utils.endpoints import EndpointConfig
from bot.rasa_ext.lock_store import AtomicRedisLockStore

url, prefix, conversation, lifetime = sys.argv[1:5]

async def main():
    store = AtomicRedisLockStore(EndpointConfig(url=url, key_prefix=prefix))
    async with store.lock(conversation, lock_lifetime=float(lifetime)):
        print("held", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    print("released", flush=True)

asyncio.run(main())
"""


@pytest.fixture
def prefix(redis_url: str) -> str:
    return "w" + uuid.uuid4().hex[:12]


def store(prefix: str) -> AtomicRedisLockStore:
    """A store as a Rasa worker builds it from endpoints.scaled.yml."""
    return AtomicRedisLockStore(EndpointConfig(url=REDIS_URL, key_prefix=prefix))


async def tickets(s: AtomicRedisLockStore, conversation: str, count: int) -> None:
    """Wait until the stored lock holds ``count`` tickets (so the order of issue is known)."""
    while True:
        lock = s.get_lock(conversation)
        if lock is not None and len(lock.tickets) == count:
            return
        await asyncio.sleep(0.001)


@asynccontextmanager
async def holder_process(prefix: str, conversation: str, lifetime: float) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, REDIS_URL, prefix, conversation, str(lifetime),
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert await asyncio.wait_for(process.stdout.readline(), 120) == b"held\n"
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def test_a_waiter_in_one_process_is_woken_by_the_release_in_another(prefix: str) -> None:
    async with holder_process(prefix, "c", 60) as other:
        mine = store(prefix)

        async def second() -> list[int]:
            async with mine.lock("c", wait_time_in_seconds=NEVER) as held:
                return [t.number for t in held.tickets]

        waiter = asyncio.create_task(second())
        await tickets(mine, "c", 2)
        await asyncio.sleep(0.05)  # the waiter is asleep on its (30 s) poll
        assert not waiter.done()
        assert other.stdin is not None and other.stdout is not None
        other.stdin.write(b"go\n")
        await other.stdin.drain()
        assert await asyncio.wait_for(waiter, TIMEOUT) == [1]
        assert await other.stdout.readline() == b"released\n"
    assert mine.get_lock("c") is None


async def test_a_worker_that_dies_holding_the_lock_is_passed_over_when_its_ticket_expires(prefix: str) -> None:
    async with holder_process(prefix, "c", 1.0) as other:
        mine = store(prefix)

        async def second() -> list[int]:
            async with mine.lock("c", wait_time_in_seconds=NEVER) as held:
                return [t.number for t in held.tickets]

        waiter = asyncio.create_task(second())
        await tickets(mine, "c", 2)
        other.kill()  # no release, no notification
        await other.wait()
        assert await asyncio.wait_for(waiter, TIMEOUT) == [1]
    assert mine.get_lock("c") is None


async def test_messages_spread_over_two_workers_get_the_lock_one_at_a_time_in_ticket_order(prefix: str) -> None:
    workers = [store(prefix), store(prefix)]  # two stores: two subscriptions, two sets of waiters
    entered: list[int] = []
    inside: list[int] = []
    release = asyncio.Event()

    async def message(k: int) -> None:
        async with workers[k % 2].lock("c", wait_time_in_seconds=NEVER):
            inside.append(k)
            assert len(inside) == 1, inside
            entered.append(k)
            if k == 0:
                await release.wait()
            await asyncio.sleep(0.001)  # the message being processed
            inside.remove(k)

    tasks = []
    for k in range(6):
        tasks.append(asyncio.create_task(message(k)))
        await tickets(workers[0], "c", k + 1)
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
    assert entered == [0, 1, 2, 3, 4, 5]
    assert workers[0].get_lock("c") is None


async def test_the_blocking_release_of_rasas_interface_wakes_waiters_too(prefix: str) -> None:
    a, b = store(prefix), store(prefix)
    first = a.issue_ticket("c")
    waiter = asyncio.create_task(b._aacquire("c", b.issue_ticket("c"), NEVER))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    await asyncio.to_thread(a.cleanup, "c", first)
    assert (await asyncio.wait_for(waiter, TIMEOUT)).now_serving == first + 1


async def test_a_lost_notification_only_delays_the_waiter_until_its_poll(prefix: str) -> None:
    s = store(prefix)
    first = s.issue_ticket("c")
    waiter = asyncio.create_task(s._aacquire("c", s.issue_ticket("c"), 0.2))
    await asyncio.sleep(0.05)
    # The first ticket leaves without announcing it (as when a notification is lost).
    red = redis.Redis.from_url(REDIS_URL)
    key = f"{prefix}:lock:c"
    lock = TicketLock.from_dict(json.loads(red.get(key)))
    lock.remove_ticket_for(first)
    red.set(key, lock.dumps(), px=60_000)
    assert (await asyncio.wait_for(waiter, TIMEOUT)).now_serving == first + 1


async def test_without_a_subscription_a_waiter_polls_often_and_still_gets_the_lock(prefix: str) -> None:
    s = store(prefix)
    # Pub/sub unreachable (nothing listens on port 1): the waiter must fall back to polling.
    s._subscriptions[asyncio.get_running_loop()] = Subscription("redis://127.0.0.1:1/1", s.channel_prefix, 0.5)
    order: list[str] = []

    async def first() -> None:
        async with s.lock("c"):
            order.append("first in")
            await asyncio.sleep(0.1)
            order.append("first out")

    async def second() -> None:
        await asyncio.sleep(0.01)
        async with s.lock("c", wait_time_in_seconds=NEVER):
            order.append("second in")

    await asyncio.wait_for(asyncio.gather(first(), second()), TIMEOUT)
    assert order == ["first in", "first out", "second in"]


async def test_a_waiter_whose_own_ticket_expired_gets_a_lock_error_once_the_lock_is_gone(prefix: str) -> None:
    s = store(prefix)
    release = asyncio.Event()

    async def holder() -> None:
        async with s.lock("c", lock_lifetime=60):
            await release.wait()

    async def late_waiter() -> None:
        async with s.lock("c", lock_lifetime=0.05, wait_time_in_seconds=0.2):
            pytest.fail("a waiter whose ticket expired must not get the lock")

    first = asyncio.create_task(holder())
    await tickets(s, "c", 1)
    waiter = asyncio.create_task(late_waiter())
    await tickets(s, "c", 2)
    await asyncio.sleep(0.1)
    release.set()
    await asyncio.wait_for(first, TIMEOUT)
    with pytest.raises(LockError, match="Could not acquire lock for conversation_id 'c'"):
        await asyncio.wait_for(waiter, TIMEOUT)


async def test_only_a_release_someone_waits_for_is_announced(prefix: str) -> None:
    """An uncontended message publishes nothing; a release with a ticket waiting publishes once."""
    s = store(prefix)
    listener = redis.Redis.from_url(REDIS_URL).pubsub()
    listener.psubscribe(s.channel_prefix + "*")
    assert listener.get_message(timeout=5)["type"] == "psubscribe"
    try:
        async with s.lock("alone"):
            pass
        first = s.issue_ticket("busy")
        s.issue_ticket("busy")
        s.cleanup("busy", first)
        deadline = time.monotonic() + 1
        channels = []
        while time.monotonic() < deadline:
            message = listener.get_message(timeout=0.1)
            if message:
                channels.append(message["channel"].decode())
        assert channels == [f"wake:1:{prefix}:lock:busy"]
    finally:
        listener.close()


async def test_a_wake_up_without_a_readable_lock_state_only_makes_the_waiter_look_again(prefix: str) -> None:
    s = store(prefix)
    first = s.issue_ticket("c")
    waiter = asyncio.create_task(s._aacquire("c", s.issue_ticket("c"), NEVER))
    await asyncio.sleep(0.05)
    red = redis.Redis.from_url(REDIS_URL)
    for state in (b"", b"not json", b'{"tickets": 3}'):
        red.publish(s._channel("c"), state)
    await asyncio.sleep(0.05)
    assert not waiter.done()  # still the first ticket's turn
    s.cleanup("c", first)
    assert (await asyncio.wait_for(waiter, TIMEOUT)).now_serving == first + 1
