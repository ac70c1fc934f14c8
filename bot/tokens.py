"""In-app tokens: HS256 JWTs whose ``sub`` is the customer id and whose ``exp`` is required."""

from __future__ import annotations

import datetime as dt
import re

import jwt

from bot.clock import system_utc_now

CUSTOMER_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class InvalidToken(Exception):
    """The token is missing, malformed, tampered with, expired or names no valid customer id."""


def mint(
    customer_id: str, secret: str, ttl: dt.timedelta = dt.timedelta(hours=12), now: dt.datetime | None = None
) -> str:
    """A signed token for ``customer_id`` valid for ``ttl`` from ``now`` (default: the real time).

    Token times are real instants, never the bank's business clock: BOT_TODAY or BOT_NOW pin
    the business date for tests and demos, and must never lengthen or shorten a token's life.
    Verification likewise checks ``exp`` against the real time (PyJWT's check).
    """
    if not CUSTOMER_ID_PATTERN.match(customer_id):
        raise ValueError(f"not a customer id: {customer_id!r}")
    issued = now or system_utc_now()
    return jwt.encode({"sub": customer_id, "iat": issued, "exp": issued + ttl}, secret, algorithm="HS256")


def verify(token: str, secret: str) -> str:
    """The customer id of a valid token; raises InvalidToken otherwise. Only HS256 is accepted."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    subject = claims.get("sub")
    if not isinstance(subject, str) or not CUSTOMER_ID_PATTERN.match(subject):
        raise InvalidToken("sub is not a customer id")
    return subject
