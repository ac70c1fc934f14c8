from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionHandleLowConfidence, consecutive_low_confidence_turns, likely_topics
from bot.services.handoff import list_tickets
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.actions.conftest import run, tracker_for
from tests.actions.test_error_replies import DOMAIN


def user(intent, text="我想问一下那个东西"):
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent, "confidence": 0.2}}}


BOT = {"event": "bot", "text": "..."}
RANKING = [
    {"name": "nlu_fallback", "confidence": 0.4},
    {"name": "greet", "confidence": 0.3},
    {"name": "ask_amount_due", "confidence": 0.25},
    {"name": "ask_how_to_repay", "confidence": 0.2},
    {"name": "ask_why_texts", "confidence": 0.1},
]


def unsure(text: str, events):  # type: ignore[no-untyped-def]
    t = tracker_for("visitor:abcdefgh", events=events)
    t.latest_message = {"intent": {"name": "nlu_fallback"}, "text": text, "intent_ranking": RANKING}
    return t


def test_only_the_latest_unbroken_run_of_low_confidence_turns_counts_and_noise_does_not():
    assert consecutive_low_confidence_turns([]) == 0
    assert consecutive_low_confidence_turns([user("greet"), BOT, user("nlu_fallback")]) == 1
    assert consecutive_low_confidence_turns([user("nlu_fallback"), BOT, user("greet"), BOT, user("nlu_fallback")]) == 1
    assert consecutive_low_confidence_turns([user("greet"), user("nlu_fallback"), BOT, user("nlu_fallback")]) == 2
    mash = user("nlu_fallback", "qwxz plmk")
    assert consecutive_low_confidence_turns([mash, BOT, mash, BOT, user("nlu_fallback")]) == 1


def test_the_likely_topics_are_the_assistants_not_small_talk():
    assert likely_topics({"intent_ranking": RANKING}) == ["ask_amount_due", "ask_how_to_repay"]


async def test_the_first_misunderstanding_offers_the_two_likely_topics_rephrase_and_a_person():
    dispatcher = CollectingDispatcher()
    await ActionHandleLowConfidence().run(dispatcher, unsure("我想问一下那个东西", [user("nlu_fallback")]), DOMAIN)
    (message,) = dispatcher.messages
    assert message["response"] == "utter_ask_rephrase"
    assert [(b["title"], b["payload"]) for b in message["buttons"]] == [
        ("我欠多少钱", "/ask_amount_due"),
        ("怎么还款", "/ask_how_to_repay"),
        ("换个说法", "/inform"),
        ("转人工客服", "/request_human"),
    ]


async def test_noise_gets_a_short_reply_with_examples_however_often(records):
    mash = user("nlu_fallback", "asdfgh qwerty")
    dispatcher = CollectingDispatcher()
    events = await ActionHandleLowConfidence().run(
        dispatcher, unsure("zzxq wwpl", [mash, BOT, mash, BOT, mash]), DOMAIN
    )
    assert [m["response"] for m in dispatcher.messages] == ["utter_noise"] and events == []


async def test_a_second_real_misunderstanding_in_a_row_offers_a_person_but_opens_no_ticket(records):
    twice = unsure("我想问一下那个东西", [user("nlu_fallback"), BOT, user("nlu_fallback")])
    dispatcher = CollectingDispatcher()
    events = await ActionHandleLowConfidence().run(dispatcher, twice, DOMAIN)
    (message,) = dispatcher.messages
    assert message["response"] == "utter_offer_human" and message["buttons"][0]["payload"] == "/request_human"
    assert events == []  # no ticket, no pause: the customer decides
    assert list_tickets(lambda: SqlAlchemyUnitOfWork(records)) == []
    assert [m["response"] for m in await run(ActionHandleLowConfidence(), unsure("?", []))] == ["utter_noise"]
