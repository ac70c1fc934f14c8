"""Waiting for a person is never silent, and "back to bot" leaves the queue (HTTP, real servers).

The servers run at 02:00 bank time (BOT_NOW), outside service hours, with a local helpdesk.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator

import pytest

from bot.clock import FixedClock
from bot.services.handoff import deliver_due, list_tickets
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.integration.conftest import free_port
from tests.services.test_handoff_delivery import Helpdesk

pytestmark = pytest.mark.servers
DESK_PORT = free_port()
SERVER_OPTIONS = {
    "env": {
        "BOT_NOW": "2026-11-28T02:00",
        "HANDOFF_WEBHOOK_URL": f"http://127.0.0.1:{DESK_PORT}/tickets",
    }
}


@pytest.fixture(scope="module", autouse=True)
def desk() -> Iterator[Helpdesk]:
    d = Helpdesk(port=DESK_PORT)
    yield d
    d.close()


def wait_for(condition, seconds: float = 15) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds  # waiting for background delivery, not timing it
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    return bool(condition())


def test_every_message_while_waiting_is_answered_with_what_happens_next_in_chinese(bot, desk) -> None:
    first = bot.text(bot.say("转人工", customer="C1006"))
    ticket_id = re.search(r"HO-2026-\d{6}", first).group(0)
    for message in ("人呢？", "我没有要投诉啊，我就是问问", "👀"):
        reply = bot.say(message, customer="C1006")
        assert len(reply) == 1, reply  # never empty, never a pile of apologies
        text = reply[0]["text"]
        assert ticket_id in text and "返回机器人" in text and "2026-11-28 09:00" in text and "400-888-0000" in text
    assert wait_for(lambda: desk.accepted[ticket_id] == 1)


def test_back_to_bot_withdraws_the_ticket_tells_the_helpdesk_and_the_bot_answers_again(bot, desk) -> None:
    first = bot.text(bot.say("I want to talk to a real person", customer="C1005"))
    ticket_id = re.search(r"HO-2026-\d{6}", first).group(0)
    assert wait_for(lambda: desk.accepted[ticket_id] == 1)  # the helpdesk has it
    waiting = bot.text(bot.say("hello? anyone there?", customer="C1005"))
    assert ticket_id in waiting and "back to bot" in waiting

    back = bot.text(bot.say("back to bot", customer="C1005"))
    assert "withdrawn" in back and ticket_id in back
    assert wait_for(lambda: desk.accepted[f"{ticket_id}/withdrawn"] == 1)
    body = desk.bodies[f"{ticket_id}/withdrawn"]
    assert body["status"] == "withdrawn" and body["ticket_id"] == ticket_id
    (ticket,) = [t for t in list_tickets(lambda: SqlAlchemyUnitOfWork(bot.database_url)) if t.ticket_id == ticket_id]
    assert ticket.status == "withdrawn"

    assert "nothing overdue" in bot.text(bot.say("how much do I owe?", customer="C1005"))


def test_back_to_bot_before_the_helpdesk_had_the_ticket_just_cancels_it(bot, desk) -> None:
    desk.fail = lambda n: True  # the helpdesk is down: the ticket waits in the outbox
    try:
        first = bot.text(bot.say("我要人工客服", customer="C1001"))
        ticket_id = re.search(r"HO-2026-\d{6}", first).group(0)
        assert wait_for(lambda: ticket(bot, ticket_id).attempts == 1 and ticket(bot, ticket_id).status == "pending")
        assert "已撤回" in bot.text(bot.say("返回机器人", customer="C1001"))
    finally:
        desk.fail = lambda n: False
    assert ticket(bot, ticket_id).status == "withdrawn"
    later = FixedClock(dt.datetime(2026, 11, 28, 3, 0))  # long after any backoff
    assert deliver_due(lambda: SqlAlchemyUnitOfWork(bot.database_url), desk.url, later).delivered == 0
    assert desk.accepted[ticket_id] == 0 and desk.accepted[f"{ticket_id}/withdrawn"] == 0
    assert "1,080.00" in bot.text(bot.say("我欠多少钱", customer="C1001"))  # the bot answers again


def ticket(bot, ticket_id):  # type: ignore[no-untyped-def]
    return next(t for t in list_tickets(lambda: SqlAlchemyUnitOfWork(bot.database_url)) if t.ticket_id == ticket_id)
