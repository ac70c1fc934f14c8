"""WeightedLogisticRegression (bot/rasa_ext/nlu.py): log(1 + count) n-grams, a weight on the
sentence embedding and its own C, and a trained model that survives a reload."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.rasa_ext.nlu import WeightedLogisticRegression


def message(counts: list[float], vector: list[float], intent: str | None = None) -> Message:
    m = Message(data={TEXT: "x", **({INTENT: intent} if intent else {})})
    m.add_features(Features(scipy.sparse.coo_matrix([counts]), FEATURE_TYPE_SENTENCE, TEXT, "counts"))
    m.add_features(Features(np.array([vector], dtype=np.float32), FEATURE_TYPE_SENTENCE, TEXT, "use"))
    return m


def classifier(tmp_path: Any, **config: Any) -> tuple[WeightedLogisticRegression, LocalModelStorage, Resource]:
    storage, resource = LocalModelStorage(tmp_path), Resource("weighted_lr")
    context = ExecutionContext(GraphSchema({}), node_name="weighted_lr")
    return WeightedLogisticRegression.create(config, storage, resource, context), storage, resource


def test_counts_are_sublinear_and_the_embedding_is_weighted(tmp_path: Any) -> None:
    clf, _, _ = classifier(tmp_path, sublinear_counts=True, dense_weight=4.0, C=2.0)
    row = clf._create_X([message([0, 1, 3], [0.5, -0.25])]).toarray()[0]
    assert row == pytest.approx([0, np.log(2), np.log(4), 2.0, -1.0])
    assert clf.clf.get_params()["C"] == 2.0

    plain, _, _ = classifier(tmp_path)  # the defaults are Rasa's own component
    assert plain._create_X([message([0, 1, 3], [0.5, -0.25])]).toarray()[0] == pytest.approx([0, 1, 3, 0.5, -0.25])
    assert plain.clf.get_params()["C"] == 1.0


def test_a_weighted_embedding_decides_where_raw_counts_would_not(tmp_path: Any) -> None:
    """Two intents that share every n-gram and differ only in the embedding: with the embedding
    weighted, a new message goes by its embedding."""
    data = [message([2, 1], [0.05, 0.0], "a") for _ in range(5)] + [message([2, 1], [0.0, 0.05], "b") for _ in range(5)]
    weighted, storage, resource = classifier(tmp_path, sublinear_counts=True, dense_weight=40.0, C=2.0)
    weighted.train(TrainingData(data))
    context = ExecutionContext(GraphSchema({}), node_name="weighted_lr")
    loaded = WeightedLogisticRegression.load(
        {"sublinear_counts": True, "dense_weight": 40.0, "C": 2.0}, storage, resource, context
    )
    probe = message([2, 1], [0.0, 0.05])
    loaded.process([probe])
    assert probe.get(INTENT)["name"] == "b" and probe.get(INTENT)["confidence"] > 0.75

    (tmp_path / "plain").mkdir()
    plain, _, _ = classifier(tmp_path / "plain")
    plain.train(TrainingData(data))
    unweighted = message([2, 1], [0.0, 0.05])
    plain.process([unweighted])
    assert unweighted.get(INTENT)["confidence"] < 0.55  # the embedding alone barely moves it
