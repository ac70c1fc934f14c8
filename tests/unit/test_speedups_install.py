"""What bot.rasa_ext.speedups.install() changes in Rasa: all of it on Rasa 3.6.21, nothing otherwise.

install() changes Rasa classes for the whole process and happens once, so each case runs in a
fresh interpreter, leaving this test process as it was; the cases run in parallel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.rasa_ext import speedups

ROOT = Path(__file__).resolve().parents[2]

# Imports what install() touches, records every module attribute and class attribute of Rasa,
# runs the case's setup, calls install() twice and prints which of those attributes changed and
# what install() logged.
PRELUDE = """
import json, logging, sys
import rasa.core.actions.action, rasa.core.processor, rasa.engine.runner.dask
import rasa.core.policies.rule_policy, rasa.core.tracker_store, rasa.shared.core.trackers
import rasa.shared.core.events, rasa.utils.endpoints
from bot.rasa_ext import speedups

logged = []
class Collect(logging.Handler):
    def emit(self, record):
        logged.append((record.levelname, record.getMessage()))
log = logging.getLogger(speedups.__name__)
log.setLevel(logging.INFO)
log.addHandler(Collect())
"""
CHECK = """
def rasa_attributes():
    seen = {}
    for module_name, module in list(sys.modules.items()):
        if module is None or not (module_name == "rasa" or module_name.startswith("rasa.")):
            continue
        for name, value in list(vars(module).items()):
            seen[f"{module_name}.{name}"] = value
            if isinstance(value, type) and value.__module__ == module_name:
                for attribute, member in list(vars(value).items()):
                    seen[f"{module_name}.{name}.{attribute}"] = member
    return seen

before = rasa_attributes()
speedups.install()
speedups.install()
after = rasa_attributes()
changed = sorted(name for name, value in before.items() if after.get(name) is not value)
print("RESULT " + json.dumps({"changed": changed, "logged": logged}))
"""

CASES = {
    "on": ("on", ""),
    "off": ("off", ""),
    "another version": ("on", "rasa.__version__ = '3.7.0'\n"),
    "patched rasa": (
        "on",
        "async def request(self, *args, **kwargs):\n"
        "    return None\n"
        "rasa.utils.endpoints.EndpointConfig.request = request\n",
    ),
}

# Each attribute install() replaces, with the fingerprinted Rasa function that guards it.
REPLACED = {
    "rasa.core.actions.action.RemoteAction._validate_action_result": (
        "rasa.core.actions.action:RemoteAction._validate_action_result"
    ),
    "rasa.core.processor.DaskGraphRunner": "rasa.core.processor:MessageProcessor._load_model",
    "rasa.core.processor.MessageProcessor._load_model": "rasa.core.processor:MessageProcessor._load_model",
    "rasa.shared.core.events.Event.resolve_by_type": "rasa.shared.core.events:Event.resolve_by_type",
    "rasa.utils.endpoints.EndpointConfig.session": "rasa.utils.endpoints:EndpointConfig.session",
    # bot.rasa_ext.state_cache (this project's Redis store's methods are checked in test_speedups)
    "rasa.core.actions.action.RemoteAction.run": "rasa.core.actions.action:RemoteAction.run",
    "rasa.core.policies.rule_policy.RulePolicy.predict_action_probabilities": (
        "rasa.core.policies.rule_policy:RulePolicy.predict_action_probabilities"
    ),
    "rasa.core.tracker_store.InMemoryTrackerStore._retrieve": "rasa.core.tracker_store:InMemoryTrackerStore._retrieve",
    "rasa.core.tracker_store.InMemoryTrackerStore.save": "rasa.core.tracker_store:InMemoryTrackerStore.save",
    "rasa.shared.core.trackers.DialogueStateTracker.applied_events": (
        "rasa.shared.core.trackers:DialogueStateTracker.applied_events"
    ),
    "rasa.shared.core.trackers.DialogueStateTracker.copy": "rasa.shared.core.trackers:DialogueStateTracker.copy",
}


@pytest.fixture(scope="module")
def outcomes() -> dict[str, dict[str, list]]:
    running = {}
    for case, (switch, setup) in CASES.items():
        env = {**os.environ, "BOT_RASA_SPEEDUPS": switch, "TF_CPP_MIN_LOG_LEVEL": "3"}
        running[case] = subprocess.Popen(
            [sys.executable, "-c", PRELUDE + setup + CHECK],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    results = {}
    for case, process in running.items():
        out, err = process.communicate(timeout=300)
        lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
        assert process.returncode == 0 and lines, f"{case}: {err[-3000:]}"
        results[case] = json.loads(lines[-1].removeprefix("RESULT "))
    return results


def test_on_rasa_3_6_21_install_replaces_exactly_the_fingerprinted_functions(outcomes: dict) -> None:
    assert outcomes["on"] == {"changed": sorted(REPLACED), "logged": []}
    assert set(REPLACED.values()) <= set(speedups.FINGERPRINTS)


def test_with_bot_rasa_speedups_off_install_leaves_rasa_as_shipped_and_says_nothing(outcomes: dict) -> None:
    assert outcomes["off"] == {"changed": [], "logged": []}


def test_on_another_rasa_version_install_replaces_nothing_and_warns_once_naming_both_versions(outcomes: dict) -> None:
    outcome = outcomes["another version"]
    assert outcome["changed"] == []
    [(level, message)] = outcome["logged"]
    assert level == "WARNING" and "Rasa 3.6.21" in message and "Rasa 3.7.0" in message


def test_on_a_patched_rasa_install_replaces_nothing_and_warns_once_naming_the_function(outcomes: dict) -> None:
    outcome = outcomes["patched rasa"]
    assert outcome["changed"] == []
    [(level, message)] = outcome["logged"]
    assert level == "WARNING" and "rasa.utils.endpoints:EndpointConfig.request" in message
