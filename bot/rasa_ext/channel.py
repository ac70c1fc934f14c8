"""The in-app input channel (CONTRACTS section 3).

Customers are identified only by a signed token; anonymous visitors by a random sender id
that is namespaced so it can never select a customer's conversation.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.client_address import client_address
from bot.domain.distress import care_needed
from bot.domain.errors import Outage
from bot.domain.handback import wants_the_bot_back
from bot.domain.secrets import mask_secrets
from bot.identity import ANONYMOUS_SENDER, customer_conversation, visitor_conversation
from bot.language import detect_language
from bot.log_masking import install_log_masking
from bot.rasa_ext import chat_page, speedups
from bot.rasa_ext.chat_stream import MemoryNotifier, TooManyStreams, notifier_from_environment, sse
from bot.rasa_ext.health import HealthCheck
from bot.rasa_ext.idempotency import handle_once, replies_from_environment
from bot.rasa_ext.inbox_hints import MemoryHints, RedisHints, hints_from_environment
from bot.rasa_ext.limits import limits_from_environment
from bot.rasa_ext.payloads import sanitise_payload
from bot.rasa_ext.waiting import back_to_bot, care_message, render, waiting_reply
from bot.rasa_ext.waiting import resume as resume_conversation
from bot.services import chat_log
from bot.services.chat_log import Line
from bot.services.loans import customer_language
from bot.settings import get_settings
from bot.tokens import InvalidToken, verify
from bot.unit_of_work import SqlAlchemyUnitOfWork

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
    client_message_id = body.get("client_message_id")
    if client_message_id is not None and (
        not isinstance(client_message_id, str) or not ANONYMOUS_SENDER.match(client_message_id)
    ):
        raise BadRequest(400, "'client_message_id' must be 8-64 characters of A-Z a-z 0-9 _ -")
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


def _inbox(conversation_id: str) -> list[dict[str, Any]]:
    """Agent messages (and hand-back notices) waiting for this conversation, in the reply format."""
    from bot.services.handoff import fetch_agent_messages

    try:
        messages = fetch_agent_messages(SqlAlchemyUnitOfWork, conversation_id, get_settings().clock().now())
    except Exception:  # the customer's own answer must not fail because the inbox is unreachable
        logger.exception("inapp: reading the agent inbox failed")
        return []
    return [
        {"recipient_id": conversation_id, "text": m["text"], "from": m["sender"], "seq": m.get("seq")} for m in messages
    ]


async def _record(conversation_id: str, lines: list[Line]) -> list[chat_log.ChatLine]:
    """Store lines of the chat page's history; the reply never fails because this did."""
    if not lines:
        return []
    try:
        return await asyncio.to_thread(
            chat_log.append, SqlAlchemyUnitOfWork, conversation_id, lines, get_settings().clock().now()
        )
    except Exception:  # noqa: BLE001 - the customer still gets the answer, unnumbered
        logger.exception("inapp: storing chat lines failed")
        return []


def _line_of(message: dict[str, Any]) -> Line | None:
    """The chat line of a reply the channel sends (None for one with nothing to show)."""
    text = str(message.get("text") or "")
    buttons = [
        {"title": str(b.get("title") or ""), "payload": str(b.get("payload") or "")}
        for b in message.get("buttons") or ()
        if isinstance(b, dict)
    ]
    if not text and not buttons:
        return None
    return Line("agent" if message.get("from") == "agent" else "bot", text, tuple(buttons))


def _viewer(request: Request, secret: str) -> tuple[str, str | None]:
    """Who reads the chat (history, stream): the token, or an anonymous visitor's id in X-Chat-Sender."""
    return conversation_for(
        request.headers.get("authorization"), {"sender": request.headers.get("x-chat-sender")}, secret
    )


REPLY_TIMEOUT_SECONDS = 4.5


