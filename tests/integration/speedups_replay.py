"""Replay conversations through Rasa in this process and record what it answered and stored.

    python -m tests.integration.speedups_replay --mode stock|speedups --store memory|redis \
        --conversations conversations.json --out record.json --model models/x.tar.gz [--self-check]

Used by tests/integration/test_speedups_equivalence.py, once per mode and tracker store, each in a
process of its own (the speedups cannot be taken out of a process once installed): a fresh SQLite
records database with the demo data, the real action server, the latest model in models/ loaded
once (the same file for every run), messages handled by ``Agent.handle_message`` one after another. Before each conversation
the stored conversation of its sender is removed (records carry over, identically in every run).
A conversation the bot paused (a handoff) is resumed as the agent console does
(``bot.rasa_ext.waiting.resume``). Recorded per message: the bot's messages and the state of the
stored tracker (slots, latest message and action, loop, follow-up, paused); per conversation:
every stored event. Timestamps and message ids are left out (they differ from run to run).

``--self-check`` (speedups only) also compares, after every message (every 10th of a long session), what bot.rasa_ext.state_cache
answers for the stored tracker with what Rasa's own functions answer: the applied events, a copy,
the tracker a store rebuild would give, and the last states RulePolicy matches.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ACTION_TOKEN = "replay-action-token-0123456789abcdef"
REDIS_URL = os.environ.get("REPLAY_REDIS_URL", "redis://127.0.0.1:6379/4")
DROPPED = {"timestamp", "message_id", "latest_event_time"}
# Random ids the actions make (uuid4().hex, e.g. the extension request key).
RANDOM_ID = re.compile(r"^[0-9a-f]{32}$")
CAPTURED = (
    "slots",
    "paused",
    "followup_action",
    "latest_action",
    "latest_message",
    "latest_bot_utterance",
    "active_loop",
)


def normalised(value: Any) -> Any:
    """JSON-able value without what differs between runs (timestamps, message ids)."""
    return json.loads(json.dumps(_without(value), default=str))


def _without(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without(v) for k, v in value.items() if k not in DROPPED}
    if isinstance(value, (list, tuple)):
        return [_without(v) for v in value]
    if isinstance(value, str) and RANDOM_ID.match(value):
        return "<random id>"
    return value


def comparable(state: tuple[Any, ...]) -> dict[str, Any]:
    """A captured tracker state (bot.rasa_ext.state_cache.capture) as JSON: events served from the
    cache are the objects Rasa made (tuples, numpy numbers) where a store's rebuild decodes JSON
    (lists, floats); both serialise the same."""
    slots, paused, followup, latest_action, latest_message, latest_bot_utterance, loop = state
    return json.loads(
        json.dumps(
            {
                "slots": slots,
                "paused": paused,
                "followup_action": followup,
                "latest_action": latest_action,
                # without timestamps: a tracker's reset makes an empty message and bot utterance stamped "now"
                "latest_message": _without(latest_message.as_dict()) if latest_message is not None else None,
                "latest_bot_utterance": (
                    _without(latest_bot_utterance.as_dict()) if latest_bot_utterance is not None else None
                ),
                "active_loop": dataclasses.asdict(loop) if loop is not None else None,
            },
            default=str,
        )
    )


def differences(expected: tuple[Any, ...], got: tuple[Any, ...]) -> str:
    """Which parts of two captured tracker states differ (for the failure message)."""
    a, b = comparable(expected), comparable(got)
    return "; ".join(f"{name}: {a[name]!r:.300} != {b[name]!r:.300}" for name in a if a[name] != b[name])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def underlying(store: Any) -> Any:
    """The tracker store inside Rasa's wrappers (FailSafeTrackerStore, AwaitableTrackerStore)."""
    while hasattr(store, "_tracker_store"):
        store = store._tracker_store
    return store


