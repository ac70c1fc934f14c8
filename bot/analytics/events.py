"""Rasa events as analytics rows: what is valid, what identifies an event, what is masked. Pure functions.

An event is the JSON object Rasa publishes to its event broker: ``{"sender_id", "event", "timestamp",
...}`` (the tracker store keeps the same object without ``sender_id``). Anything else (not JSON, not
an object, no conversation, no type, no usable timestamp) is rejected with a reason, so one bad
message never stops the pipeline.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bot.domain.secrets import mask_secrets
from bot.identity import verified_customer_id

#: Fields left out of an event's identity: ``sender_id`` is part of the key on its own, and the tracker
#: store's copy of an event does not carry it (reconcile adds it back from the conversation).
VOLATILE_FIELDS = frozenset({"sender_id"})
#: The fields the key names explicitly (the rest goes in as canonical JSON).
KEY_FIELDS = frozenset({"sender_id", "event", "timestamp"})
MAX_CONVERSATION_ID = 80
MAX_EVENT_TYPE = 32
MAX_NAME = 80
MAX_REASON = 200
MAX_BODY = 4000
# Rasa stamps events with Unix time; outside 1970..2100 it is not a time a conversation happened.
LATEST_TIMESTAMP = 4102444800.0


@dataclass(frozen=True)
class Rejected:
    """A message that is not a usable event, with why (stored in ``analytics_rejects``)."""

    reason: str
    body: str = ""


def canonical_json(value: Any) -> str:
    """One spelling of a JSON value: sorted keys, no spaces, ASCII escapes (so equal values hash equal)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def event_key(event: Mapping[str, Any]) -> str:
    """The identity of an event, which Rasa does not give it: sha256 (hex) of its conversation, its type,
    the repr of its timestamp and the canonical JSON of everything else but the volatile fields.

    The same event always gets the same key, whichever source delivered it and however often; two
    events differing in anything Rasa records (text, intent, slot value, time) get different keys.
    """
    rest = {k: v for k, v in event.items() if k not in KEY_FIELDS and k not in VOLATILE_FIELDS}
    material = "\x1f".join(
        (str(event["sender_id"]), str(event["event"]), repr(float(event["timestamp"])), canonical_json(rest))
    )
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


def decode(body: bytes | str) -> object:
    """A message body as JSON, or ``Rejected`` when it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        return Rejected(clip(f"not JSON: {exc}", MAX_REASON), reject_body(text))


def to_row(event: object) -> dict[str, Any] | Rejected:
    """The analytics row of one event (without ``received_at`` and ``source``, which the store adds),
    or why it cannot be one.

    - ``conversation_id`` is the sender id, ``verified`` whether it is a verified customer's
      (``customer:<id>``, bot.identity);
    - ``name``: the intent of a user message, otherwise the event's ``name`` (action, slot, form);
    - ``intent_confidence``: the intent's confidence (user messages);
    - ``text``: what the user or the bot said, ``value``: a slot's value as JSON, both with secrets
      masked (bot.domain.secrets);
    - ``at``: the event's timestamp as naive UTC.
    """
    if not isinstance(event, dict):
        return Rejected("not a JSON object", reject_body(dumps_for_reject(event)))
    problem = _problem(event)
    if problem:
        return Rejected(problem, reject_body(dumps_for_reject(event)))
    sender: str = event["sender_id"]
    event_type: str = event["event"]
    timestamp = float(event["timestamp"])
    text = event.get("text") if event_type in ("user", "bot") else None
    return {
        "event_key": event_key(event),
        "conversation_id": storable(sender),
        "verified": verified_customer_id(sender) is not None,
        "event_type": storable(event_type),
        "name": _name(event, event_type),
        "intent_confidence": _confidence(event) if event_type == "user" else None,
        "text": _masked(storable(text)) if isinstance(text, str) else None,
        "value": canonical_value(event.get("value")) if event_type == "slot" else None,
        "at": dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).replace(tzinfo=None),
    }


def _problem(event: dict[str, Any]) -> str | None:
    sender = event.get("sender_id")
    if not isinstance(sender, str) or not sender:
        return "sender_id missing or not a string"
    if len(sender) > MAX_CONVERSATION_ID:
        return f"sender_id longer than {MAX_CONVERSATION_ID} characters"
    event_type = event.get("event")
    if not isinstance(event_type, str) or not event_type:
        return "event missing or not a string"
    if len(event_type) > MAX_EVENT_TYPE:
        return f"event type longer than {MAX_EVENT_TYPE} characters"
    timestamp = event.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        return "timestamp missing or not a number"
    if not (math.isfinite(timestamp) and 0 <= timestamp < LATEST_TIMESTAMP):
        return "timestamp out of range"
    return None


def _name(event: dict[str, Any], event_type: str) -> str | None:
    name = _intent(event).get("name") if event_type == "user" else event.get("name")
    return clip(storable(name), MAX_NAME) if isinstance(name, str) else None


def _intent(event: dict[str, Any]) -> dict[str, Any]:
    parse_data = event.get("parse_data")
    intent = parse_data.get("intent") if isinstance(parse_data, dict) else None
    return intent if isinstance(intent, dict) else {}


def _confidence(event: dict[str, Any]) -> float | None:
    confidence = _intent(event).get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not math.isfinite(confidence):
        return None
    return float(confidence)


def canonical_value(value: Any) -> str:
    """A slot value as JSON with every secret in it masked; still valid JSON (a masked number becomes a string)."""
    return json.dumps(_mask_value(value), ensure_ascii=False, sort_keys=True, default=str)


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return _masked(storable(value))
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        masked = _masked(str(value))
        return value if masked == str(value) else masked
    if isinstance(value, list):
        return [_mask_value(v) for v in value]
    if isinstance(value, dict):
        return {storable(str(k)): _mask_value(v) for k, v in value.items()}
    return _masked(storable(str(value)))


@lru_cache(maxsize=8192)
def _masked(text: str) -> str:
    # The bot's own texts repeat (templated responses); masking each once is most of the CPU saved.
    return mask_secrets(text)


def storable(text: str) -> str:
    """The text as every database can store it: NUL and lone surrogates (which PostgreSQL refuses, and
    which would fail the whole batch) become U+FFFD."""
    if text.isascii() and "\x00" not in text:
        return text
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace").replace("\x00", "\ufffd")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def reject_body(text: str) -> str:
    """What is kept of a rejected message: its first 4,000 characters, storable, secrets masked."""
    # Masked with a margin before cutting, so a secret across the cut is still seen whole.
    return mask_secrets(storable(text[: MAX_BODY + 100]))[:MAX_BODY]


def reject_key(source: str, rejected: Rejected) -> str:
    """The identity of a reject, so a redelivered bad message is stored once."""
    material = "\x1f".join((source, rejected.reason, rejected.body))
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


def dumps_for_reject(value: object) -> str:
    """A decoded message as text again, for ``reject_body`` (a little more than it keeps)."""
    try:
        return json.dumps(value, ensure_ascii=False, default=str)[: MAX_BODY + 100]
    except (ValueError, RecursionError):
        return repr(value)[: MAX_BODY + 100]
