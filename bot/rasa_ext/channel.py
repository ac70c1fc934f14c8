"""The in-app input channel (CONTRACTS section 3).

Customers are identified only by a signed token; anonymous visitors by a random sender id
that is namespaced so it can never select a customer's conversation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.identity import ANONYMOUS_SENDER, customer_conversation, visitor_conversation
from bot.settings import get_settings
from bot.tokens import InvalidToken, verify

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000


class BadRequest(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of a request body, or BadRequest with a message a client developer can act on."""
    try:
        body = json.loads(raw or b"")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest(400, "body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest(400, "body must be a JSON object")
    message = body.get("message")
    if not isinstance(message, str):
        raise BadRequest(400, "'message' is required and must be a string")
    if not message.strip():
        raise BadRequest(400, "'message' must not be empty")
    if len(message) > MAX_MESSAGE_CHARS:
        raise BadRequest(413, f"'message' is longer than {MAX_MESSAGE_CHARS} characters")
    return body


def conversation_for(authorization: str | None, body: dict[str, Any], secret: str) -> tuple[str, str | None]:
    """(conversation id, customer id or None) for a request; BadRequest(401/400) when not acceptable."""
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise BadRequest(401, "Authorization must be 'Bearer <token>'")
        try:
            customer_id = verify(token.strip(), secret)
        except InvalidToken:
            raise BadRequest(401, "invalid or expired token") from None
        return customer_conversation(customer_id), customer_id
    sender = body.get("sender")
    if not isinstance(sender, str) or not ANONYMOUS_SENDER.match(sender):
        raise BadRequest(400, "anonymous requests need 'sender': 8-64 characters of A-Z a-z 0-9 _ -")
    return visitor_conversation(sender), None


class InAppInput(InputChannel):
    """POST /webhooks/inapp/webhook with {"message": ...}; replies with a JSON list of bot messages."""

    @classmethod
    def name(cls) -> str:
        return "inapp"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("inapp_webhook", __name__)
        secret = get_settings().jwt_secret

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = parse_body(request.body)
                conversation_id, customer_id = conversation_for(request.headers.get("authorization"), body, secret)
            except BadRequest as exc:
                return response.json({"error": exc.error}, status=exc.status)
            collector = CollectingOutputChannel()
            metadata = {"authenticated": customer_id is not None}
            try:
                await on_new_message(
                    UserMessage(
                        body["message"], collector, conversation_id, input_channel=self.name(), metadata=metadata
                    )
                )
            except Exception:
                logger.exception("inapp: handling a message failed")
                return response.json({"error": "the assistant is temporarily unavailable"}, status=503)
            return response.json([_public(m) for m in collector.messages])

        return hook


def _public(message: dict[str, Any]) -> dict[str, Any]:
    """Only the fields the app renders: recipient_id, text and optional buttons."""
    out: dict[str, Any] = {"recipient_id": message.get("recipient_id"), "text": message.get("text", "")}
    if message.get("buttons"):
        out["buttons"] = [{"title": b.get("title"), "payload": b.get("payload")} for b in message["buttons"]]
    return out
