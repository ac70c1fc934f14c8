"""Conversation ids: who is talking is decided by the channel, never by the message body.

A verified customer's conversation id is ``customer:<sub>``; an anonymous visitor's is
``visitor:<sender>``. Sender ids may not contain ':' so the two can never collide, and the
customer id reaches the actions only through this prefix.
"""

from __future__ import annotations

import re

CUSTOMER_PREFIX = "customer:"
VISITOR_PREFIX = "visitor:"
ANONYMOUS_SENDER = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def customer_conversation(customer_id: str) -> str:
    return CUSTOMER_PREFIX + customer_id


def visitor_conversation(sender: str) -> str:
    if not ANONYMOUS_SENDER.match(sender):
        raise ValueError("sender must be 8-64 characters of A-Z a-z 0-9 _ -")
    return VISITOR_PREFIX + sender


def verified_customer_id(conversation_id: str) -> str | None:
    """The customer id a conversation belongs to, or None for an anonymous visitor."""
    if conversation_id.startswith(CUSTOMER_PREFIX):
        return conversation_id[len(CUSTOMER_PREFIX) :] or None
    return None
