"""The cached replacements in bot.rasa_ext.speedups answer exactly as Rasa's originals."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.shared.utils.common import all_subclasses

from bot.rasa_ext import speedups


@pytest.fixture(autouse=True)
def installed() -> None:
    speedups.install()
    speedups.install()  # idempotent


def test_action_replies_are_still_validated() -> None:
    action = RemoteAction("action_x", None)
    assert action._validate_action_result({"events": [{"event": "slot", "name": "a", "value": 1}], "responses": []})
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": [{"event": "no_such_event"}], "responses": []})
    with pytest.raises(ValidationError):
        action._validate_action_result({"events": "not a list"})


def test_every_event_type_resolves_to_the_class_rasa_would_pick() -> None:
    for cls in all_subclasses(Event):
        expected = next(c for c in all_subclasses(Event) if c.type_name == cls.type_name)
        assert Event.resolve_by_type(cls.type_name) is expected
        assert Event.resolve_by_type(cls.type_name) is expected  # from the cache


def test_unknown_event_types_behave_as_before() -> None:
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no_such_event")
    assert Event.resolve_by_type("no_such_event", SlotSet) is SlotSet
    assert Event.resolve_by_type("topic") is None


def test_events_round_trip() -> None:
    events = [
        UserUttered("hi", {"name": "greet", "confidence": 1.0}),
        ActionExecuted("utter_greet"),
        SlotSet("language", "en"),
    ]
    assert [Event.from_parameters(e.as_dict()) for e in events] == events


async def test_calls_to_the_action_server_reuse_one_connection() -> None:
    from aiohttp import web
    from rasa.utils.endpoints import EndpointConfig

    peers: list[object] = []

    async def webhook(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername"))
        return web.json_response({"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", headers={"Authorization": "Bearer t"})
        for _ in range(3):
            assert await endpoint.request(json={"next_action": "x"}) == {"events": [], "responses": []}
        assert len(peers) == 3 and len(set(peers)) == 1  # one TCP connection, kept alive
    finally:
        await runner.cleanup()
