"""In-app tokens: HS256 JWTs whose ``sub`` is the customer id and whose ``exp`` is required."""

from __future__ import annotations

import datetime as dt
import re

import jwt

CUSTOMER_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class InvalidToken(Exception):
    """The token is missing, malformed, tampered with, expired or names no valid customer id."""


def mint(
    customer_id: str, secret: str, ttl: dt.timedelta = dt.timedelta(hours=12), now: dt.datetime | None = None
) -> str:
    """A signed token for ``customer_id`` valid for ``ttl``."""
    if not CUSTOMER_ID_PATTERN.match(customer_id):
        raise ValueError(f"not a customer id: {customer_id!r}")
    issued = now or dt.datetime.now(dt.timezone.utc)
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
