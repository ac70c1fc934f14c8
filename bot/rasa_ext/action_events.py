"""Action calls that carry only a conversation's new events: the action server's side.

Rasa sends a custom action every event of the session on every call. At message 500 of one
session that is about 2 MB of JSON, which the action server took ~25 ms to parse for each call
(bench/session_length.py, README "Performance"), though it had parsed all but the last few
events before. With ``bot.rasa_ext.speedups`` installed, Rasa (``state_cache``) marks the calls of
a long session with the id of the session's event history in Rasa (``bot_events_line``) and,
once this server has had them, sends only the events this server does not hold yet, with how
many it does hold (``bot_events_base``). This module puts the events it kept in front again and
takes both keys out, so rasa_sdk and the actions get exactly the call Rasa would have sent. A
call whose base this server does not hold (it restarted, another worker has it, it was evicted)
is answered 409, and Rasa sends the whole call. ``GET /webhook/events-delta`` tells Rasa that
this server takes such calls; Rasa asks once, and a server that does not answer it (rasa_sdk's
own) always gets whole calls.

Only the event lists are kept (per worker process, at most ``KEPT_EVENTS`` events, a history idle
for ``KEPT_SECONDS`` goes first); the actions only read them (nothing here or in rasa_sdk changes
an event), and each call gets a list of its own.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

KEPT_EVENTS = 200_000
KEPT_SECONDS = 600.0


class KeptEvents:
    """Event lists by history id, oldest first, bounded in events and idle time."""

    def __init__(self, max_events: int = KEPT_EVENTS, max_seconds: float = KEPT_SECONDS) -> None:
        self._lists: OrderedDict[str, tuple[list[Any], float]] = OrderedDict()
        self.events = 0
        self.max_events = max_events
        self.max_seconds = max_seconds

    def get(self, line: str) -> list[Any] | None:
        found = self._lists.get(line)
        return found[0] if found else None

    def put(self, line: str, events: list[Any], now: float) -> None:
        old = self._lists.pop(line, None)
        if old is not None:
            self.events -= len(old[0])
        self._lists[line] = (events, now)
        self.events += len(events)
        while self._lists:
            oldest, (kept, at) = next(iter(self._lists.items()))
            if self.events <= self.max_events and now - at <= self.max_seconds:
                break
            del self._lists[oldest]
            self.events -= len(kept)


def expand(call: dict[str, Any], kept: KeptEvents, now: float) -> bool:
    """Turn a marked action call into the call Rasa would have sent (in place) and keep its
    events; False when it names a base this server does not hold (answer 409)."""
    line = call.pop("bot_events_line", None)
    base = call.pop("bot_events_base", None)
    tracker = call.get("tracker")
    if not isinstance(tracker, dict):
        return True  # not a call rasa_sdk can run: it answers that itself
    events = tracker.get("events")
    if not isinstance(line, str) or not isinstance(events, list):
        return True  # not marked (or not a call rasa_sdk can run: it answers that itself)
    if base is not None:
        held = kept.get(line)
        if held is None or not isinstance(base, int) or not 0 <= base <= len(held):
            return False
        events = held[:base] + events
        tracker["events"] = events
    kept.put(line, list(events), now)  # a list of its own: rasa_sdk hands the call's list to the action
    return True


def install(app: Sanic, kept: KeptEvents | None = None) -> KeptEvents:
    """Let ``app`` (rasa_sdk's, after its token check) take calls with only the new events."""
    kept = kept if kept is not None else KeptEvents()

    @app.get("/webhook/events-delta")
    async def events_delta(_: Request) -> HTTPResponse:
        return response.json({"events_delta": 1})

    @app.on_request
    async def complete_events(request: Request) -> HTTPResponse | None:
        if request.path != "/webhook" or request.method != "POST":
            return None
        try:
            call = request.json
        except Exception:  # noqa: BLE001 - rasa_sdk answers a body it cannot read
            return None
        if isinstance(call, dict) and not expand(call, kept, time.monotonic()):
            return response.json(
                {"error": "unknown events base: send the whole call", "action_name": call.get("next_action")},
                status=409,
            )
        return None

    return kept
