"""Milliseconds per message inside one Rasa process (no HTTP in front), stock or with speedups.

    python bench/profile_turns.py [--stock] [--rounds 10] [--profile out.prof]
    python bench/profile_turns.py --returning 200 [--stock] [--profile out.prof]

Starts the action server on a free port over a temporary SQLite database (demo + 5,000
synthetic customers), loads the latest model from models/ in this process and plays the
benchmark's conversation scripts through Agent.handle_message. --stock sets
BOT_RASA_SPEEDUPS=off (Rasa as shipped); --profile writes cProfile statistics.

--returning N is the benchmark's returning customers (bench/run.py): N sessions of 100-500
messages written into the tracker store as `make bench` writes them (Rasa's HTTP API saves a
tracker built from the events), then each continued with five messages; it prints the first
message's milliseconds (the session met cold) and the next four's, and profiles the first ones.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import (  # noqa: E402
    RETURNING_MESSAGES,
    SCRIPTS_CUSTOMER,
    SCRIPTS_VISITOR,
    TODAY,
    free_port,
    long_session,
)


async def play(agent, rounds: int) -> int:  # type: ignore[no-untyped-def]
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    messages = 0
    for r in range(rounds):
        for k, script in enumerate(SCRIPTS_CUSTOMER + SCRIPTS_VISITOR):
            customer = k < len(SCRIPTS_CUSTOMER)
            sender = f"customer:S{(r * 7 + k) % 5000:07d}" if customer else f"visitor:profile{r}x{k}"
            for text in script:
                await agent.handle_message(
                    UserMessage(
                        text,
                        CollectingOutputChannel(),
                        sender,
                        input_channel="inapp",
                        metadata={"authenticated": customer},
                    )
                )
                messages += 1
    return messages


async def say(agent, sender: str, text: str) -> float:  # type: ignore[no-untyped-def]
    """Milliseconds for one verified customer's message."""
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    started = time.perf_counter()
    await agent.handle_message(
        UserMessage(text, CollectingOutputChannel(), sender, input_channel="inapp", metadata={"authenticated": True})
    )
    return 1000 * (time.perf_counter() - started)


async def returning(agent, sessions: int, profiler: cProfile.Profile | None) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Seed ``sessions`` long sessions as `make bench` does, then continue each with five messages."""
    import random
    import statistics

    from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

    recorded_customer = "S0004999"
    said = 0
    while said < 60:  # bench.run.record_session, in process
        for text in SCRIPTS_CUSTOMER[said % len(SCRIPTS_CUSTOMER)]:
            await say(agent, f"customer:{recorded_customer}", text)
            said += 1
    recorded = await agent.tracker_store.retrieve_full_tracker(f"customer:{recorded_customer}")
    events = recorded.current_state(EventVerbosity.ALL)["events"]
    rng = random.Random(7)
    customers = [f"S{4000 + k:07d}" for k in range(sessions)]
    started = time.perf_counter()
    for customer in customers:  # PUT /conversations/<id>/tracker/events
        session = long_session(events, recorded_customer, customer, rng.randint(*RETURNING_MESSAGES), time.time())
        tracker = DialogueStateTracker.from_dict(f"customer:{customer}", session, agent.domain.slots)
        await agent.tracker_store.save(tracker)
    seeded = time.perf_counter() - started
    first, later = [], []
    for k, customer in enumerate(customers):
        script = SCRIPTS_CUSTOMER[k % len(SCRIPTS_CUSTOMER)]
        if profiler:
            profiler.enable()
        first.append(await say(agent, f"customer:{customer}", script[0]))
        if profiler:
            profiler.disable()
        for text in (script * 5)[1:5]:
            later.append(await say(agent, f"customer:{customer}", text))
    return {
        "seeding_s": round(seeded, 1),
        "first_ms_median": round(statistics.median(first), 1),
        "first_ms_p90": round(statistics.quantiles(first, n=10)[-1], 1),
        "later_ms_median": round(statistics.median(later), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stock", action="store_true", help="Rasa as shipped (BOT_RASA_SPEEDUPS=off)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--returning", type=int, default=0, help="continue this many long sessions instead")
    args = parser.parse_args()
    if args.stock:
        os.environ["BOT_RASA_SPEEDUPS"] = "off"
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

    from bot import db
    from bot.migrate import upgrade
    from bot.seed import load_demo, load_synthetic

    work = Path(tempfile.mkdtemp(prefix="profile-"))
    url = f"sqlite:///{work / 'bot.db'}"
    upgrade(url)
    with db.session_factory(url)() as session:
        load_demo(session, dt.date.fromisoformat(TODAY))
        session.commit()
        load_synthetic(session, 5000, dt.date.fromisoformat(TODAY))
    db.dispose_all()
    port, token = free_port(), "profile-action-token-0123456789"
    env = {**os.environ, "DATABASE_URL": url, "BOT_TODAY": TODAY, "ACTION_SERVER_TOKEN": token}
    actions = subprocess.Popen(
        [sys.executable, "-m", "bot.rasa_ext.action_server", "--port", str(port), "--domain", "domain"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        from rasa.core.agent import Agent
        from rasa.utils.common import configure_logging_and_warnings
        from rasa.utils.endpoints import EndpointConfig
        from rasa.utils.log_utils import configure_structlog

        configure_logging_and_warnings(logging.WARNING)
        configure_structlog(logging.WARNING)
        if not args.stock:
            from bot.rasa_ext import speedups

            speedups.install()  # as the in-app channel does at start-up
        model = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)[-1]
        endpoint = EndpointConfig(
            f"http://127.0.0.1:{port}/webhook",
            headers={"Authorization": f"Bearer {token}"},
            enable_selective_domain=True,
        )
        agent = Agent.load(str(model), action_endpoint=endpoint)
        time.sleep(3)  # the action server's start-up
        asyncio.run(play(agent, 1))  # warm up
        profiler = cProfile.Profile() if args.profile else None
        if args.returning:
            found = asyncio.run(returning(agent, args.returning, profiler))
            if profiler:
                profiler.dump_stats(args.profile)
            print(f"{'stock' if args.stock else 'speedups'}: {args.returning} returning sessions: {found}")
            return 0
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        n = asyncio.run(play(agent, args.rounds))
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
        elapsed = time.perf_counter() - started
        print(f"{'stock' if args.stock else 'speedups'}: {n} messages, {1000 * elapsed / n:.1f} ms per message")
    finally:
        actions.terminate()
        actions.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
