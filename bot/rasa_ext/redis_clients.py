"""asyncio Redis clients shared within a process: one per URL, settings and event loop.

A client's connections belong to the event loop that opened them; each Sanic worker runs its
own loop (and tests run several), so clients are kept per loop, and forgotten with it.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, float, bool], Any]] = (
    weakref.WeakKeyDictionary()
)


def async_client(url: str, timeout: float, decode_responses: bool = False) -> Any:
    """The client for ``url`` on the running loop; ``timeout`` bounds connecting and each reply."""
    from redis import asyncio as aioredis

    loop_clients = _clients.setdefault(asyncio.get_running_loop(), {})
    key = (url, timeout, decode_responses)
    if key not in loop_clients:
        loop_clients[key] = aioredis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=decode_responses
        )
    return loop_clients[key]
