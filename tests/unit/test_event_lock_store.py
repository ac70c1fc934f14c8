"""The embedded lock store (endpoints.yml): a waiter is woken when the message ahead finishes.

Functional, not timed: waiters are given a poll interval of 30 s, far beyond each test's
timeout, so a test passes only if the waiter was woken (by the release, or by the expiry of a
crashed holder's ticket) rather than by its poll.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Callable
from pathlib import Path

import pytest
import rasa
import rasa.core.lock_store as rasa_lock_store
from rasa.core.lock_store import InMemoryLockStore, LockError, LockStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.exceptions import RasaException

from bot.rasa_ext import lock_store
from bot.rasa_ext.lock_store import EventInMemoryLockStore

ROOT = Path(__file__).resolve().parents[2]
NEVER = 30.0  # a poll interval no test waits for
TIMEOUT = 5.0


def stock() -> tuple[LockStore, float]:
    return InMemoryLockStore(), 0.01


def event_driven() -> tuple[LockStore, float]:
    return EventInMemoryLockStore(), NEVER


# The same behaviour from Rasa's store (polling often) and ours (never polling in time).
both = pytest.mark.parametrize("make", [stock, event_driven], ids=["rasa", "event-driven"])


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0)


def tickets(store: LockStore, conversation: str) -> int:
    lock = store.get_lock(conversation)
    return len(lock.tickets) if lock else 0


def test_the_installed_rasa_is_the_one_the_store_was_written_for() -> None:
    # Fails on a Rasa upgrade or a patched Rasa, naming each function whose source changed:
    # re-check the store against the new source before recording its new sha256.
    assert rasa.__version__ == lock_store.RASA_VERSION
    assert lock_store.changed_rasa_functions() == []
    assert EventInMemoryLockStore().event_driven


def test_endpoints_yml_builds_the_event_driven_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTION_PORT", "5055")
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "t")
    endpoints = AvailableEndpoints.read_endpoints(str(ROOT / "endpoints.yml"))
    store = LockStore.create(endpoints.lock_store)
    assert type(store) is EventInMemoryLockStore and store.event_driven


async def test_a_waiter_gets_the_lock_when_the_holder_releases_not_at_its_next_poll() -> None:
    store = EventInMemoryLockStore()
    order: list[str] = []
    release = asyncio.Event()

    async def first() -> None:
        async with store.lock("c", wait_time_in_seconds=NEVER):
            order.append("first in")
            await release.wait()
            order.append("first out")

    async def second() -> None:
        async with store.lock("c", wait_time_in_seconds=NEVER):
            order.append("second in")

    holder = asyncio.create_task(first())
    await until(lambda: order == ["first in"])
    waiter = asyncio.create_task(second())
    await until(lambda: tickets(store, "c") == 2)
    release.set()
    await asyncio.wait_for(asyncio.gather(holder, waiter), TIMEOUT)
    assert order == ["first in", "first out", "second in"]
    assert store.get_lock("c") is None  # removed once nobody waits


@both
async def test_waiters_get_the_lock_one_at_a_time_in_ticket_order(make: Callable[[], tuple[LockStore, float]]) -> None:
    store, wait = make()
    entered: list[int] = []
    inside: list[int] = []
    release = asyncio.Event()

    async def message(k: int) -> None:
        async with store.lock("c", wait_time_in_seconds=wait):
            inside.append(k)
            assert len(inside) == 1, inside
            entered.append(k)
            if k == 0:
                await release.wait()
            await asyncio.sleep(0)  # the message being processed
            inside.remove(k)

    tasks = []
    for k in range(5):
        tasks.append(asyncio.create_task(message(k)))
        await until(lambda k=k: tickets(store, "c") == k + 1)  # type: ignore[misc]
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
    assert entered == [0, 1, 2, 3, 4]
    assert store.get_lock("c") is None


@both
async def test_a_holder_that_never_releases_is_passed_over_when_its_ticket_expires(
    make: Callable[[], tuple[LockStore, float]],
) -> None:
    store, wait = make()
    store.issue_ticket("c", lock_lifetime=0.2)  # a crashed message: its ticket is never released

    async def take() -> list[int]:
        async with store.lock("c", wait_time_in_seconds=wait) as held:
            return [t.number for t in held.tickets]

    assert await asyncio.wait_for(take(), TIMEOUT) == [1]  # the crashed ticket 0 is gone
    assert store.get_lock("c") is None


@both
async def test_a_waiter_whose_own_ticket_expired_gets_a_lock_error_once_the_lock_is_gone(
    make: Callable[[], tuple[LockStore, float]],
) -> None:
    store, wait = make()
    release = asyncio.Event()

    async def holder() -> None:
        async with store.lock("c", lock_lifetime=60, wait_time_in_seconds=wait):
            await release.wait()

    async def late_waiter() -> None:
        async with store.lock("c", lock_lifetime=0.05, wait_time_in_seconds=wait):
            pytest.fail("a waiter whose ticket expired must not get the lock")

    first = asyncio.create_task(holder())
    await until(lambda: tickets(store, "c") == 1)
    waiter = asyncio.create_task(late_waiter())
    await until(lambda: tickets(store, "c") == 2)
    await asyncio.sleep(0.1)  # the waiter's ticket expires while the holder works
    release.set()
    await asyncio.wait_for(first, TIMEOUT)
    with pytest.raises(LockError, match="Could not acquire lock for conversation_id 'c'"):
        await asyncio.wait_for(waiter, TIMEOUT)


@both
async def test_a_cancelled_waiter_does_not_hold_up_the_ones_behind_it(
    make: Callable[[], tuple[LockStore, float]],
) -> None:
    store, wait = make()
    entered: list[str] = []
    release = asyncio.Event()

    async def message(name: str) -> None:
        async with store.lock("c", wait_time_in_seconds=wait):
            entered.append(name)
            if name == "holder":
                await release.wait()

    holder = asyncio.create_task(message("holder"))
    await until(lambda: entered == ["holder"])
    gone = asyncio.create_task(message("gone"))  # e.g. the client hung up
    await until(lambda: tickets(store, "c") == 2)
    behind = asyncio.create_task(message("behind"))
    await until(lambda: tickets(store, "c") == 3)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    release.set()
    await asyncio.wait_for(asyncio.gather(holder, behind), TIMEOUT)
    assert entered == ["holder", "behind"]


async def test_conversations_do_not_wake_each_other() -> None:
    store = EventInMemoryLockStore()
    a = store.issue_ticket("a")
    b = store.issue_ticket("b")
    waiting = asyncio.create_task(store._acquire_lock("a", store.issue_ticket("a"), NEVER))
    await asyncio.sleep(0)
    store.cleanup("b", b)  # another conversation's release
    await asyncio.sleep(0.01)
    assert not waiting.done()
    store.cleanup("a", a)
    assert (await asyncio.wait_for(waiting, TIMEOUT)).now_serving == 1


@pytest.mark.parametrize("reason", ["speedups off", "changed rasa"])
async def test_it_waits_exactly_as_rasa_does_when_told_to_or_on_another_rasa(
    reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if reason == "speedups off":
        monkeypatch.setenv("BOT_RASA_SPEEDUPS", "off")
    else:
        monkeypatch.setitem(lock_store.FINGERPRINTS, "rasa.core.lock_store:LockStore._acquire_lock", "0" * 64)
        assert "LockStore._acquire_lock" in (lock_store.event_wait_refusal() or "")
    store = EventInMemoryLockStore()
    assert not store.event_driven
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(seconds: float) -> None:
        waits.append(seconds)
        await real_sleep(seconds)

    monkeypatch.setattr(rasa_lock_store, "asyncio", types.SimpleNamespace(sleep=recording_sleep))
    first = store.issue_ticket("c")
    waiting = asyncio.create_task(store._acquire_lock("c", store.issue_ticket("c"), 0.01))
    await real_sleep(0.05)
    store.cleanup("c", first)
    await asyncio.wait_for(waiting, TIMEOUT)
    assert waits and set(waits) == {0.01}  # Rasa's poll


def test_it_refuses_to_start_in_several_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rasa starts SANIC_WORKERS workers for any lock store but its own in-memory one."""
    monkeypatch.setenv("SANIC_WORKERS", "2")
    with pytest.raises(RasaException, match="AtomicRedisLockStore"):
        EventInMemoryLockStore()
