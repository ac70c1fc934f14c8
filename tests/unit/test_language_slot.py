"""The `language` slot changes only on a confident detection: the NLU component and Rasa's slot mapping."""

from pathlib import Path
from typing import Any

import pytest
from rasa.core.actions.action import ActionExtractSlots
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.rasa_ext.nlu import LanguageDetector

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = Domain.load(str(ROOT / "domain"))
NOTICE = "【XX银行】尊敬的张*，您的借款L1001第4期1,080.00元已逾期12天，请尽快还款。"


def language_entities(text: str) -> list[dict[str, Any]]:
    """The entities LanguageDetector adds to a message with this text."""
    (message,) = LanguageDetector().process([Message(data={TEXT: text})])
    return message.get(ENTITIES, [])


async def language_after(events: list[Event], text: str) -> str | None:
    """The language slot after Rasa extracts slots from a user message run through LanguageDetector."""
    tracker = DialogueStateTracker.from_events("visitor:test", events, slots=DOMAIN.slots)
    parse_data = {"text": text, "intent": {"name": "affirm", "confidence": 1.0}, "entities": language_entities(text)}
    tracker.update(UserUttered(text, parse_data["intent"], parse_data["entities"], parse_data))
    extracted = await ActionExtractSlots(None).run(
        CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(DOMAIN.responses), tracker, DOMAIN
    )
    for event in extracted:
        tracker.update(event)
    return tracker.get_slot("language")


@pytest.mark.parametrize(("text", "language"), [("how much do I owe", "en"), ("我欠多少钱", "zh")])
def test_a_message_in_a_clear_language_gets_a_language_entity_with_that_value(text: str, language: str) -> None:
    (entity,) = language_entities(text)
    assert (entity["entity"], entity["value"], entity["extractor"]) == ("language", language, "LanguageDetector")


@pytest.mark.parametrize(
    "text", ["ok", "好", "13900009999", "😀", "/request_human", NOTICE, "是不是有违约金 early repayment fee?"]
)
def test_a_message_without_a_clear_language_gets_no_language_entity(text: str) -> None:
    assert language_entities(text) == []


def test_the_language_slot_is_filled_only_from_the_language_entity_and_starts_in_chinese() -> None:
    slot = next(slot for slot in DOMAIN.slots if slot.name == "language")
    assert slot.mappings == [{"type": "from_entity", "entity": "language"}]
    assert slot.initial_value == "zh"


@pytest.mark.parametrize(
    "text", ["ok", "好", "是的", "13900009999", "😀", NOTICE, "是不是有违约金 early repayment fee?"]
)
async def test_an_english_conversation_stays_english_after_a_message_without_a_clear_language(text: str) -> None:
    assert await language_after([SlotSet("language", "en")], text) == "en"


async def test_a_chinese_conversation_stays_chinese_after_a_pasted_english_notice() -> None:
    notice = "[Qinghe Bank] Dear Z* W*, instalment 4 of loan L1001 (CNY 1,080.00) is 12 days overdue."
    assert await language_after([SlotSet("language", "zh")], notice) == "zh"


async def test_a_clear_message_in_the_other_language_switches_the_conversation() -> None:
    assert await language_after([SlotSet("language", "en")], "那我一共要还多少钱") == "zh"
    assert await language_after([SlotSet("language", "zh")], "how much do I owe in total") == "en"


async def test_a_first_message_without_a_clear_language_leaves_the_initial_chinese() -> None:
    assert await language_after([], "ok") == "zh"
    assert await language_after([], "hello") == "en"
