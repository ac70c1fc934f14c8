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
    """A signed token for ``customer_id`` valid for ``ttl`` from ``now`` (the bank clock's UTC time;
    default: the process-wide clock)."""
    if not CUSTOMER_ID_PATTERN.match(customer_id):
        raise ValueError(f"not a customer id: {customer_id!r}")
    issued = now or _clock_now()
    return jwt.encode({"sub": customer_id, "iat": issued, "exp": issued + ttl}, secret, algorithm="HS256")


def _clock_now() -> dt.datetime:
    from bot.settings import get_settings

    return get_settings().clock().utc_now()


def verify(token: str, secret: str, now: dt.datetime | None = None) -> str:
    """The customer id of a valid token; raises InvalidToken otherwise. Only HS256 is accepted.

    Expiry is judged by the bank's clock (``now``, default the process-wide clock), not by the
    library's reading of the system clock, so BOT_NOW demos and tests agree with the tokens they mint.
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"require": ["exp", "sub"], "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise InvalidToken("exp is not a time")
    at = (now or _clock_now()).timestamp()
    if at >= exp:
        raise InvalidToken("Signature has expired")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and at < nbf:
        raise InvalidToken("The token is not yet valid (nbf)")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not CUSTOMER_ID_PATTERN.match(subject):
        raise InvalidToken("sub is not a customer id")
    return subject
