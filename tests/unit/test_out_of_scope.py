"""Out-of-scope questions: adjacent banking topics get where the app handles them, and the
in-scope detector turns a far-away message into out_of_scope whatever the classifier picked."""

from __future__ import annotations

import numpy as np
import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from actions.fallback import ActionOutOfScope
from bot.domain.adjacent import adjacent_topic
from bot.rasa_ext.nlu import InScopeDetector
from tests.actions.conftest import tracker_for


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("我的信用卡丢了怎么挂失", "card"),
        ("how do i activate my new debit card", "card"),
        ("怎么提额", "limit_or_new_loan"),
        ("why was my loan application rejected", "limit_or_new_loan"),
        ("跨行转账多久到账", "transfer"),
        ("忘记登录密码了", "login"),
        ("你们定期存款利率多少", "savings"),
        ("what's the weather tomorrow", None),
        ("讲个笑话", None),
    ],
)
def test_adjacent_banking_topics(text: str, topic: str | None) -> None:
    assert adjacent_topic(text) == topic


async def test_an_adjacent_question_gets_where_the_app_handles_it_and_small_talk_a_redirect() -> None:
    from rasa_sdk.executor import CollectingDispatcher

    for text, response in (("我的信用卡丢了", "utter_out_of_scope_card"), ("tell me a joke", "utter_out_of_scope")):
        tracker = tracker_for("anon_x", "out_of_scope")
        tracker.latest_message["text"] = text
        dispatcher = CollectingDispatcher()
        assert await ActionOutOfScope().run(dispatcher, tracker, {}) == []
        assert [m["response"] for m in dispatcher.messages] == [response]


def message(vector: list[float], intent: str | None = None, confidence: float = 0.9) -> Message:
    m = Message(data={TEXT: "x", **({INTENT: intent} if intent else {})})
    m.add_features(Features(np.array([vector], dtype=np.float32), FEATURE_TYPE_SENTENCE, TEXT, "use"))
    return m


def test_the_detector_learns_topic_examples_only_and_survives_a_reload(tmp_path) -> None:  # type: ignore[no-untyped-def]
    storage, resource = LocalModelStorage(tmp_path), Resource("in_scope")
    detector = InScopeDetector.create({"threshold": 0.8}, storage, resource, None)  # type: ignore[arg-type]
    detector.train(
        TrainingData(
            [message([1, 0, 0], "ask_amount_due"), message([0, 1, 0], "greet"), message([0, 0, 1], "out_of_scope")]
        )
    )
    loaded = InScopeDetector.load({"threshold": 0.8}, storage, resource, None)  # type: ignore[arg-type]
    assert loaded.embeddings.shape == (1, 3)  # greetings and out_of_scope are not topics

    near = message([0.9, 0.1, 0])
    near.set(INTENT, {"name": "ask_amount_due", "confidence": 0.7})
    far = message([0, 0.2, 1])
    far.set(INTENT, {"name": "ask_amount_due", "confidence": 0.94})
    far.set(INTENT_RANKING_KEY, [{"name": "ask_amount_due", "confidence": 0.94}, {"name": "greet", "confidence": 0.03}])
    small_talk = message([0, 0, 1])
    small_talk.set(INTENT, {"name": "greet", "confidence": 0.9})
    loaded.process([near, far, small_talk])
    assert near.get(INTENT)["name"] == "ask_amount_due"
    assert far.get(INTENT) == {"name": "out_of_scope", "confidence": 0.94}
    # The classifier's pick goes last: no tie with out_of_scope for the fallback's ambiguity check.
    assert [r["name"] for r in far.get(INTENT_RANKING_KEY)] == ["out_of_scope", "greet", "ask_amount_due"]
    assert small_talk.get(INTENT)["name"] == "greet"


def test_loading_the_detector_leaves_every_blas_library_on_one_thread() -> None:
    """Its embeddings @ vector would give OpenBLAS a second thread, which then spins between calls."""
    import json
    import os
    import subprocess
    import sys

    probe = (
        "import json, numpy as np, scipy.linalg\n"
        "from threadpoolctl import threadpool_info\n"
        "def blas(): return [i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas']\n"
        "before = blas()\n"
        "from bot.rasa_ext.nlu import InScopeDetector\n"
        "InScopeDetector({'threshold': 0.5, 'not_topics': []}, None, None)\n"
        "print(json.dumps([before, blas()]))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    before, after = json.loads(done.stdout.strip().splitlines()[-1])
    assert after and all(n == 1 for n in after)
    if (os.cpu_count() or 1) > 1:
        assert max(before) > 1  # the libraries' own default, which this changes
