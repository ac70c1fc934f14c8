"""Predictions unchanged: conversations replayed through Rasa as shipped and with bot.rasa_ext.speedups.

The conversations: the conversation suite (tests/conversations/*.yml, 157), the test stories
(tests/stories/*.yml, their user lines, 235) and a long generated session (training examples of
the assistant's topics in a seeded random order: 300 messages with Rasa's in-memory store, 120
with Redis), so forms are started, interrupted and left, and the session outgrows every rule many
times over. Each is replayed by
tests/integration/speedups_replay.py in a process of its own per mode and tracker store (Rasa's
in-memory store, the embedded default, and this project's Redis store), and every bot message,
every stored tracker state after every message and every stored event (with each action's
policy and confidence) must be the same as Rasa's. The speedups run also checks, after every
message, the cached derivations against Rasa's own functions (``--self-check``).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REDIS_TEST_URL, TODAY, require_redis

pytestmark = pytest.mark.servers

ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS = ("C1001", "C1002", "C1003", "C1004", "C1005", "C1006")
# Topics the generated sessions talk about: every intent but the hand-offs to a person, which
# pause the bot (they are in the suite's conversations, each resumed as the console does).
NOT_GENERATED = {"request_human", "complain"}
# A long session per tracker store (Rasa as shipped replays the whole session on every message,
# so each costs minutes there): (who, messages, seed).
LONG_SESSIONS = {"memory": ("C1001", 300, 11), "redis": ("visitor", 120, 12)}


def _conversation_suite() -> list[dict[str, Any]]:
    found = []
    for name in ("dev", "heldout"):
        data = yaml.safe_load((ROOT / "tests" / "conversations" / f"{name}.yml").read_text(encoding="utf-8"))
        for k, conversation in enumerate(data["conversations"]):
            found.append(
                _conversation(
                    f"{name}/{conversation['id']}", conversation["as"], k, [t["say"] for t in conversation["turns"]]
                )
            )
    return found


ANNOTATION = re.compile(r"\[([^\]]*)\](\([^)]*\)|\{[^}]*\})")


def _test_stories() -> list[dict[str, Any]]:
    found = []
    for path in sorted((ROOT / "tests" / "stories").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for k, story in enumerate(data.get("stories") or []):
            texts = [ANNOTATION.sub(r"\1", str(s["user"])).strip() for s in story["steps"] if "user" in s]
            if texts:
                who = CUSTOMERS[k % 3] if k % 4 else "visitor"
                found.append(_conversation(f"stories/{path.stem}/{k}", who, k, texts))
    return found


def _generated(store: str) -> list[dict[str, Any]]:
    examples: dict[str, list[str]] = {}
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            intent = block.get("intent")
            if intent and intent not in NOT_GENERATED:
                lines = [ANNOTATION.sub(r"\1", line[2:]).strip() for line in block["examples"].splitlines()]
                examples.setdefault(intent, []).extend(line for line in lines if line)
    intents = sorted(examples)
    who, length, seed = LONG_SESSIONS[store]
    rng = random.Random(seed)
    texts = [rng.choice(examples[rng.choice(intents)]) for _ in range(length)]
    return [_conversation(f"generated/{who}-{length}", who, seed, texts)]


def _conversation(name: str, who: str, k: int, texts: list[str]) -> dict[str, Any]:
    customer = who != "visitor"
    sender = f"customer:{who}" if customer else "visitor:replay_" + hashlib.sha256(name.encode()).hexdigest()[:16]
    return {"id": name, "sender": sender, "customer": customer, "turns": texts}


def conversations(store: str) -> list[dict[str, Any]]:
    return _conversation_suite() + _test_stories() + _generated(store)


def _replay(conversations_file: Path, model: Path, out: Path, mode: str, store: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "BOT_TODAY": TODAY.isoformat(),
        "BOT_NOW": f"{TODAY.isoformat()}T10:30",
        "REPLAY_REDIS_URL": REDIS_TEST_URL,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    env.pop("HANDOFF_WEBHOOK_URL", None)
    command = [
        sys.executable, "-m", "tests.integration.speedups_replay", "--mode", mode, "--store", store,
        "--conversations", str(conversations_file), "--out", str(out), "--model", str(model),
        *(["--self-check"] if mode == "speedups" else []),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{mode}/{store} replay failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return json.loads(out.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, Any]]:
    from tests.integration.conftest import latest_model

    model = latest_model()  # one model for every run, even if another is trained meanwhile
    require_redis()
    work = tmp_path_factory.mktemp("equivalence")
    files = {}
    for store in ("memory", "redis"):
        files[store] = work / f"conversations-{store}.json"
        files[store].write_text(json.dumps(conversations(store), ensure_ascii=False), encoding="utf-8")
    # two at a time (this machine has two cores), the longest first
    runs = [("stock", "memory"), ("speedups", "redis"), ("stock", "redis"), ("speedups", "memory")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            (mode, store): pool.submit(_replay, files[store], model, work / f"{mode}-{store}.json", mode, store)
            for mode, store in runs
        }
        return {run: future.result() for run, future in futures.items()}


def test_at_least_200_multi_turn_conversations_are_replayed_including_a_long_session() -> None:
    for store in ("memory", "redis"):
        replayed = conversations(store)
        assert len([c for c in replayed if len(c["turns"]) > 1]) >= 200
    assert max(len(c["turns"]) for c in conversations("memory")) >= 300


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_every_reply_state_and_stored_event_is_the_same_as_rasas(
    records: dict[tuple[str, str], dict[str, Any]], store: str
) -> None:
    stock, fast = records[("stock", store)], records[("speedups", store)]
    assert len(fast["messages"]) == len(stock["messages"]) == sum(len(c["turns"]) for c in conversations(store))
    for expected, got in zip(stock["messages"], fast["messages"], strict=True):
        where = f"{expected['conversation']} turn {expected['turn']}"
        assert got["responses"] == expected["responses"], where
        assert got.get("state") == expected.get("state"), where
        assert got.get("resumed") == expected.get("resumed"), where
    assert fast["stored"].keys() == stock["stored"].keys()
    for name, events in stock["stored"].items():
        assert fast["stored"][name] == events, name  # every event, each action with its policy and confidence


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_the_cached_derivations_answer_as_rasas_own_functions_after_every_message(
    records: dict[tuple[str, str], dict[str, Any]], store: str
) -> None:
    check = records[("speedups", store)]["self_check"]
    assert check["problems"] == []
    # the stored trackers carried their line (were served from the cache) after every message
    assert check["checked"] >= 800 and check["with_line"] == check["checked"]