async def forget(store: Any, sender_id: str) -> None:
    """Remove a stored conversation, as if the customer had never written."""
    from bot.rasa_ext.tracker_store import RedisEventTrackerStore

    if isinstance(store, RedisEventTrackerStore):
        await store._client().delete(*store._keys(sender_id))
    else:
        store.store.pop(sender_id, None)


def tracker_state(tracker: Any) -> dict[str, Any]:
    from rasa.shared.core.trackers import EventVerbosity

    return normalised(tracker.current_state(EventVerbosity.NONE))


class SelfCheck:
    """Compares state_cache's answers for a tracker with Rasa's own functions."""

    def __init__(self, agent: Any) -> None:
        from bot.rasa_ext import speedups

        self.agent = agent
        self.originals = speedups.rasa_originals()
        self.problems: list[str] = []
        self.checked = 0
        self.with_line = 0

    async def check(self, where: str, tracker: Any, store: Any) -> None:
        from rasa.core.tracker_store import InMemoryTrackerStore

        from bot.rasa_ext import state_cache

        domain = self.agent.domain
        self.checked += 1
        # the tracker the store's own code would have returned
        if isinstance(store, InMemoryTrackerStore):
            saved = store.store[tracker.sender_id]
            plain = InMemoryTrackerStore(domain)
            plain.store[tracker.sender_id] = (
                saved if isinstance(saved, str) else state_cache._serialised(tracker.sender_id, saved.events)
            )
            rebuilt = await self.originals["rasa.core.tracker_store:InMemoryTrackerStore._retrieve"](
                plain, tracker.sender_id, False
            )
        else:
            rebuilt = await self.originals["bot.rasa_ext.tracker_store:RedisEventTrackerStore.retrieve"](
                store, tracker.sender_id
            )
        if comparable(state_cache.capture(rebuilt)) != comparable(state_cache.capture(tracker)):
            self.problems.append(
                f"{where}: the retrieved tracker's state differs from the store's own: "
                + differences(state_cache.capture(rebuilt), state_cache.capture(tracker))
            )
        if normalised([e.as_dict() for e in rebuilt.events]) != normalised([e.as_dict() for e in tracker.events]):
            self.problems.append(f"{where}: the retrieved tracker's events differ from the store's own")
        line = state_cache.line_for(tracker)
        if line is None:
            return
        self.with_line += 1
        original_applied = self.originals["rasa.shared.core.trackers:DialogueStateTracker.applied_events"]
        original_copy = self.originals["rasa.shared.core.trackers:DialogueStateTracker.copy"]
        expected = original_applied(tracker)
        if len(expected) != len(line.applied) or any(a is not b for a, b in zip(expected, line.applied, strict=True)):
            self.problems.append(f"{where}: applied events differ")
        fast, slow = tracker.copy(), original_copy(tracker)
        if comparable(state_cache.capture(fast)) != comparable(state_cache.capture(slow)) or any(
            a is not b for a, b in zip(fast.events, slow.events, strict=True)
        ):
            self.problems.append(
                f"{where}: copy() differs: " + differences(state_cache.capture(slow), state_cache.capture(fast))
            )
        states = domain.states_for_tracker_history(tracker)
        for count in (1, 2, 3, 5):
            last = line.last_states(domain, count)
            if last is not None and last != states[-count:]:
                self.problems.append(f"{where}: the last {count} states differ")