async def _stored_tracker(request: Request, conversation_id: str) -> Any | None:
    """The stored conversation, or None when there is none or the store cannot be read: then the
    channel's own replies use the default language and no pause is assumed (an apology is safe)."""
    try:
        return await request.app.ctx.agent.tracker_store.retrieve(conversation_id)
    except Exception:  # noqa: BLE001 - a reply in the default language beats no reply
        return None


def _slot_language(tracker: Any | None) -> str:
    """The conversation's `language` slot; its initial value (zh) for a new conversation."""
    return str((tracker.get_slot("language") if tracker else None) or "zh")


def _is_paused(tracker: Any | None) -> bool:
    """Whether a person has the conversation (the bot is paused), so the bot itself says nothing."""
    return bool(tracker and tracker.is_paused())


def _response_text(request: Request, name: str, language: str) -> str:
    """A response from the domain (domain/*.yml) in the given language, for replies the channel gives itself."""
    return render(request.app.ctx.agent, name, language)


class InAppInput(InputChannel):
    """POST /webhooks/inapp/webhook with {"message": ...}; replies with a JSON list of bot messages."""

    @classmethod
    def name(cls) -> str:
        return "inapp"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        install_log_masking()
        speedups.install()
        get_settings().refuse_unsafe_production()
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("inapp_webhook", __name__)

        @hook.listener("after_server_stop")
        async def close_endpoint_sessions(_app: Sanic, _loop: asyncio.AbstractEventLoop) -> None:
            # The action-server sessions speedups shares on this worker's event loop.
            await speedups.close_sessions()

        secret = get_settings().jwt_secret
        limits = limits_from_environment()
        hints = hints_from_environment()
        kept_replies = replies_from_environment()
        page_settings = chat_log.chat_settings()
        notifier = notifier_from_environment(page_settings.max_streams_per_conversation)

        trusted_proxies = get_settings().trusted_proxies

        def client_of(request: Request) -> str:
            """The client's address: the socket's peer, or what a trusted proxy says (bot.client_address)."""
            return client_address(request.ip, request.headers.getall("x-forwarded-for", None), trusted_proxies)

        async def admit_reader(request: Request) -> tuple[str, str | None] | HTTPResponse:
            """Who reads the chat (history, queue, stream), or the 429/4xx answer: each read counts per IP."""
            refused = await limits.check("ip", client_of(request))
            if refused:
                return response.json({"error": refused}, status=429)
            try:
                return _viewer(request, secret)
            except BadRequest as exc:
                return response.json({"error": exc.error}, status=exc.status)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        settings = get_settings()
        worker_health = HealthCheck(settings.database_url, settings.redis_url, settings.drain_file)

        @hook.route("/health", methods=["GET"])
        async def readiness(request: Request) -> HTTPResponse:
            """The load balancer's health check (bot.rasa_ext.health): model, database, Redis, draining.
            Not rate limited (a check must not use up a customer's budget); cached for a second."""
            found = await worker_health.status(getattr(request.app.ctx, "agent", None), bool(request.app.is_stopping))
            return response.json(found.payload(), status=found.http_status, headers={"Cache-Control": "no-store"})

        @hook.route("/chat", methods=["GET"])
        async def chat(request: Request) -> HTTPResponse:
            """The customer's chat page (CONTRACTS section 7)."""
            asked = request.args.get("lang") or ""
            accept = (request.headers.get("accept-language") or "").lower()
            language = asked if asked in chat_page.LANGUAGES else ("en" if accept.startswith("en") else "zh")
            base = request.path.rsplit("/chat", 1)[0]
            return response.html(
                chat_page.page(base, language, MAX_MESSAGE_CHARS), headers=chat_page.security_headers()
            )

        @hook.route("/chat/static/<name>", methods=["GET"])
        async def chat_asset(_: Request, name: str) -> HTTPResponse:
            found = chat_page.asset(name)
            if found is None:
                return response.json({"error": "no such file"}, status=404)
            headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
            return response.raw(found.body, content_type=found.content_type, headers=headers)

        @hook.route("/history", methods=["GET"])
        async def chat_history(request: Request) -> HTTPResponse:
            """The current chat session as the page shows it, the last line's number and the language."""
            admitted = await admit_reader(request)
            if isinstance(admitted, HTTPResponse):
                return admitted
            conversation_id, customer_id = admitted
            try:
                found = await asyncio.to_thread(chat_log.history, SqlAlchemyUnitOfWork, conversation_id)
            except Outage:
                return response.json({"error": "the chat history is unavailable; try again shortly"}, status=503)
            tracker = await _stored_tracker(request, conversation_id)
            language = tracker.get_slot("language") if tracker and tracker.events else None
            if language is None and customer_id:
                try:
                    language = await asyncio.to_thread(customer_language, SqlAlchemyUnitOfWork, customer_id)
                except Outage:
                    language = None  # the page keeps its own language
            return response.json(
                {
                    "session": found.chat_session,
                    "ended": found.ended,
                    "last_seq": found.last_seq,
                    "lines": [line.payload() for line in found.lines],
                    "language": language,
                    "verified": customer_id is not None,
                    "with_person": _is_paused(tracker),
                },
                headers={"Cache-Control": "no-store"},
            )

        @hook.route("/queue", methods=["GET"])
        async def chat_queue(request: Request) -> HTTPResponse:
            """The customer's place among those waiting for a person (1 = next), or null."""
            admitted = await admit_reader(request)
            if isinstance(admitted, HTTPResponse):
                return admitted
            conversation_id, _ = admitted
            from bot.services.console import queue_position

            try:
                position = await asyncio.to_thread(
                    queue_position, SqlAlchemyUnitOfWork, conversation_id, get_settings().clock().now()
                )
            except Exception:  # noqa: BLE001 - the page simply shows no position
                logger.exception("inapp: reading the queue position failed")
                position = None
            return response.json({"position": position}, headers={"Cache-Control": "no-store"})

        @hook.route("/stream", methods=["GET"])
        async def chat_stream(request: Request) -> HTTPResponse | None:
            """Server-sent events: every line after ``after`` (or Last-Event-ID), then new ones live."""
            admitted = await admit_reader(request)  # opening a stream counts as a request
            if isinstance(admitted, HTTPResponse):
                return admitted
            conversation_id, _ = admitted
            try:
                after = _after(request)
            except BadRequest as exc:
                return response.json({"error": exc.error}, status=exc.status)
            try:
                queue = notifier.subscribe(conversation_id)
            except TooManyStreams:
                return response.json({"error": "too many open streams for this conversation"}, status=429)
            try:
                await _serve_stream(request, notifier, queue, conversation_id, after, page_settings)
            finally:
                notifier.unsubscribe(conversation_id, queue)
            return None

        def rating_request(request: Request) -> tuple[str, str | None, int | None, str] | HTTPResponse:
            """(conversation, customer, rating, language) of an /end or /rate body, or the 400/401 answer."""
            try:
                raw = json.loads(request.body or b"{}")
            except ValueError:
                return response.json({"error": "body must be a JSON object"}, status=400)
            body = raw if isinstance(raw, dict) else {}
            try:
                conversation_id, customer_id = conversation_for(request.headers.get("authorization"), body, secret)
            except BadRequest as exc:
                return response.json({"error": exc.error}, status=exc.status)
            rating = body.get("rating")
            if rating is not None and (isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5):
                return response.json({"error": "'rating' must be a whole number from 1 to 5"}, status=400)
            language = body.get("language") if body.get("language") in chat_page.LANGUAGES else "zh"
            return conversation_id, customer_id, rating, str(language)

        async def rate_ticket(conversation_id: str, rating: int) -> str | None:
            """After a person helped, the rating is kept with their ticket too (the one resolved lately)."""
            from bot.services.handoff import rate_resolved_ticket

            since = get_settings().clock().now() - dt.timedelta(minutes=chat_log.idle_minutes())
            try:
                return await asyncio.to_thread(
                    rate_resolved_ticket, SqlAlchemyUnitOfWork, conversation_id, rating, since
                )
            except Outage:
                logger.warning("inapp: the rating could not be stored with the ticket of %s", conversation_id)
                return None

        @hook.route("/end", methods=["POST"])
        async def end(request: Request) -> HTTPResponse:
            """The customer ends the chat, optionally with a rating 1-5: {"rating"?, "language"?}."""
            asked = rating_request(request)
            if isinstance(asked, HTTPResponse):
                return asked
            conversation_id, customer_id, rating, language = asked
            try:
                line = await asyncio.to_thread(
                    chat_log.end_chat,
                    SqlAlchemyUnitOfWork,
                    conversation_id,
                    customer_id,
                    language,
                    rating,
                    get_settings().clock().now(),
                )
            except chat_log.AlreadyRated:
                return response.json({"error": "this chat has been rated already"}, status=409)
            except Outage:
                return response.json({"error": "the chat could not be ended; try again shortly"}, status=503)
            rated_ticket = await rate_ticket(conversation_id, rating) if rating is not None else None
            await notifier.publish(conversation_id, {"type": "lines"})
            return response.json(
                {"status": "ended", "line": line.payload() if line else None, "ticket_id": rated_ticket}
            )

        @hook.route("/rate", methods=["POST"])
        async def rate(request: Request) -> HTTPResponse:
            """The customer rates the chat so far and goes on chatting: {"rating", "language"?}."""
            asked = rating_request(request)
            if isinstance(asked, HTTPResponse):
                return asked
            conversation_id, customer_id, rating, language = asked
            if rating is None:
                return response.json({"error": "'rating' must be a whole number from 1 to 5"}, status=400)
            try:
                session = await asyncio.to_thread(
                    chat_log.rate_chat,
                    SqlAlchemyUnitOfWork,
                    conversation_id,
                    customer_id,
                    language,
                    rating,
                    get_settings().clock().now(),
                )
            except chat_log.AlreadyRated:
                return response.json({"error": "this chat has been rated already"}, status=409)
            except Outage:
                return response.json({"error": "the rating could not be stored; try again shortly"}, status=503)
            if session is None:
                return response.json({"error": "there is no chat to rate yet"}, status=409)
            return response.json(
                {"status": "rated", "session": session, "ticket_id": await rate_ticket(conversation_id, rating)}
            )

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            refused = await limits.check("ip", client_of(request))
            if refused:
                return response.json({"error": refused}, status=429)
            try:
                body = parse_body(request.body)
                conversation_id, customer_id = conversation_for(request.headers.get("authorization"), body, secret)
            except BadRequest as exc:
                return response.json({"error": exc.error}, status=exc.status)
            refused = await limits.check("conversation", conversation_id)
            if refused:
                return response.json({"error": refused}, status=429)
            # A retry of a message already answered gets the same answer (bot.rasa_ext.idempotency).
            client_message_id: str | None = body.get("client_message_id")
            if client_message_id:
                kept = await kept_replies.get(conversation_id, client_message_id)
                if kept is not None:
                    return response.raw(kept, content_type="application/json", headers={"X-Replayed": "1"})
                answer = await handle_message(request, body, conversation_id, customer_id, client_message_id)
                if answer.status == 200 and answer.body is not None:
                    await kept_replies.put(conversation_id, client_message_id, answer.body)
                return answer
            return await handle_message(request, body, conversation_id, customer_id, None)

        async def handle_message(
            request: Request,
            body: dict[str, Any],
            conversation_id: str,
            customer_id: str | None,
            message_id: str | None,
        ) -> HTTPResponse:
            text = body["message"]
            detected = detect_language(text)

            async def reply_language() -> str:
                # The stored conversation is read only when the channel must answer by itself
                # and the message does not say which language.
                return detected or _slot_language(await _stored_tracker(request, conversation_id))

            replies: list[dict[str, Any]] = []
            # What a button could have sent and nothing more (no slots set through "/intent{...}").
            read = sanitise_payload(text, request.app.ctx.agent.domain.intents)
            masked = mask_secrets(read)
            # The customer's line first, so lines other processes add meanwhile ("queued") come after it.
            user_lines = await _record(conversation_id, [Line("user", mask_secrets(text))])
            # The customer's other open pages (a second device) show the message and that an answer is coming.
            # ("after": the customer's line, so a page that already has the answer ignores a late signal)
            typing = {"type": "typing", "who": "bot", "on": True}
            await notifier.publish(conversation_id, {**typing, "after": user_lines[0].seq} if user_lines else typing)
            if masked != read:
                # Warn, and never let the raw value reach the tracker store, logs or tickets.
                replies.append(
                    {
                        "recipient_id": conversation_id,
                        "text": _response_text(request, "utter_secret_warning", await reply_language()),
                    }
                )
            if wants_the_bot_back(masked):
                tracker = await _stored_tracker(request, conversation_id)
                if _is_paused(tracker):
                    text_back = await back_to_bot(request.app.ctx.agent, conversation_id, _slot_language(tracker))
                    replies.append({"recipient_id": conversation_id, "text": text_back})
                    return await _reply(
                        conversation_id,
                        replies,
                        [],
                        user_lines,
                        detected,
                        notifier,
                        [Line("status", status="bot_back")],
                    )
            # Care comes first, whatever else the message asks (and the hotline for any sign of self-harm).
            care = care_needed(masked)
            if care is not None:
                replies.append(
                    {
                        "recipient_id": conversation_id,
                        "text": care_message(request.app.ctx.agent, care, await reply_language()),
                    }
                )
            collector = CollectingOutputChannel()
            metadata = {"authenticated": customer_id is not None}
            message = UserMessage(
                masked, collector, conversation_id, input_channel=self.name(), metadata=metadata, message_id=message_id
            )
            try:
                if message_id:
                    done = await asyncio.wait_for(handle_once(request.app.ctx.agent, message), REPLY_TIMEOUT_SECONDS)
                    if done is not None:
                        collector.messages.extend(done)
                else:
                    await asyncio.wait_for(on_new_message(message), timeout=REPLY_TIMEOUT_SECONDS)
            except Exception:  # includes the timeout: the customer gets an apology, the server keeps serving
                logger.exception("inapp: handling a message failed or took too long")
                if message_id:  # the client retries with the same id; it is handled at most once
                    return response.json(
                        {
                            "error": "the message could not be handled; send it again with the same client_message_id",
                            "retry": True,
                        },
                        status=503,
                    )
                collector.messages.append(
                    {
                        "recipient_id": conversation_id,
                        "text": _response_text(request, "utter_service_unavailable", await reply_language()),
                    }
                )
            if not collector.messages:
                tracker = await _stored_tracker(request, conversation_id)
                if _is_paused(tracker):
                    # Kept for the agent by Rasa; the customer hears that, and what happens next.
                    waiting = await asyncio.to_thread(
                        waiting_reply, request.app.ctx.agent, conversation_id, _slot_language(tracker)
                    )
                    collector.messages.append({"recipient_id": conversation_id, "text": waiting})
                else:
                    # Rasa logs a failed action (e.g. action server down) and answers nothing: apologise.
                    collector.messages.append(
                        {
                            "recipient_id": conversation_id,
                            "text": _response_text(request, "utter_service_unavailable", await reply_language()),
                        }
                    )
            inbox = await asyncio.to_thread(_inbox, conversation_id) if await hints.take(conversation_id) else []
            return await _reply(conversation_id, replies + collector.messages, inbox, user_lines, detected, notifier)

        @hook.route("/inbox", methods=["POST"])
        async def inbox(request: Request) -> HTTPResponse:
            """Messages from an agent for this conversation; the app polls while a person is handling it."""
            try:
                raw = json.loads(request.body or b"{}")
                body = raw if isinstance(raw, dict) else {}
                conversation_id, _ = conversation_for(request.headers.get("authorization"), body, secret)
            except BadRequest as exc:
                return response.json({"error": exc.error}, status=exc.status)
            except ValueError:
                return response.json({"error": "body must be a JSON object"}, status=400)
            await hints.take(conversation_id)
            return response.json(await asyncio.to_thread(_inbox, conversation_id))

        @hook.route("/agent/messages", methods=["POST"])
        async def agent_message(request: Request) -> HTTPResponse:
            """An agent writes to the customer: {"conversation_id", "text"}; the app receives it via the channel."""
            return await _agent_call(request, hints, notifier, resume=False)

        @hook.route("/agent/resume", methods=["POST"])
        async def agent_resume(request: Request) -> HTTPResponse:
            """The agent hands the conversation back to the bot: {"conversation_id"}."""
            return await _agent_call(request, hints, notifier, resume=True)

        @hook.route("/agent/typing", methods=["POST"])
        async def agent_typing(request: Request) -> HTTPResponse:
            """The agent is writing: {"conversation_id", "typing": true|false}; the customer's page shows it."""
            refused = _agent_refusal(request)
            if refused is not None:
                return refused
            try:
                body = json.loads(request.body or b"")
            except ValueError:
                return response.json({"error": "body must be a JSON object"}, status=400)
            if not isinstance(body, dict) or not isinstance(body.get("conversation_id"), str):
                return response.json({"error": "'conversation_id' is required"}, status=400)
            typing = body.get("typing", True) is not False
            await notifier.publish(body["conversation_id"], {"type": "typing", "who": "agent", "on": typing})
            return response.json({"status": "sent"})

        return hook


