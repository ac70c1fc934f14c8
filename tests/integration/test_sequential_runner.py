"""The sequential graph runner (bot.rasa_ext.speedups) predicts exactly what Rasa's dask runner does."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
from rasa.engine.loader import load_predict_graph_runner
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_ext.speedups import sequential_runner_class
from tests.integration.conftest import ROOT

TEXTS = ["为什么我一直收到逾期短信", "how much do I owe?", "我从来没借过钱", "asdfgh", "can I get an extension"]


@pytest.fixture(scope="module")
def runners(tmp_path_factory):
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        pytest.fail("no trained model in models/: run `make train` (make test does) first")
    loaded = []
    for cls in (DaskGraphRunner, sequential_runner_class()):
        storage: Path = tmp_path_factory.mktemp(cls.__name__)
        loaded.append(load_predict_graph_runner(storage, models[-1], LocalModelStorage, cls))
    return loaded


def parse(metadata, runner, text: str) -> dict:
    tracker = DialogueStateTracker.from_events("t", [SessionStarted(), ActionExecuted("action_listen")])
    results = runner.run(
        inputs={PLACEHOLDER_MESSAGE: [UserMessage(text)], PLACEHOLDER_TRACKER: tracker},
        targets=[metadata.nlu_target],
    )
    return results[metadata.nlu_target][0].as_dict()


def test_same_nlu_results(runners) -> None:
    (meta_dask, dask), (meta_seq, seq) = runners
    for text in TEXTS:
        a, b = parse(meta_dask, dask, text), parse(meta_seq, seq, text)
        assert a["intent"] == b["intent"], text
        assert a.get("entities") == b.get("entities"), text
        assert a["intent_ranking"] == b["intent_ranking"], text


def test_same_next_action(runners) -> None:
    (meta_dask, dask), (meta_seq, seq) = runners
    tracker = DialogueStateTracker.from_events(
        "t",
        [
            SessionStarted(),
            ActionExecuted("action_listen"),
            UserUttered("how much do I owe?", {"name": "ask_amount_due", "confidence": 1.0}),
        ],
    )
    a = dask.run(inputs={PLACEHOLDER_TRACKER: tracker}, targets=[meta_dask.core_target])[meta_dask.core_target]
    b = seq.run(inputs={PLACEHOLDER_TRACKER: tracker}, targets=[meta_seq.core_target])[meta_seq.core_target]
    assert a.max_confidence_index == b.max_confidence_index and a.probabilities == b.probabilities
    assert a.policy_name == b.policy_name
