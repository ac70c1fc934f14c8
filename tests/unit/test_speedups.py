"""The cached replacements in bot.rasa_ext.speedups answer exactly as Rasa's originals."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
import rasa
from aiohttp import web
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.shared.utils.common import all_subclasses
from rasa.utils.endpoints import EndpointConfig

from bot.rasa_ext import speedups
from bot.settings import get_settings


@pytest.fixture(autouse=True)
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    # These tests are about the replacements, so they want them whatever the environment says.
    monkeypatch.setenv("BOT_RASA_SPEEDUPS", "on")
    get_settings.cache_clear()
    speedups.install()
    speedups.install()  # idempotent


def test_the_installed_rasa_is_the_one_the_replacements_were_written_for() -> None:
    # Fails on a Rasa upgrade or a patched Rasa, naming each function whose source changed:
    # re-check the replacement against the new source before recording its new sha256.
    assert rasa.__version__ == speedups.RASA_VERSION
    assert speedups.changed_rasa_functions() == []


def test_fingerprints_are_taken_from_rasas_originals_even_after_install() -> None:
    original = speedups.rasa_originals()["rasa.utils.endpoints:EndpointConfig.session"]
    assert EndpointConfig.session is not original  # replaced by install() ...
    assert speedups.fingerprint(original) == speedups.FINGERPRINTS["rasa.utils.endpoints:EndpointConfig.session"]


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


@asynccontextmanager
async def action_server() -> AsyncIterator[tuple[str, list[object]]]:
    """A stand-in action server on 127.0.0.1: its webhook URL and the peer of every request."""
    peers: list[object] = []

    async def webhook(request: web.Request) -> web.Response:
        assert request.transport is not None
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
        yield f"http://127.0.0.1:{port}/webhook", peers
    finally:
        await runner.cleanup()


async def borrow(endpoint: EndpointConfig) -> aiohttp.ClientSession:
    async with endpoint.session() as session:
        return session


async def test_calls_to_the_action_server_reuse_one_session_and_connection() -> None:
    async with action_server() as (url, peers):
        endpoint = EndpointConfig(url, headers={"Authorization": "Bearer t"})
        try:
            for _ in range(3):
                assert await endpoint.request(json={"next_action": "x"}) == {"events": [], "responses": []}
            assert len(peers) == 3 and len(set(peers)) == 1  # one TCP connection, kept alive
            session = await borrow(endpoint)
            assert await borrow(endpoint) is session and not session.closed  # `async with` did not close it
        finally:
            await speedups.close_sessions()


async def test_endpoints_with_other_credentials_never_share_a_session() -> None:
    url = "http://127.0.0.1:9/webhook"  # nothing is sent
    bearer = EndpointConfig(url, headers={"Authorization": "Bearer a"})
    try:
        assert await borrow(bearer.copy()) is await borrow(bearer)  # same headers and auth: one session
        others = [
            EndpointConfig(url, headers={"Authorization": "Bearer b"}),
            EndpointConfig(url, basic_auth={"username": "u", "password": "p"}),
            EndpointConfig(url),
        ]
        sessions = {id(await borrow(bearer))} | {id(await borrow(e)) for e in others}
        assert len(sessions) == 4
    finally:
        await speedups.close_sessions()


def test_each_event_loop_has_its_own_sessions_and_close_sessions_closes_only_its_own() -> None:
    endpoint = EndpointConfig("http://127.0.0.1:9/webhook")
    loop_a, loop_b = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        in_a = loop_a.run_until_complete(borrow(endpoint))
        in_b = loop_b.run_until_complete(borrow(endpoint))
        assert in_a is not in_b
        assert loop_a.run_until_complete(borrow(endpoint)) is in_a
        loop_b.run_until_complete(speedups.close_sessions())
        assert in_b.closed and not in_a.closed
        loop_a.run_until_complete(speedups.close_sessions())
        assert in_a.closed
    finally:
        loop_a.close()
        loop_b.close()


async def test_close_sessions_closes_the_running_loops_sessions_and_later_calls_open_new_ones() -> None:
    await speedups.close_sessions()  # nothing to close yet: a no-op
    async with action_server() as (url, peers):
        endpoint = EndpointConfig(url)
        try:
            await endpoint.request(json={"next_action": "x"})
            first = await borrow(endpoint)
            await speedups.close_sessions()
            assert first.closed
            assert await endpoint.request(json={"next_action": "x"}) == {"events": [], "responses": []}
            assert await borrow(endpoint) is not first
            assert peers[0] != peers[1]  # the first connection went with its session
        finally:
            await speedups.close_sessions()


def test_a_discarded_event_loop_is_not_kept_alive_by_its_sessions() -> None:
    loop = asyncio.new_event_loop()
    session = loop.run_until_complete(borrow(EndpointConfig("http://127.0.0.1:9/webhook")))
    loop.run_until_complete(session.close())  # closed without close_sessions(): still recorded for the loop
    loop.close()
    gone = weakref.ref(loop)
    del loop, session
    gc.collect()
    assert gone() is None


def test_the_conversation_caches_go_in_with_the_other_replacements() -> None:
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.rasa_ext.tracker_store import RedisEventTrackerStore

    replaced = [
        DialogueStateTracker.applied_events,
        DialogueStateTracker.copy,
        RulePolicy.predict_action_probabilities,
        InMemoryTrackerStore.save,
        InMemoryTrackerStore._retrieve,
        RedisEventTrackerStore.retrieve,
        RedisEventTrackerStore.save,
        RemoteAction.run,
    ]
    assert all(function.__module__ == "bot.rasa_ext.state_cache" for function in replaced)


def test_with_the_switch_off_nothing_is_replaced() -> None:
    check = (
        "from bot.rasa_ext import speedups; speedups.install();"
        "from rasa.shared.core.trackers import DialogueStateTracker;"
        "from rasa.core.actions.action import RemoteAction;"
        "assert DialogueStateTracker.copy.__module__ == 'rasa.shared.core.trackers';"
        "assert RemoteAction.run.__module__ == 'rasa.core.actions.action'"
    )
    env = {**os.environ, "BOT_RASA_SPEEDUPS": "off"}
    done = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_after_a_model_loads_what_exists_is_frozen_and_the_next_load_unfreezes_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rasa.core.processor import MessageProcessor

    seen = []

    def original(model_path: str) -> str:
        seen.append(gc.get_freeze_count())
        return f"loaded {model_path}"

    monkeypatch.setattr(MessageProcessor, "_load_model", MessageProcessor.__dict__["_load_model"])  # put back after
    speedups._freeze_after_model_load(original)
    try:
        assert MessageProcessor._load_model("a") == "loaded a"  # type: ignore[comparison-overlap]
        assert seen == [0] and gc.get_freeze_count() > 0
        assert MessageProcessor._load_model("b") == "loaded b"  # type: ignore[comparison-overlap]
        assert seen == [0, 0] and gc.get_freeze_count() > 0  # the first model's freeze was undone first
    finally:
        gc.unfreeze()
