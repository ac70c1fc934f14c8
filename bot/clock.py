"""The bank's clock: the one place the assistant learns what time it is.

Convention for stored times: every ``DateTime`` column holds the bank's local wall-clock time
(the ``BOT_TIMEZONE`` zone, Asia/Shanghai by default) as a naive value, because every rule the
bank writes (service hours, quiet hours, "the day after the due date") is in that time. The
server's own time zone never enters: the clock converts from UTC explicitly. Only values that
leave the bank as instants (token ``iat``/``exp``, Rasa's event timestamps) are in UTC, from
:meth:`Clock.utc_now`.

``BOT_TODAY`` pins the date (the time of day is the bank's real one); ``BOT_NOW`` sets the
bank-local time at which the process starts, and the clock runs on from there, so retries and
leases still expire in a demo. Tests use :class:`FixedClock`, which moves only when told.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol
from zoneinfo import ZoneInfo


def system_utc_now() -> dt.datetime:
    """The system clock as an aware UTC time: the one reading of it in the code base (a test greps
    for others). Independent of the process time zone (TZ)."""
    return dt.datetime.now(dt.timezone.utc)


class Clock(Protocol):
    """What services and actions are given instead of reading the system clock."""

    def now(self) -> dt.datetime:
        """The bank's local time, naive (the stored-time convention)."""
        ...

    def today(self) -> dt.date:
        """The bank's local date."""
        ...

    def utc_now(self) -> dt.datetime:
        """The same instant as ``now()``, timezone-aware in UTC."""
        ...


class SystemClock:
    """The real time in the bank's zone, optionally pinned to a date or started at a given moment."""

    def __init__(
        self,
        timezone: str = "Asia/Shanghai",
        today_override: dt.date | None = None,
        now_override: dt.datetime | None = None,
    ) -> None:
        self.zone = ZoneInfo(timezone)
        self._today_override = today_override
        self._start = now_override.replace(microsecond=0) if now_override is not None else None
        self._started = time.monotonic()

    def _aware(self) -> dt.datetime:
        if self._start is not None:
            elapsed = dt.timedelta(seconds=time.monotonic() - self._started)
            return (self._start + elapsed).replace(tzinfo=self.zone)
        local = system_utc_now().astimezone(self.zone)
        if self._today_override is not None:
            local = dt.datetime.combine(self._today_override, local.timetz())
        return local

    def now(self) -> dt.datetime:
        return self._aware().replace(tzinfo=None, microsecond=0)

    def today(self) -> dt.date:
        return self._aware().date()

    def utc_now(self) -> dt.datetime:
        return self._aware().astimezone(dt.timezone.utc)


class FixedClock:
    """A clock for tests and tools: stands at ``at`` (bank-local) until moved with ``advance``/``set``."""

    def __init__(self, at: dt.datetime, timezone: str = "Asia/Shanghai") -> None:
        self.zone = ZoneInfo(timezone)
        self._at = at.replace(tzinfo=None)

    def set(self, at: dt.datetime) -> None:
        self._at = at.replace(tzinfo=None)

    def advance(self, **delta: float) -> None:
        self._at += dt.timedelta(**delta)

    def now(self) -> dt.datetime:
        return self._at

    def today(self) -> dt.date:
        return self._at.date()

    def utc_now(self) -> dt.datetime:
        return self._at.replace(tzinfo=self.zone).astimezone(dt.timezone.utc)
