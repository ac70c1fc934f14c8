"""The Redis ticket lock shared by several Rasa workers (rasa issue 9213), against the local Redis."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from bot.rasa_ext.lock_store import AtomicRedisLockStore
from tests.conftest import REDIS_TEST_URL as REDIS_URL


@pytest.fixture
def prefix(redis_url: str) -> str:
    return "t" + uuid.uuid4().hex[:12]


def store(prefix: str) -> AtomicRedisLockStore:
    """A store as Rasa builds it from endpoints.scaled.yml (one per worker process)."""
    return AtomicRedisLockStore(EndpointConfig(url=REDIS_URL, key_prefix=prefix))


def test_built_from_an_endpoint_url(prefix: str) -> None:
    s = store(prefix)
    kwargs = s.red.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("127.0.0.1", 6379, 1)
    assert s.key_prefix == f"{prefix}:lock:"


async def test_built_from_rasa_style_host_settings(prefix: str) -> None:
    s = AtomicRedisLockStore(host="127.0.0.1", port=6379, db=1, key_prefix=prefix)
    assert s.url == "redis://127.0.0.1:6379/1"  # what the asyncio client of lock() connects to
    async with s.lock("bare") as held:
        assert held.conversation_id == "bare"
    assert s.get_lock("bare") is None


def interleaved_issue(first: RedisLockStore, second: RedisLockStore, conversation: str) -> tuple[int, int]:
    """`first` issues a ticket, and `second` issues one while `first` is between reading and writing."""
    original = TicketLock.issue_ticket
    state = {"interleaved": False}
    second_ticket: list[int] = []

    def issue_ticket(self: TicketLock, lifetime: float) -> int:
        if not state["interleaved"]:
            state["interleaved"] = True
            second_ticket.append(second.issue_ticket(conversation))  # the other worker, right now
        return original(self, lifetime)

    TicketLock.issue_ticket = issue_ticket  # type: ignore[method-assign]
    try:
        first_ticket = first.issue_ticket(conversation)
    finally:
        TicketLock.issue_ticket = original  # type: ignore[method-assign]
    return first_ticket, second_ticket[0]


def test_stock_store_gives_two_workers_the_same_ticket(prefix: str) -> None:
    """The race itself (why this store exists): read-modify-write without a transaction."""
    a = RedisLockStore(host="127.0.0.1", db=1, key_prefix=prefix)
    b = RedisLockStore(host="127.0.0.1", db=1, key_prefix=prefix)
    first, second = interleaved_issue(a, b, "c1")
    assert first == second


def test_a_worker_interrupted_between_read_and_write_retries_and_gets_its_own_ticket(prefix: str) -> None:
    a, b = store(prefix), store(prefix)
    first, second = interleaved_issue(a, b, "c1")
    assert first != second
    assert sorted(t.number for t in a.get_lock("c1").tickets) == sorted([first, second])


async def test_the_event_loop_path_also_retries_when_interrupted(prefix: str) -> None:
    """lock() issues tickets on the asyncio client; another worker writes in between."""
    a, b = store(prefix), store(prefix)
    original = TicketLock.issue_ticket
    other: list[int] = []
    state = {"interleaved": False}

    def issue_ticket(self: TicketLock, lifetime: float) -> int:
        if not state["interleaved"]:
            state["interleaved"] = True
            other.append(b.issue_ticket("c3"))
        return original(self, lifetime)

    TicketLock.issue_ticket = issue_ticket  # type: ignore[method-assign]
    try:
        mine = await a._achange("c3", lambda lock: (lock.issue_ticket(60), False), True)
    finally:
        TicketLock.issue_ticket = original  # type: ignore[method-assign]
    assert mine != other[0]
    assert sorted(t.number for t in a.get_lock("c3").tickets) == sorted([mine, other[0]])


def test_tickets_are_unique_across_many_workers_issuing_at_once(prefix: str) -> None:
    tickets: list[int] = []
    guard = threading.Lock()

    def worker() -> None:
        s = store(prefix)
        mine = [s.issue_ticket("busy") for _ in range(40)]
        with guard:
            tickets.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(tickets) == 240
    assert len(set(tickets)) == 240


def test_only_one_worker_at_a_time_handles_a_conversation(prefix: str) -> None:
    """Two workers (threads with their own event loop and connection) in one conversation."""
    counter_key = f"{prefix}-counter"
    red = redis.Redis.from_url(REDIS_URL)
    inside: list[int] = []
    overlaps: list[int] = []

    async def handle_messages(s: AtomicRedisLockStore) -> None:
        for _ in range(15):
            async with s.lock("shared", wait_time_in_seconds=0.002):
                inside.append(1)
                if len(inside) > 1:
                    overlaps.append(len(inside))
                value = int(red.get(counter_key) or 0)
                await asyncio.sleep(0.002)  # the message being processed
                red.set(counter_key, value + 1)
                inside.pop()

    threads = [threading.Thread(target=lambda: asyncio.run(handle_messages(store(prefix)))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert overlaps == []
        assert int(red.get(counter_key)) == 30  # no update lost
        assert store(prefix).get_lock("shared") is None  # released when nobody waits
    finally:
        red.delete(counter_key)


def test_release_keeps_the_lock_for_a_waiting_ticket_and_the_key_expires(prefix: str) -> None:
    s = store(prefix)
    first = s.issue_ticket("c2", lock_lifetime=30)
    second = s.issue_ticket("c2", lock_lifetime=30)
    s.cleanup("c2", first)
    lock = s.get_lock("c2")
    assert lock is not None and lock.now_serving == second
    assert 0 < s.red.pttl(f"{prefix}:lock:c2") <= 91_000  # last ticket's expiry plus a minute
    s.cleanup("c2", second)
    assert s.get_lock("c2") is None


def test_updating_or_releasing_a_missing_lock_changes_nothing(prefix: str) -> None:
    s = store(prefix)
    s.update_lock("none")
    s.finish_serving("none", 3)
    s.cleanup("none", 3)
    assert s.get_lock("none") is None


async def test_a_queued_message_is_woken_by_the_release_not_by_a_poll(prefix: str) -> None:
    """Rasa's default poll is one second; here the release of the ticket ahead wakes the waiter
    (its poll interval of 30 s never elapses within the test's timeout)."""
    s = store(prefix)
    order: list[str] = []

    async def first() -> None:
        async with s.lock("quick"):
            order.append("first in")
            await asyncio.sleep(0.05)
            order.append("first out")

    async def second() -> None:
        await asyncio.sleep(0.01)
        async with s.lock("quick", wait_time_in_seconds=30):
            order.append("second in")

    await asyncio.wait_for(asyncio.gather(first(), second()), 10)
    assert order == ["first in", "first out", "second in"]
