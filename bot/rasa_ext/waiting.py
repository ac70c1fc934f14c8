"""A conversation a person has (the bot is paused) is never silent, and the customer can leave it.

While paused, Rasa stores each message for the agent and answers nothing; the channel then
answers with what happens next: the message was passed on, when a person will reply (within
minutes in service hours; after opening time otherwise) and how to go back to the assistant.
"返回机器人" / "back to bot" withdraws the ticket (the helpdesk is told through the ticket
outbox) and resumes the bot.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, ConversationResumed

from bot.domain.distress import CareContacts
from bot.domain.errors import Outage
from bot.language import variation_text
from bot.services.handoff import deliver_now, service_hours, waiting_ticket, withdraw_ticket
from bot.settings import get_settings
from bot.unit_of_work import SqlAlchemyUnitOfWork

logger = logging.getLogger(__name__)


def render(agent: Any, name: str, language: str, **variables: Any) -> str:
    """A response of the domain in the conversation's language, with its variables filled in."""
    text = variation_text(agent.domain.responses.get(name, []), language) or ""
    return text.format(**variables) if variables else text


def care_message(agent: Any, care: str, language: str) -> str:
    """The words for the care ``bot.domain.distress.care_needed`` named."""
    if care == "self_harm":
        contacts = CareContacts.from_file(get_settings().config_file("care.yml"))
        return render(
            agent,
            "utter_self_harm_support",
            language,
            hotline=contacts.psychological_hotline,
            emergency=contacts.emergency_numbers,
        )
    return render(agent, "utter_distress_care", language)


def waiting_reply(agent: Any, conversation_id: str, language: str) -> str:
    """What a customer hears for a message sent while waiting for a person."""
    hours = service_hours()
    now = get_settings().clock().now()
    try:
        ticket = waiting_ticket(SqlAlchemyUnitOfWork, conversation_id)
    except Outage:
        ticket = None
    if ticket is None:
        return render(agent, "utter_waiting_no_ticket", language)
    if hours.is_open(now):
        return render(
            agent, "utter_waiting_open", language, ticket_id=ticket.ticket_id, minutes=hours.first_reply_minutes
        )
    return render(
        agent,
        "utter_waiting_closed",
        language,
        ticket_id=ticket.ticket_id,
        open_from=hours.open_from.strftime("%H:%M"),
        open_until=hours.open_until.strftime("%H:%M"),
        next_open=hours.next_opening(now).strftime("%Y-%m-%d %H:%M"),
    )


async def resume(agent: Any, conversation_id: str) -> Any:
    """Let the bot answer the conversation again; returns the tracker."""
    async with agent.lock_store.lock(conversation_id):
        tracker = await agent.processor.get_tracker(conversation_id)
        tracker.update(ConversationResumed())
        # The bot listens again: without this the next message would follow the handoff action
        # directly and match no rule.
        tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
        await agent.processor.save_tracker(tracker)
    return tracker


async def back_to_bot(agent: Any, conversation_id: str, language: str) -> str:
    """Withdraw the waiting ticket, resume the bot and say so."""
    try:
        ticket = await asyncio.to_thread(
            withdraw_ticket, SqlAlchemyUnitOfWork, conversation_id, get_settings().clock().now()
        )
    except Outage:
        logger.warning("could not withdraw the ticket of %s: records unavailable", conversation_id)
        ticket = None
    await resume(agent, conversation_id)
    if ticket is None:
        return render(agent, "utter_back_to_bot_plain", language)
    settings = get_settings()
    asyncio.get_running_loop().run_in_executor(
        None, deliver_now, SqlAlchemyUnitOfWork, settings.handoff_webhook_url, settings.clock()
    )
    return render(agent, "utter_back_to_bot", language, ticket_id=ticket.ticket_id)