def _agent_refusal(request: Request) -> HTTPResponse | None:
    """The error response for a request without the agent API token, or None when it has it."""
    token = get_settings().agent_api_token
    if not token:
        return response.json({"error": "the agent API is disabled: set AGENT_API_TOKEN"}, status=503)
    scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
        return response.json({"error": "agent token required"}, status=401)
    return None


async def _agent_call(
    request: Request, hints: MemoryHints | RedisHints, notifier: MemoryNotifier, resume: bool
) -> HTTPResponse:
    from bot.services.handoff import post_agent_message

    refused = _agent_refusal(request)
    if refused is not None:
        return refused
    try:
        body = json.loads(request.body or b"")
    except ValueError:
        return response.json({"error": "body must be a JSON object"}, status=400)
    if not isinstance(body, dict) or not isinstance(body.get("conversation_id"), str):
        return response.json({"error": "'conversation_id' is required"}, status=400)
    conversation_id = body["conversation_id"]
    agent = request.app.ctx.agent
    if not await agent.tracker_store.exists(conversation_id):
        return response.json({"error": "no such conversation"}, status=404)
    if not resume:
        text = body.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_MESSAGE_CHARS:
            return response.json({"error": "'text' must be 1-2000 characters"}, status=400)
        at = get_settings().clock().now()
        await asyncio.to_thread(post_agent_message, SqlAlchemyUnitOfWork, conversation_id, text, "agent", at)
        await hints.mark(conversation_id)
        await notifier.publish(conversation_id, {"type": "lines"})
        return response.json({"status": "queued"})
    tracker = await resume_conversation(agent, conversation_id)
    text = _response_text(request, "utter_handback", tracker.get_slot("language") or "zh")
    at = get_settings().clock().now()
    await asyncio.to_thread(post_agent_message, SqlAlchemyUnitOfWork, conversation_id, text, "bot", at)
    await hints.mark(conversation_id)
    await notifier.publish(conversation_id, {"type": "lines"})
    return response.json({"status": "resumed"})


