"""An action that fails or hangs leaves the conversation usable: form closed, one apology, no stale events."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import ActionExecutionRejection

from bot.rasa_ext.action_server import RecoveringExecutor


class Explodes(Action):
    def name(self) -> str:
        return "action_explodes"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[Any]:
        dispatcher.utter_message(response="utter_half_said")
        raise RuntimeError("Instance <Loan> is not bound to a Session")


class Hangs(Action):
    def name(self) -> str:
        return "action_hangs"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[Any]:
        await asyncio.sleep(30)
        return [SlotSet("x", "never")]


class Rejects(Action):
    def name(self) -> str:
        return "action_rejects"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[Any]:
        raise ActionExecutionRejection(self.name(), "the form will not take this")


class Works(Action):
    def name(self) -> str:
        return "action_works"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[Any]:
        dispatcher.utter_message(response="utter_ok")
        return [SlotSet("x", "done")]


def call(name: str) -> dict[str, Any]:
    tracker = {
        "sender_id": "customer:C1005",
        "slots": {"language": "en", "requested_slot": "nb_consent"},
        "latest_message": {"intent": {"name": "never_borrowed"}, "text": "so do i owe anything or not"},
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {"name": "never_borrowed_form"},
        "latest_action_name": "action_listen",
    }
    return {"next_action": name, "tracker": tracker, "domain": {}, "sender_id": "customer:C1005", "version": "3.6.2"}


@pytest.fixture
def executor() -> RecoveringExecutor:
    e = RecoveringExecutor()
    for action in (Explodes, Hangs, Rejects, Works):
        e.register_action(action)
    e.deadline_seconds = 0.2
    return e


async def test_an_action_that_raises_closes_the_form_and_apologises_once(executor) -> None:
    result = await executor.run(call("action_explodes"))
    assert [m["response"] for m in result["responses"]] == ["utter_service_unavailable"]  # not the half-said line
    assert {"event": "active_loop", "name": None} in [
        {k: e.get(k) for k in ("event", "name")} for e in result["events"]
    ]
    assert {"event": "slot", "name": "requested_slot", "value": None} in [
        {k: e.get(k) for k in ("event", "name", "value")} for e in result["events"]
    ]


async def test_an_action_that_overruns_its_deadline_is_abandoned_the_same_way(executor) -> None:
    result = await executor.run(call("action_hangs"))
    assert [m["response"] for m in result["responses"]] == ["utter_service_unavailable"]
    assert all(e.get("name") != "x" for e in result["events"])


async def test_a_forms_deliberate_rejection_still_reaches_rasa(executor) -> None:
    with pytest.raises(ActionExecutionRejection):
        await executor.run(call("action_rejects"))


async def test_an_action_that_works_is_untouched(executor) -> None:
    result = await executor.run(call("action_works"))
    assert [m["response"] for m in result["responses"]] == ["utter_ok"]
    assert [e["name"] for e in result["events"]] == ["x"]


def test_the_action_server_runs_actions_through_the_recovering_executor() -> None:
    from rasa_sdk import endpoint

    from bot.rasa_ext.action_server import locked_app

    seen: list[type] = []
    original = RecoveringExecutor.register_package

    def spy(self: RecoveringExecutor, package: Any) -> None:
        seen.append(type(self))
        original(self, package)

    RecoveringExecutor.register_package = spy  # type: ignore[method-assign]
    try:
        locked_app("t" * 30)
    finally:
        RecoveringExecutor.register_package = original  # type: ignore[method-assign]
    assert seen == [RecoveringExecutor]
    assert endpoint.ActionExecutor is not RecoveringExecutor  # the module global is put back