async def replay(args: argparse.Namespace) -> dict[str, Any]:
    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.endpoints import EndpointConfig
    from rasa.utils.log_utils import configure_structlog

    from bot.rasa_ext import waiting

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    if args.mode == "speedups":
        from bot.rasa_ext import speedups

        speedups.install()
    conversations = json.loads(Path(args.conversations).read_text(encoding="utf-8"))
    prefix = f"replay{uuid.uuid4().hex[:8]}"
    tracker_store = (
        EndpointConfig(url=REDIS_URL, type="bot.rasa_ext.tracker_store.RedisEventTrackerStore", key_prefix=prefix)
        if args.store == "redis"
        else None
    )
    action = EndpointConfig(
        f"http://127.0.0.1:{os.environ['ACTION_PORT']}/webhook",
        headers={"Authorization": f"Bearer {ACTION_TOKEN}"},
        enable_selective_domain=True,
    )
    agent = await load_agent(
        model_path=args.model, endpoints=AvailableEndpoints(action=action, tracker_store=tracker_store)
    )
    store = underlying(agent.tracker_store)
    # The tracker each save was given (the processor's own), to see a pause without reading the
    # conversation back: Rasa as shipped reads a long session slowly.
    saved: dict[str, Any] = {}
    save = store.save

    async def remembering_save(tracker: Any) -> None:
        saved[tracker.sender_id] = tracker
        await save(tracker)

    store.save = remembering_save
    check = SelfCheck(agent) if args.self_check else None
    random.seed(7)
    messages: list[dict[str, Any]] = []
    stored: dict[str, Any] = {}
    try:
        for conversation in conversations:
            sender = conversation["sender"]
            await forget(store, sender)
            for turn, text in enumerate(conversation["turns"]):
                collector = CollectingOutputChannel()
                message = UserMessage(
                    text, collector, sender, input_channel="inapp", metadata={"authenticated": conversation["customer"]}
                )
                await agent.handle_message(message)
                record = {"conversation": conversation["id"], "turn": turn, "responses": normalised(collector.messages)}
                # the stored state and the self-check after every message of the suite's and the stories'
                # conversations, after every 10th of a long one
                if len(conversation["turns"]) <= 60 or turn % 10 == 0:
                    tracker = await agent.tracker_store.retrieve(sender)
                    record["state"] = tracker_state(tracker)
                    if check is not None:
                        await check.check(f"{conversation['id']} turn {turn}", tracker, store)
                if saved[sender].is_paused():
                    record["resumed"] = True
                    await waiting.resume(agent, sender)
                messages.append(record)
            final = await agent.tracker_store.retrieve_full_tracker(sender)
            stored[conversation["id"]] = normalised([e.as_dict() for e in final.events])
    finally:
        if args.mode == "speedups":
            from bot.rasa_ext import speedups

            await speedups.close_sessions()
        if args.store == "redis":
            client = store._client()
            keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
            if keys:
                await client.delete(*keys)
    result: dict[str, Any] = {"messages": messages, "stored": stored}
    if check is not None:
        result["self_check"] = {"problems": check.problems, "checked": check.checked, "with_line": check.with_line}
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["stock", "speedups"], required=True)
    parser.add_argument("--store", choices=["memory", "redis"], required=True)
    parser.add_argument("--conversations", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", required=True, help="the trained model (.tar.gz)")
    parser.add_argument("--self-check", action="store_true")
    args = parser.parse_args()
    os.environ["BOT_RASA_SPEEDUPS"] = "on" if args.mode == "speedups" else "off"
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

    from bot import db
    from tests.conftest import seed

    work = Path(tempfile.mkdtemp(prefix=f"replay-{args.mode}-{args.store}-"))
    database_url = seed(f"sqlite:///{work / 'bot.db'}")
    db.dispose_all()
    port = free_port()
    os.environ.update(DATABASE_URL=database_url, ACTION_PORT=str(port), ACTION_SERVER_TOKEN=ACTION_TOKEN)
    actions = subprocess.Popen(
        [sys.executable, "-m", "bot.rasa_ext.action_server", "--port", str(port), "--domain", "domain"],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=(work / "actions.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        import requests

        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or actions.poll() is not None:
                raise SystemExit(f"the action server did not start: {(work / 'actions.log').read_text()[-2000:]}")
            time.sleep(0.3)
        started = time.perf_counter()
        result = asyncio.run(replay(args))
        result["seconds"] = round(time.perf_counter() - started, 1)
    finally:
        actions.terminate()
        actions.wait(timeout=20)
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