def _after(request: Request) -> int:
    raw = request.args.get("after") or request.headers.get("last-event-id") or "0"
    if not raw.isdigit() or len(raw) > 12:
        raise BadRequest(400, "'after' must be the number of a chat line (0 for all)")
    return int(raw)


async def _serve_stream(
    request: Request,
    notifier: MemoryNotifier,
    queue: asyncio.Queue[dict[str, Any]],
    conversation_id: str,
    after: int,
    settings: chat_log.ChatSettings,
) -> None:
    """Send the lines after ``after``, then each new one as it is stored, until ``stream_seconds``."""
    loop = asyncio.get_running_loop()
    stream = await request.respond(
        content_type="text/event-stream; charset=utf-8",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
    await stream.send("retry: 1000\n\n")
    deadline = loop.time() + settings.stream_seconds
    quiet_since = loop.time()
    while loop.time() < deadline:
        try:
            lines = await asyncio.to_thread(chat_log.lines_after, SqlAlchemyUnitOfWork, conversation_id, after)
        except Outage:
            lines = []  # the database is back soon; the page keeps what it has
        for line in lines:
            await stream.send(sse("line", line.payload(), line.seq))
            after = line.seq
            quiet_since = loop.time()
        if len(lines) >= 200:
            continue  # more waiting
        # Across processes a notification arrives through Redis; without it, look more often.
        poll = settings.poll_seconds_redis if notifier.hears_other_processes else settings.poll_seconds_embedded
        try:
            event = await asyncio.wait_for(queue.get(), timeout=min(poll, max(0.0, deadline - loop.time())))
        except asyncio.TimeoutError:
            if loop.time() - quiet_since >= 15:
                await stream.send(": still here\n\n")  # keeps proxies from closing an idle stream
                quiet_since = loop.time()
            continue
        if event.get("type") == "typing":
            signal = {"who": event.get("who"), "on": event.get("on", True)}
            if isinstance(event.get("after"), int):
                signal["after"] = event["after"]
            await stream.send(sse("typing", signal))
    await stream.eof()


async def _reply(
    conversation_id: str,
    messages: list[dict[str, Any]],
    inbox: list[dict[str, Any]],
    user_lines: list[chat_log.ChatLine],
    language: str | None,
    notifier: MemoryNotifier,
    before: list[Line] | None = None,
) -> HTTPResponse:
    """The webhook's answer: the replies (stored as chat lines, each with its number and time), then the
    agent messages waiting (stored when the agent wrote them). Open pages are told to look."""
    wanted = [(m, _line_of(m)) for m in messages]
    lines = [line for _, line in wanted if line is not None]
    stored = await _record(conversation_id, [*(before or []), *lines])
    numbered = iter(stored[len(before or []) :] if stored else ())
    out = []
    for message, line in wanted:
        public = _public(message)
        if line is not None and stored:
            shown = next(numbered)
            public["seq"], public["time"] = shown.seq, shown.at.strftime("%H:%M")
        out.append(public)
    out.extend(_public(m) for m in inbox)
    await notifier.publish(conversation_id, {"type": "lines"})
    headers = {}
    if user_lines:
        headers["X-Chat-Seq"] = str(user_lines[0].seq)
    if language:
        headers["X-Chat-Language"] = language
    return response.json(out, headers=headers)


def _public(message: dict[str, Any]) -> dict[str, Any]:
    """Only the fields the app renders: recipient_id, text and optional buttons (and, for the chat page,
    the line's number and time, and who wrote an agent-inbox message)."""
    out: dict[str, Any] = {"recipient_id": message.get("recipient_id"), "text": message.get("text", "")}
    if message.get("from"):
        out["from"] = message["from"]
    if message.get("seq") is not None:
        out["seq"] = message["seq"]
    if message.get("buttons"):
        out["buttons"] = [{"title": b.get("title"), "payload": b.get("payload")} for b in message["buttons"]]
    return out
