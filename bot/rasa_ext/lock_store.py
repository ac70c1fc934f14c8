"""A Redis ticket-lock store that stays correct when several Rasa processes share it.

Rasa 3.6's ``RedisLockStore`` reads a conversation's ticket lock, changes it in Python and
writes it back (``issue_ticket``, ``finish_serving``, ``update_lock``, ``cleanup``). Two
workers that do this at the same moment both read the same lock: both get the same ticket
number, or one deletes the lock while the other has just queued on it, and two messages of
one conversation are then processed at once, so events are lost or interleaved (rasa issue
9213; Rasa's own fix, ``ConcurrentRedisLockStore``, was reverted before 3.6).

Here every read-modify-write runs as a Redis optimistic transaction (WATCH the key, MULTI,
EXEC, retry when another worker changed it in between), so a ticket is issued, served and
released exactly once whatever the number of workers. The lock key also carries a Redis
expiry a minute past its last ticket, so a crashed worker cannot leave locks behind.
``lock()``, the only method Rasa's message handling uses, runs on the asyncio Redis client so
that waiting on Redis never blocks the worker's event loop; the blocking methods of Rasa's
interface remain, with the same transactions.

endpoints (see endpoints.scaled.yml)::

    lock_store:
      type: bot.rasa_ext.lock_store.AtomicRedisLockStore
      url: ${REDIS_URL}          # redis://[:password@]host:port/db, or a bare host as in Rasa
      key_prefix: bot        # keys are bot:lock:<conversation id>
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from rasa.core.lock import TicketLock
from rasa.core.lock_store import DEFAULT_SOCKET_TIMEOUT_IN_SECONDS, LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig
from redis.exceptions import WatchError

from bot.rasa_ext.redis_clients import async_client

KEY_GRACE_SECONDS = 60
# Rasa polls a busy lock once a second; a customer who sends two messages quickly would wait
# a whole second for the second answer. Redis answers a poll in well under a millisecond.
POLL_SECONDS = 0.02


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

    def _key(self, conversation_id: str) -> str:
        return self.key_prefix + conversation_id

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
            result, delete = change(lock)
            pipe.multi()
            _write(pipe, key, lock, delete)
            return result

        return self.red.transaction(transaction, key, value_from_callable=True)

    def _stored(self, conversation_id: str, raw: Any, create: bool) -> TicketLock | None:
        if raw:
            return TicketLock.from_dict(json.loads(raw))
        return self.create_lock(conversation_id) if create else None

    @asynccontextmanager
    async def lock(  # type: ignore[override]
        self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = POLL_SECONDS
    ) -> AsyncIterator[TicketLock]:
        """Rasa's ticket lock (issue, wait for our turn, release), without blocking the loop."""
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
        while True:
            raw = await client.get(self._key(conversation_id))
            if not raw:  # expired meanwhile
                break
            lock = TicketLock.from_dict(json.loads(raw))
            if not lock.is_locked(ticket):
                return lock
            await asyncio.sleep(wait)
            await self._achange(conversation_id, lambda lock: (lock.remove_expired_tickets(), False))
        raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")

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
                    result, delete = change(lock)
                    pipe.multi()
                    _write(pipe, key, lock, delete)
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


def _write(pipe: Any, key: str, lock: TicketLock, delete: bool) -> None:
    """Queue the lock's new state in a MULTI block (sync or asyncio pipeline)."""
    if delete:
        pipe.delete(key)
    else:
        pipe.set(key, lock.dumps(), px=_expiry_ms(lock))


def _expiry_ms(lock: TicketLock) -> int:
    last = max((t.expires for t in lock.tickets), default=time.time())
    return max(1, int((last - time.time() + KEY_GRACE_SECONDS) * 1000))
