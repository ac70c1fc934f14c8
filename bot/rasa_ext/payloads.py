"""Rasa's typed intent syntax ("/intent{"entity": "value"}") from the outside world.

Buttons send "/intent" payloads, and Rasa takes any message in that syntax at its word:
entities in it fill slots ("/greet{"language": "fr"}" would set a language the bot has no
replies in) and an unknown intent breaks the turn. The channel lets through only what a
button could have sent: "/<intent of the domain>", nothing attached. Anything else that
starts with "/" is read as ordinary text.
"""

from __future__ import annotations

import re
from collections.abc import Collection

INTENT_SYNTAX = re.compile(r"^\s*/(?P<intent>[A-Za-z_][\w]*)(?P<rest>.*)$", re.S)


def sanitise_payload(text: str, intents: Collection[str]) -> str:
    """The message as the bot should read it: "/intent" for a known intent (entities and
    confidence dropped), the text without the slash for anything else in intent syntax."""
    if not text.lstrip().startswith("/"):
        return text
    match = INTENT_SYNTAX.match(text)
    if match is not None and match.group("intent") in intents and match.group("intent") != "nlu_fallback":
        return f"/{match.group('intent')}"
    return text.strip().lstrip("/").strip() or "?"
