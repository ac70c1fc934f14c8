"""Idempotent retries of in-app messages (bot.rasa_ext.idempotency, the webhook's client_message_id)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_ext.channel import BadRequest, parse_body
from bot.rasa_ext.idempotency import MemoryReplies, answered, handle_once


def _tracker() -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        "visitor:abc",
        [
            ActionExecuted("action_listen"),
            UserUttered("hi", message_id="first-message"),
            BotUttered("hello"),
            BotUttered("how can I help?", data={"buttons": [{"title": "Repay", "payload": "/ask_how_to_repay"}]}),
            ActionExecuted("action_listen"),
            UserUttered("thanks", message_id="second-message"),
            BotUttered("you're welcome"),
        ],
    )


def test_answered_gives_the_bot_messages_stored_after_that_message() -> None:
    tracker = _tracker()
    first = answered(tracker, "first-message")
    assert first is not None
    assert [m["text"] for m in first] == ["hello", "how can I help?"]
    assert first[1]["buttons"] == [{"title": "Repay", "payload": "/ask_how_to_repay"}]
    assert [m["text"] for m in answered(tracker, "second-message") or []] == ["you're welcome"]
    assert answered(tracker, "never-sent-1") is None
    assert answered(None, "first-message") is None


def test_memory_replies_keep_the_newest() -> None:
    replies = MemoryReplies(max_replies=2)

    async def run() -> list[bytes | None]:
        for n in range(3):
            await replies.put("c", f"id-{n}", f"[{n}]".encode())
        return [await replies.get("c", f"id-{n}") for n in range(3)]

    assert asyncio.run(run()) == [None, b"[1]", b"[2]"]


@pytest.mark.parametrize("bad", [7, "short", "has space in it", "x" * 65])
def test_a_bad_client_message_id_is_refused(bad: Any) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_body(f'{{"message": "hi", "client_message_id": {bad!r}}}'.replace("'", '"').encode())
    assert raised.value.status == 400


def test_a_good_client_message_id_is_accepted() -> None:
    assert parse_body(b'{"message": "hi", "client_message_id": "a1B2-c3_d4"}')["client_message_id"] == "a1B2-c3_d4"


class _Agent:
    """What handle_once uses of Rasa's agent: the lock store, the tracker store and the processor."""

    def __init__(self, tracker: DialogueStateTracker | None) -> None:
        from rasa.core.lock_store import InMemoryLockStore

        self.lock_store = InMemoryLockStore()
        self.tracker = tracker
        self.handled: list[str] = []
        agent = self

        class Store:
            async def retrieve(self, _: str) -> DialogueStateTracker | None:
                return agent.tracker

        class Processor:
            async def handle_message(self, message: UserMessage) -> None:
                agent.handled.append(message.message_id)

        self.tracker_store = Store()
        self.processor = Processor()


def test_handle_once_processes_a_new_message_and_replays_a_stored_one() -> None:
    agent = _Agent(_tracker())
    new = UserMessage("hello again", CollectingOutputChannel(), "visitor:abc", message_id="third-message")
    assert asyncio.run(handle_once(agent, new)) is None
    assert agent.handled == ["third-message"]
    again = UserMessage("thanks", CollectingOutputChannel(), "visitor:abc", message_id="second-message")
    assert [m["text"] for m in asyncio.run(handle_once(agent, again)) or []] == ["you're welcome"]
    assert agent.handled == ["third-message"], "a stored message is not processed twice"
