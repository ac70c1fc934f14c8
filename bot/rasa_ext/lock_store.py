"""Per-conversation ticket locks whose waiters are woken when the message ahead finishes.

Rasa handles the messages of one conversation one at a time, in arrival order: each message
takes a ticket of the conversation's ``TicketLock`` and waits until its number is served.
Rasa 3.6 waits by polling (``LockStore._acquire_lock`` sleeps a second between looks), so a
customer who sends a second message while the first is processed waits up to a second after
the first has finished. Both stores here wake a waiter the moment the ticket ahead of it is
released, and keep a slow poll only as a safety net:

``EventInMemoryLockStore`` (endpoints.yml, one process) is Rasa's ``InMemoryLockStore``
whose every change of the ticket being served resolves the futures of that conversation's
waiters. Its waiting loop is Rasa's own (same ticket order, same ``LockError`` when the lock
is gone), with the second-long sleep replaced by "until woken, until the first ticket ahead
of ours expires (a holder that never released), or at the latest after the poll interval".
It relies on the source of the Rasa functions in ``FINGERPRINTS``; on another Rasa, a changed
one of them, or ``BOT_RASA_SPEEDUPS=off``, it waits exactly as Rasa does. Rasa runs one worker
only with its own in-memory store; it would start ``SANIC_WORKERS`` workers with this one, each
with locks of its own, so the store refuses to start when that is more than one.

``AtomicRedisLockStore`` (endpoints.scaled.yml, several workers). Rasa 3.6's
``RedisLockStore`` reads a conversation's ticket lock, changes it in Python and writes it back
(``issue_ticket``, ``finish_serving``, ``update_lock``, ``cleanup``). Two workers that do this
at the same moment both read the same lock: both get the same ticket number, or one deletes
the lock while the other has just queued on it, and two messages of one conversation are then
processed at once, so events are lost or interleaved (rasa issue 9213; Rasa's own fix,
``ConcurrentRedisLockStore``, was reverted before 3.6). Here every read-modify-write runs as a
Redis optimistic transaction (WATCH the key, MULTI, EXEC, retry when another worker changed it
in between), so a ticket is issued, served and released exactly once whatever the number of
workers. The lock key carries a Redis expiry a minute past its last ticket, so a crashed
worker cannot leave locks behind. A transaction that changes the ticket being served while
another ticket waits also PUBLISHes the lock's new state (in the same MULTI) to the
conversation's channel; each worker that has a waiter keeps one pattern subscription to its
store's channels (as ``bot.rasa_ext.chat_stream.RedisNotifier`` does) and wakes its local
waiters: the one whose ticket that state serves goes ahead, the others look again. A waiter
also looks every second (every ``POLL_SECONDS`` while the subscription is down), so a lost
notification delays, never deadlocks. ``lock()``, the only method Rasa's message handling
uses, runs on the asyncio Redis client so that waiting on Redis never blocks the worker's
event loop; the blocking methods of Rasa's interface remain, with the same transactions.

endpoints::

    lock_store:
      type: bot.rasa_ext.lock_store.EventInMemoryLockStore     # endpoints.yml

    lock_store:
      type: bot.rasa_ext.lock_store.AtomicRedisLockStore       # endpoints.scaled.yml
      url: ${REDIS_URL}          # redis://[:password@]host:port/db, or a bare host as in Rasa
      key_prefix: bot        # keys are bot:lock:<conversation id>
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import inspect
import json
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from rasa.core.lock import TicketLock
from rasa.core.lock_store import (
    DEFAULT_SOCKET_TIMEOUT_IN_SECONDS,
    LOCK_LIFETIME,
    InMemoryLockStore,
    LockError,
    RedisLockStore,
)
from rasa.core.utils import number_of_sanic_workers
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig
from redis.exceptions import WatchError

from bot.rasa_ext.redis_clients import async_client
from bot.settings import get_settings

logger = logging.getLogger(__name__)

KEY_GRACE_SECONDS = 60
# A waiter looks at the lock at least this often even when nobody wakes it: the safety net
# for a lost notification (Rasa's own poll interval).
SAFETY_NET_SECONDS = 1.0
# While the Redis subscription is down, a waiter polls this often instead (Redis answers a
# poll in well under a millisecond).
POLL_SECONDS = 0.02
# A worker's subscription ends after this long without waiters (the next waiter starts it again).
IDLE_SUBSCRIPTION_SECONDS = 60.0
# Ticket.has_expired() is true only strictly after the expiry time.
EXPIRY_MARGIN_SECONDS = 0.001

RASA_VERSION = "3.6.21"

# sha256 of inspect.getsource() of each Rasa function the stores rely on or whose behaviour they
# copy, in Rasa 3.6.21 as installed from PyPI ("module:qualname"; properties by their getter).
FINGERPRINTS: dict[str, str] = {
    # EventInMemoryLockStore keeps Rasa's lock(): it must issue, call _acquire_lock, and clean up
    "rasa.core.lock_store:LockStore.lock": "8b9b716c031a34445100c32e7123859553831d2ac4747ae2b47a581f137ea371",
    # replaced; its loop and its LockError are copied
    "rasa.core.lock_store:LockStore._acquire_lock": "ead2fff373291c24619f2a2b53453f64ed2975ed68f53dce0e56041061356f05",
    # every change of a lock ends in save_lock or delete_lock, where waiters are woken
    "rasa.core.lock_store:LockStore.issue_ticket": "4dfdfb5e62c1dda994b30fe56f20994a55d54493d1f1b84e8a0ec2e8291036b8",
    "rasa.core.lock_store:LockStore.update_lock": "d56816a13451e7a5fe53b6e8aa6c604775d58de1febbbd0f3664c3cf92f68cb3",
    "rasa.core.lock_store:LockStore.finish_serving": "ba76ac5a486b97dda51d0522ca2978fd8a5ccd01c26e1124ba31169f948945f9",
    "rasa.core.lock_store:LockStore.cleanup": "f2ba1745c8153f923521ce87419bf04a30c5764e1680f15d5d30bd7e4d65dac5",
    "rasa.core.lock_store:InMemoryLockStore.get_lock": "43a8f81e3ac2874a4b9cacdaa7ba098fab49d523d377288aef1cbe9987dbce1a",
    "rasa.core.lock_store:InMemoryLockStore.save_lock": "42c55e1e12a0b36df6205eabe8aaf9756f8599f378c0ae5c99e51607a2a332bb",
    "rasa.core.lock_store:InMemoryLockStore.delete_lock": "41940e9056a1a16c9a10e360e213872cbd59be4dc376d27daa8a30820df2bc23",
    # AtomicRedisLockStore keeps RedisLockStore's client, key prefix and lock format
    "rasa.core.lock_store:RedisLockStore.__init__": "829e898a8cddff8dc3f2ff6e260e944b7e1e3e4ec2d4ce8787785ce062ffc551",
    "rasa.core.lock_store:RedisLockStore._set_key_prefix": "0c3fe826bd851b021e9e6535be80e55cc4c8baf8197056dbcbd1abe727f21cf3",
    # the ticket rules both stores apply (which ticket is served, expiry, release)
    "rasa.core.lock:Ticket.has_expired": "991bbc60c759ec619b3f89d120feb68587524be451fe9780bc85aee060de3bd0",
    "rasa.core.lock:TicketLock.from_dict": "2e2f58a003ed992737375c7554c7579b57d76c0c5dda4d099880cb4b7a1ea9a2",
    "rasa.core.lock:TicketLock.dumps": "10cd9616a0e09aa9e86e75f2eb0aa83437a1c0ee26de9686911e049b0c7d4237",
    "rasa.core.lock:TicketLock.is_locked": "fdce966e493f6113e24abd967b41b6f9946e52cdd60b4ee0efed620ad77ef825",
    "rasa.core.lock:TicketLock.issue_ticket": "e657493ddd22ee74ec1eedbc99efacfb04a16112473ef5bb85108e30642b3e22",
    "rasa.core.lock:TicketLock.remove_expired_tickets": "072ce50022e92446462fc7f256c89e06319351f6a78593db66dc948767ef5830",
    "rasa.core.lock:TicketLock.now_serving": "a5229961d3271aa427ea1b240349e5e392fba2f03d8e33f5240a1bd61dcc86cd",
    "rasa.core.lock:TicketLock._ticket_number_for": "6e5f9665382e2ae89f6f8e2c6474ea6b718fbac3a484900dfbb503fc21b67fd9",
    "rasa.core.lock:TicketLock.is_someone_waiting": "7ddd78d7e7c4d7e13f8ace6dcac731dbe63e691c7382adde952a45d70be2fc58",
    "rasa.core.lock:TicketLock.remove_ticket_for": "5e401fb73dd4c2f2a3ee05b60d75cc006aafb3f191d2f7df3e7dc6321d2c5a65",
}


def rasa_function(name: str) -> Callable[..., Any] | None:
    """The Rasa function ``module:qualname`` (a property's getter), or None when this Rasa has none."""
    module, _, qualname = name.partition(":")
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return None
    if isinstance(found, property):
        found = found.fget
    return found  # type: ignore[no-any-return]


def fingerprint(function: Callable[..., Any]) -> str | None:
    """sha256 of a function's source, or None when its source cannot be read."""
    try:
        return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()
    except (OSError, TypeError):
        return None


def changed_rasa_functions() -> list[str]:
    """Names in FINGERPRINTS whose installed source is not the one the stores were written for."""
    changed = []
    for name, digest in FINGERPRINTS.items():
        function = rasa_function(name)
        if function is None or fingerprint(function) != digest:
            changed.append(name)
    return changed


def event_wait_refusal() -> str | None:
    """Why EventInMemoryLockStore must wait as Rasa does (by polling), or None when it may be woken."""
    import rasa

    if not get_settings().rasa_speedups:
        return "BOT_RASA_SPEEDUPS is off"
    if rasa.__version__ != RASA_VERSION:
        return f"it was written for Rasa {RASA_VERSION}, this is Rasa {rasa.__version__}"
    changed = changed_rasa_functions()
    if changed:
        return f"it was written for Rasa {RASA_VERSION} and the source of {', '.join(changed)} differs"
    return None


def patience(lock: TicketLock, ticket: int, poll: float) -> float:
    """How long a waiter may sleep unless woken: the poll interval, or until a ticket ahead expires.

    A ticket ahead that expires (its holder crashed or hangs past the lock lifetime) hands the
    lock on without anyone announcing it, so the waiter looks again just after that moment.
    """
    ahead = [t.expires for t in lock.tickets if t.number < ticket]
    if not ahead:
        return poll
    return max(0.0, min(poll, min(ahead) - time.time() + EXPIRY_MARGIN_SECONDS))


class Waiters:
    """The futures of tasks waiting for a conversation's lock to change; a change wakes them all.

    Each waiter re-reads the lock when woken (or reads the lock's new state the wake-up carries),
    so waking one too many only costs a look; the ticket order is the lock's, not the order of
    waking.
    """

    def __init__(self) -> None:
        self._futures: dict[str, set[asyncio.Future[Any]]] = {}

    def expect(self, conversation_id: str) -> asyncio.Future[Any]:
        """A future the next change of this conversation's lock resolves (register before looking)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._futures.setdefault(conversation_id, set()).add(future)
        return future

    def forget(self, conversation_id: str, future: asyncio.Future[Any]) -> None:
        futures = self._futures.get(conversation_id)
        if futures is not None:
            futures.discard(future)
            if not futures:
                del self._futures[conversation_id]

    def wake(self, conversation_id: str, state: Any = None) -> None:
        """Resolve the conversation's futures, with the lock's new state when the wake-up carries it."""
        for future in self._futures.pop(conversation_id, ()):
            _resolve(future, state)

    def wake_all(self) -> None:
        for conversation_id in list(self._futures):
            self.wake(conversation_id)

    def __bool__(self) -> bool:
        return bool(self._futures)


def _resolve(future: asyncio.Future[Any], state: Any) -> None:
    loop = future.get_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if loop is running:
        _set(future, state)
        return
    with contextlib.suppress(RuntimeError):  # a waiter on another thread's loop, or a closed loop
        loop.call_soon_threadsafe(_set, future, state)


def _set(future: asyncio.Future[Any], state: Any) -> None:
    if not future.done():
        future.set_result(state)


async def _sleep_unless_woken(woken: asyncio.Future[Any], seconds: float) -> None:
    await asyncio.wait({woken}, timeout=seconds)


class EventInMemoryLockStore(InMemoryLockStore):
    """Rasa's in-memory ticket locks, with waiters woken when the ticket ahead is released."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **_: Any) -> None:
        # Rasa starts SANIC_WORKERS workers for any lock store but its own in-memory one; this is
        # how many it started.
        workers = number_of_sanic_workers(EndpointConfig(type=type(self).__qualname__))
        if workers > 1:
            raise RasaException(
                f"{type(self).__name__} keeps locks in one process, but SANIC_WORKERS asks for {workers} "
                "workers: use endpoints.scaled.yml (AtomicRedisLockStore) for several workers."
            )
        super().__init__()
        self._waiters = Waiters()
        self._serving: dict[str, int | None] = {}  # the ticket served of each lock, as last announced
        refusal = event_wait_refusal()
        self.event_driven = refusal is None
        if refusal is not None:
            logger.warning("Lock waits poll as in Rasa (once a second): %s.", refusal)

    def save_lock(self, lock: TicketLock) -> None:
        super().save_lock(lock)
        self._announce(lock.conversation_id, _served(lock))

    def delete_lock(self, conversation_id: str) -> None:
        super().delete_lock(conversation_id)
        self._serving.pop(conversation_id, None)
        self._waiters.wake(conversation_id)

    def _announce(self, conversation_id: str, serving: int | None) -> None:
        """Wake the conversation's waiters when the ticket served changed.

        Only a change wakes: waiters save the lock too (``update_lock``), and waking each other
        on every save would keep them busy.
        """
        if conversation_id in self._serving and self._serving[conversation_id] == serving:
            return
        self._serving[conversation_id] = serving
        self._waiters.wake(conversation_id)

    async def _acquire_lock(self, conversation_id: str, ticket: int, wait_time_in_seconds: float) -> TicketLock:
        """Rasa's loop: look, and sleep until woken or ``patience()`` has passed instead of a second."""
        if not self.event_driven:
            return await super()._acquire_lock(conversation_id, ticket, wait_time_in_seconds)
        while True:
            lock = self.get_lock(conversation_id)
            if not lock:  # every ticket expired and the lock was removed
                break
            if not lock.is_locked(ticket):
                logger.debug("Acquired lock for conversation '%s'.", conversation_id)
                return lock
            logger.debug(
                "Conversation '%s' is busy: %s other item(s) first; waiting until the one ahead finishes.",
                conversation_id,
                ticket - (lock.now_serving or 0),
            )
            # Registered with no await between the look and the wait: no change can slip in between.
            woken = self._waiters.expect(conversation_id)
            try:
                await _sleep_unless_woken(woken, patience(lock, ticket, wait_time_in_seconds))
            finally:
                self._waiters.forget(conversation_id, woken)
            self.update_lock(conversation_id)
        raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")


class Subscription:
    """One worker's pattern subscription to a store's wake-up channels (one per event loop).

    It runs while the worker has waiters and for ``IDLE_SUBSCRIPTION_SECONDS`` after, and hands
    each message to the local ``Waiters`` of its conversation.
    """

    def __init__(self, url: str, channel_prefix: str, timeout: float) -> None:
        self.url = url
        self.channel_prefix = channel_prefix
        self.timeout = timeout
        self.waiters = Waiters()
        self.listening = False
        self._warned = False
        self._task: asyncio.Task[None] | None = None

    def keep_listening(self) -> None:
        """Subscribe unless subscribed (the subscription ends when idle, or Redis was unreachable).

        Until Redis confirms the subscription, waiters poll; the confirmation wakes them all to
        look again, so a release published before it is not missed.
        """
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        from redis import asyncio as aioredis

        while True:
            client = aioredis.Redis.from_url(self.url, socket_connect_timeout=self.timeout)
            pubsub = client.pubsub()
            try:
                await pubsub.psubscribe(self.channel_prefix + "*")
                await self._hear(pubsub)
                return  # idle
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - waiters poll every POLL_SECONDS meanwhile; try again shortly
                (logger.debug if self._warned else logger.warning)(
                    "lock store: no Redis subscription; waiters poll until it is back", exc_info=self._warned
                )
                self._warned = True
                if self.listening:
                    self.waiters.wake_all()  # so that they poll from now on
            finally:
                self.listening = False
                with contextlib.suppress(Exception):
                    await pubsub.close()
                    await client.close()
            if not self.waiters:
                return
            await asyncio.sleep(1.0)

    async def _hear(self, pubsub: Any) -> None:
        """Hand each message to the waiters of its conversation until idle."""
        loop = asyncio.get_running_loop()
        idle_since = loop.time()
        while True:
            message = await pubsub.get_message(timeout=1.0)
            if self.waiters:
                idle_since = loop.time()
            elif loop.time() - idle_since > IDLE_SUBSCRIPTION_SECONDS:
                return
            kind = message.get("type") if message else None
            if kind == "psubscribe":
                self.listening = True
                self._warned = False
                self.waiters.wake_all()  # what was published before now went unheard: look again
            elif kind == "pmessage":
                self._dispatch(message.get("channel") or b"", message.get("data"))  # type: ignore[union-attr]

    def _dispatch(self, channel: bytes | str, state: Any) -> None:
        name = channel.decode() if isinstance(channel, bytes) else str(channel)
        if name.startswith(self.channel_prefix):
            self.waiters.wake(name[len(self.channel_prefix) :], state or None)


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs, **kwargs}
        kwargs.pop("type", None)
        host = str(kwargs.get("host", "localhost"))
        if host.startswith(("redis://", "rediss://")):
            from redis.connection import parse_url

            parts = parse_url(kwargs.pop("host"))
            kwargs.update(
                host=parts.get("host", "localhost"),
                port=parts.get("port", 6379),
                db=parts.get("db", 0),
                password=parts.get("password"),
                use_ssl=host.startswith("rediss://"),
            )
            self.url = host
        else:
            self.url = _url(kwargs)
        self.timeout = float(kwargs.get("socket_timeout", DEFAULT_SOCKET_TIMEOUT_IN_SECONDS))
        super().__init__(**kwargs)
        # Pub/sub channels are shared by all databases of a Redis server: the database is part of the name.
        db = self.red.connection_pool.connection_kwargs.get("db", 0)
        self.channel_prefix = f"wake:{db}:{self.key_prefix}"
        self._subscriptions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Subscription] = (
            weakref.WeakKeyDictionary()
        )

    def _key(self, conversation_id: str) -> str:
        return self.key_prefix + conversation_id

    def _channel(self, conversation_id: str) -> str:
        return self.channel_prefix + conversation_id

    def _change(self, conversation_id: str, change: Callable[[TicketLock], Any], create: bool = False) -> Any:
        """Apply ``change`` to the stored lock atomically and return its first value.

        ``change`` returns (result, delete): with delete true the lock is removed instead of saved.
        Without a stored lock nothing happens (None), unless ``create`` asks for a new one.
        """
        key = self._key(conversation_id)

        def transaction(pipe: Any) -> Any:
            lock = self._stored(conversation_id, pipe.get(key), create)
            if lock is None:
                return None
            result, delete, announce = _apply(lock, change)
            pipe.multi()
            _write(pipe, key, lock, delete, self._channel(conversation_id) if announce else None)
            return result

        return self.red.transaction(transaction, key, value_from_callable=True)

    def _stored(self, conversation_id: str, raw: Any, create: bool) -> TicketLock | None:
        if raw:
            return TicketLock.from_dict(json.loads(raw))
        return self.create_lock(conversation_id) if create else None

    @asynccontextmanager
    async def lock(  # type: ignore[override]
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = SAFETY_NET_SECONDS,
    ) -> AsyncIterator[TicketLock]:
        """Rasa's ticket lock (issue, wait for our turn, release), without blocking the loop.

        ``wait_time_in_seconds`` is the safety-net interval: a waiter is woken by the release
        of the ticket ahead, and looks again after this long if no wake-up came.
        """
        try:
            ticket = await self._achange(conversation_id, lambda lock: (lock.issue_ticket(lock_lifetime), False), True)
        except Exception as e:
            raise LockError(f"Error while acquiring lock. Error:\n{e}") from e
        try:
            yield await self._aacquire(conversation_id, ticket, wait_time_in_seconds)
        finally:
            await self._achange(conversation_id, _release(ticket))

    async def _aacquire(self, conversation_id: str, ticket: int, wait: float) -> TicketLock:
        client = self._aclient()
        subscription: Subscription | None = None
        while True:
            # Registered before the look, so a release published after it wakes this waiter.
            woken = subscription.waiters.expect(conversation_id) if subscription else None
            try:
                raw = await client.get(self._key(conversation_id))
                if not raw:  # expired meanwhile
                    break
                lock = TicketLock.from_dict(json.loads(raw))
                if not lock.is_locked(ticket):
                    return lock
                if subscription is None or woken is None:  # (woken is None only before subscribing)
                    # Busy: from now on hear releases, and look again with a future registered.
                    subscription = self._subscription()
                    continue
                if subscription.listening:
                    poll = wait
                else:  # poll until the subscription is back (it wakes every waiter when it is)
                    subscription.keep_listening()
                    poll = min(wait, POLL_SECONDS)
                await _sleep_unless_woken(woken, patience(lock, ticket, poll))
                if woken.done():
                    # The release announces the lock as it left it: when that serves our ticket it is
                    # ours (only our own ticket's expiry could change that, and a look would see the same).
                    announced = _announced(woken.result())
                    if announced is not None and not announced.is_locked(ticket):
                        return announced
                else:  # nobody announced a change: clean up expired tickets as Rasa does
                    await self._achange(conversation_id, lambda lock: (lock.remove_expired_tickets(), False))
            finally:
                if subscription is not None and woken is not None:
                    subscription.waiters.forget(conversation_id, woken)
        raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")

    def _subscription(self) -> Subscription:
        """This worker's subscription (one per event loop), started if need be."""
        loop = asyncio.get_running_loop()
        subscription = self._subscriptions.get(loop)
        if subscription is None:
            subscription = Subscription(self.url, self.channel_prefix, self.timeout)
            self._subscriptions[loop] = subscription
        subscription.keep_listening()
        return subscription

    def _aclient(self) -> Any:
        return async_client(self.url, self.timeout)

    async def _achange(self, conversation_id: str, change: Callable[[TicketLock], Any], create: bool = False) -> Any:
        """``_change`` on the asyncio client."""
        key = self._key(conversation_id)
        async with self._aclient().pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    lock = self._stored(conversation_id, await pipe.get(key), create)
                    if lock is None:
                        await pipe.reset()
                        return None
                    result, delete, announce = _apply(lock, change)
                    pipe.multi()
                    _write(pipe, key, lock, delete, self._channel(conversation_id) if announce else None)
                    await pipe.execute()
                    return result
                except WatchError:
                    continue

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return self._change(conversation_id, lambda lock: (lock.issue_ticket(lock_lifetime), False), create=True)
        except Exception as e:  # as RedisLockStore: the caller sees a LockError
            raise LockError(f"Error while acquiring lock. Error:\n{e}") from e

    def update_lock(self, conversation_id: str) -> None:
        self._change(conversation_id, lambda lock: (lock.remove_expired_tickets(), False))

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._change(conversation_id, lambda lock: (lock.remove_ticket_for(ticket_number), False))

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Release the ticket and drop the lock when nobody else holds a ticket, in one step."""
        self._change(conversation_id, _release(ticket_number))


def _served(lock: TicketLock) -> int | None:
    """The number of the ticket now served (expired ones left out), None when no ticket is left."""
    serving = lock.now_serving  # first, as it drops expired tickets
    return serving if lock.is_someone_waiting() else None


def _apply(lock: TicketLock, change: Callable[[TicketLock], Any]) -> tuple[Any, bool, bool]:
    """``change(lock)`` -> (result, delete, announce): announce when the lock passes to a waiting ticket."""
    serving = _served(lock)
    result, delete = change(lock)
    after = None if delete else _served(lock)
    return result, delete, serving is not None and after is not None and after != serving


def _announced(state: Any) -> TicketLock | None:
    """The lock state a wake-up carried, or None (a wake-up without one, or one not understood)."""
    try:
        return TicketLock.from_dict(json.loads(state)) if state else None
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _release(ticket_number: int) -> Callable[[TicketLock], tuple[None, bool]]:
    def release(lock: TicketLock) -> tuple[None, bool]:
        lock.remove_ticket_for(ticket_number)
        return None, not lock.is_someone_waiting()

    return release


def _url(kwargs: dict[str, Any]) -> str:
    """The redis:// URL of Rasa's host/port/db/password settings (for the asyncio client)."""
    scheme = "rediss" if kwargs.get("use_ssl") else "redis"
    user, password = kwargs.get("username") or "", kwargs.get("password")
    auth = f"{quote(user)}:{quote(str(password))}@" if password else ""
    return f"{scheme}://{auth}{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 1)}"


def _write(pipe: Any, key: str, lock: TicketLock, delete: bool, channel: str | None = None) -> None:
    """Queue the lock's new state in a MULTI block (sync or asyncio pipeline), and its announcement."""
    if delete:
        pipe.delete(key)
    else:
        pipe.set(key, lock.dumps(), px=_expiry_ms(lock))
    if channel is not None:
        pipe.publish(channel, lock.dumps())


def _expiry_ms(lock: TicketLock) -> int:
    last = max((t.expires for t in lock.tickets), default=time.time())
    return max(1, int((last - time.time() + KEY_GRACE_SECONDS) * 1000))
