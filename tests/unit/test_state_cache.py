"""bot.rasa_ext.state_cache answers exactly as the Rasa functions whose work it keeps.

Random event sequences (forms run on their happy path and interrupted, actions rejected, user
turns and actions reverted, restarts, new sessions, pauses, follow-ups) are fed to a line event by
event; after every event the line must agree with Rasa's own functions on the same events.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.conversation import Dialogue
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    DefinePrevUserUtteredFeaturization,
    Event,
    FollowupAction,
    LoopInterrupted,
    Restarted,
    SessionStarted,
    SlotSet,
    StoryExported,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.rasa_ext import speedups, state_cache
from bot.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
FORMS = ("extension_form", "sms_check_form")
INTENTS = ("greet", "request_extension", "ask_amount_due", "affirm", "deny", "cancel", "verify_sms")
ACTIONS = ("utter_greet", "action_tell_amount_due", "action_explain_texts", "utter_goodbye")


@pytest.fixture(scope="module", autouse=True)
def installed() -> Iterator[None]:
    mp = pytest.MonkeyPatch()
    mp.setenv("BOT_RASA_SPEEDUPS", "on")
    get_settings.cache_clear()
    speedups.install()
    yield
    mp.undo()
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain"))


def original(name: str):  # type: ignore[no-untyped-def]
    return speedups.rasa_originals()[name]


def user(rng: random.Random) -> UserUttered:
    intent = rng.choice(INTENTS)
    return UserUttered(f"text {rng.randrange(1000)}", {"name": intent, "confidence": rng.random()}, [])


def conversation(rng: random.Random, length: int) -> list[Event]:
    """Events as Rasa logs them, with every kind of event that changes the past now and then."""
    events: list[Event] = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
    loop: str | None = None
    while len(events) < length:
        events.append(user(rng))
        roll = rng.random()
        if loop and roll < 0.5:  # the form's happy path: it runs again, then listens
            events += [DefinePrevUserUtteredFeaturization(False), ActionExecuted(loop)]
            events.append(SlotSet("ext_reason", rng.choice(["job_loss", None, "illness"])))
            if rng.random() < 0.2:
                events += [ActiveLoop(None), SlotSet("requested_slot", None)]
                loop = None
        elif loop and roll < 0.6:  # the form rejects the answer
            events += [DefinePrevUserUtteredFeaturization(False), ActionExecutionRejected(loop, "RulePolicy", 1.0)]
            events += [ActionExecuted(rng.choice(ACTIONS)), BotUttered("a digression"), LoopInterrupted(True)]
            events.append(ActionExecuted(loop))
        elif not loop and roll < 0.3:  # a form starts
            loop = rng.choice(FORMS)
            events += [DefinePrevUserUtteredFeaturization(False), ActionExecuted(loop), ActiveLoop(loop)]
            events.append(SlotSet("requested_slot", "ext_loan_id"))
        elif roll < 0.66:
            events.append(UserUtteranceReverted())
            continue
        elif roll < 0.7:
            events += [ActionExecuted(rng.choice(ACTIONS)), ActionReverted()]
        elif roll < 0.73:
            events += [Restarted(), ActionExecuted("action_session_start"), SessionStarted()]
            loop = None
        elif roll < 0.76:
            events += [ActionExecuted("action_handoff"), ConversationPaused(), ConversationResumed()]
        elif roll < 0.78:
            events += [FollowupAction("utter_goodbye"), ActionExecuted("utter_goodbye")]
        else:
            action = rng.choice(ACTIONS)
            events += [DefinePrevUserUtteredFeaturization(False), ActionExecuted(action, "RulePolicy", 1.0)]
            events += [BotUttered(f"said {action}"), SlotSet("language", rng.choice(["zh", "en"]))]
        events.append(ActionExecuted("action_listen"))
    return events


def rebuilt_by_replay(domain: Domain, events: list[Event]) -> DialogueStateTracker:
    tracker = DialogueStateTracker("c", domain.slots)
    tracker.recreate_from_dialogue(Dialogue("c", list(events)))
    return tracker


def rebuilt_by_update(domain: Domain, events: list[Event]) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("c", list(events), domain.slots)


@pytest.mark.parametrize("seed", range(12))
def test_a_line_agrees_with_rasa_after_every_event_of_a_random_conversation(domain: Domain, seed: int) -> None:
    rng = random.Random(seed)
    events = conversation(rng, 120)
    line = state_cache.Line.of(DialogueStateTracker("c", domain.slots))
    assert line is not None
    applied_events = original("rasa.shared.core.trackers:DialogueStateTracker.applied_events")
    for n in range(1, len(events) + 1):
        line.extend(events[n - 1 : n])
        prefix = events[:n]
        by_update = rebuilt_by_update(domain, prefix)
        assert [id(e) for e in line.applied] == [id(e) for e in applied_events(by_update)], n
        assert state_cache.capture(line._update) == state_cache.capture(by_update), n
        assert state_cache.capture(line._replay) == state_cache.capture(rebuilt_by_replay(domain, prefix)), n
        states = domain.states_for_tracker_history(by_update)
        for count in (1, 2, 3):
            assert line.last_states(domain, count) == states[-count:], (n, count)


def test_a_line_stops_at_an_event_it_does_not_know_and_rasa_answers_from_then_on(domain: Domain) -> None:
    line = state_cache.Line.of(DialogueStateTracker("c", domain.slots))
    assert line is not None
    line.extend([ActionExecuted("action_listen"), StoryExported("/dev/null")])
    assert line.broken


def stored_tracker(domain: Domain, events: list[Event]) -> tuple[InMemoryTrackerStore, DialogueStateTracker]:
    """A tracker saved to and read back from Rasa's in-memory store (so it carries its line)."""
    store = InMemoryTrackerStore(domain)
    tracker = DialogueStateTracker("customer:C1001", domain.slots)
    for event in events:
        tracker.update(event)
    asyncio.run(store.save(tracker))
    found = asyncio.run(store.retrieve("customer:C1001"))
    assert found is not None
    return store, found


def test_the_in_memory_store_gives_back_what_rasas_own_store_would(domain: Domain) -> None:
    events = conversation(random.Random(1), 200)
    store, found = stored_tracker(domain, events)
    assert state_cache.line_for(found) is not None
    plain = InMemoryTrackerStore(domain)
    plain.store["customer:C1001"] = json.dumps(Dialogue("customer:C1001", events).as_dict())
    expected = asyncio.run(
        original("rasa.core.tracker_store:InMemoryTrackerStore._retrieve")(plain, "customer:C1001", False)
    )
    assert [e.as_dict() for e in found.events] == [e.as_dict() for e in expected.events]
    assert json.dumps(state_cache.capture(found)[0]) == json.dumps(state_cache.capture(expected)[0])  # slots
    assert found.latest_action == expected.latest_action and found.active_loop == expected.active_loop
    assert found.followup_action == expected.followup_action and found.is_paused() == expected.is_paused()


def in_stores_format(domain: Domain, events: list[Event]) -> tuple[InMemoryTrackerStore, InMemoryTrackerStore]:
    """Two stores holding the conversation as Rasa's InMemoryTrackerStore writes it (JSON text):
    one as this process finds a session saved elsewhere or gone back to that format, one to ask
    Rasa's own retrieve."""
    text = json.dumps(Dialogue("customer:C1001", events).as_dict())
    stores = InMemoryTrackerStore(domain), InMemoryTrackerStore(domain)
    for store in stores:
        store.store["customer:C1001"] = text
    return stores


def same_tracker(found: DialogueStateTracker, expected: DialogueStateTracker) -> None:
    assert [e.as_dict() for e in found.events] == [e.as_dict() for e in expected.events]
    assert json.dumps(state_cache.capture(found)[0]) == json.dumps(state_cache.capture(expected)[0])  # slots
    assert found.latest_action == expected.latest_action and found.active_loop == expected.active_loop
    assert found.followup_action == expected.followup_action and found.is_paused() == expected.is_paused()
    assert found.latest_message == expected.latest_message


@pytest.mark.parametrize("seed", range(6))
def test_a_session_in_the_stores_own_format_is_read_as_rasa_reads_it_and_followed_from_then_on(
    domain: Domain, seed: int
) -> None:
    events = conversation(random.Random(100 + seed), 150)  # seeds 100, 104 and 105 hold several sessions
    for all_sessions in (False, True):
        store, plain = in_stores_format(domain, events)
        found = asyncio.run(store._retrieve("customer:C1001", all_sessions))
        expected = asyncio.run(
            original("rasa.core.tracker_store:InMemoryTrackerStore._retrieve")(plain, "customer:C1001", all_sessions)
        )
        same_tracker(found, expected)
        # kept as objects and followed by a line: the message's predictions do not replay the session
        assert isinstance(store.store["customer:C1001"], state_cache._Saved)
        line = state_cache.line_for(found)
        assert line is not None
        assert found.applied_events() == original("rasa.shared.core.trackers:DialogueStateTracker.applied_events")(
            expected
        )
        assert state_cache.capture(found.copy()) == state_cache.capture(
            original("rasa.shared.core.trackers:DialogueStateTracker.copy")(expected)
        )


def test_a_session_that_goes_back_to_the_stores_format_is_written_as_rasa_writes_it(domain: Domain) -> None:
    store = InMemoryTrackerStore(domain)
    store.__dict__["_bot_memos"] = state_cache._Memos(max_events=100)
    sessions = {f"customer:C100{k}": conversation(random.Random(200 + k), 60) for k in range(1, 4)}
    for k, (sender, events) in enumerate(sessions.items()):
        tracker = DialogueStateTracker(sender, domain.slots)
        for event in events:
            tracker.update(event)
        asyncio.run(store.save(tracker))
        kept = store.store[sender]
        assert isinstance(kept, state_cache._Saved)
        if k == 0:  # as an action call leaves it: the line holds each event's JSON
            kept.line.encoded_events(len(kept.events))
    # each conversation holds 61-64 events: the first two went back to JSON text, byte for byte Rasa's
    # (the first from the JSON its line kept, the second encoded afresh)
    gone = [sender for sender, held in store.store.items() if isinstance(held, str)]
    assert gone == ["customer:C1001", "customer:C1002"]
    for sender in gone:
        assert store.store[sender] == json.dumps(Dialogue(sender, sessions[sender]).as_dict())


def test_a_copy_is_what_rasas_copy_would_be_and_keeps_the_line(domain: Domain) -> None:
    _, found = stored_tracker(domain, conversation(random.Random(2), 150))
    fast, slow = found.copy(), original("rasa.shared.core.trackers:DialogueStateTracker.copy")(found)
    assert state_cache.capture(fast) == state_cache.capture(slow)
    assert list(fast.events) == list(slow.events) and fast.model_id is None
    assert state_cache.line_for(fast) is state_cache.line_for(found)


def test_a_tracker_whose_events_went_another_way_is_answered_by_rasas_code(domain: Domain) -> None:
    store, found = stored_tracker(domain, conversation(random.Random(3), 80))
    other = asyncio.run(store.retrieve("customer:C1001"))
    assert other is not None
    found.update(ActionExecuted("utter_greet"))
    assert state_cache.line_for(found) is not None  # extends the line
    other.update(ActionExecuted("utter_goodbye"))  # the same point, another event
    assert state_cache.line_for(other) is None
    assert other.applied_events() == original("rasa.shared.core.trackers:DialogueStateTracker.applied_events")(other)


def test_a_tracker_that_has_fallen_behind_its_line_is_answered_by_rasas_code(domain: Domain) -> None:
    store, found = stored_tracker(domain, conversation(random.Random(4), 60))
    behind = asyncio.run(store.retrieve("customer:C1001"))
    found.update(ActionExecuted("utter_greet"))
    state_cache.line_for(found)
    assert behind is not None and state_cache.line_for(behind) is None


def test_the_action_server_gets_the_very_bytes_rasa_would_send(domain: Domain) -> None:
    _, found = stored_tracker(domain, conversation(random.Random(5), 150))
    found.update(UserUttered("最新一条", {"name": "greet", "confidence": 0.9}, []))  # not stored yet
    line = state_cache.line_for(found)
    assert line is not None
    for enable_selective_domain in (True, False):
        endpoint = EndpointConfig("http://127.0.0.1:9/webhook", enable_selective_domain=enable_selective_domain)
        action = RemoteAction("action_tell_amount_due", endpoint)
        expected = json.dumps(action._action_call_format(found, domain)).encode("utf-8")
        assert state_cache._encoded_call(action, found, domain, line) == expected
        assert state_cache._encoded_call(action, found, domain, line) == expected  # from the kept JSON


def test_memos_keep_at_most_their_events_and_let_idle_conversations_go() -> None:
    memos = state_cache._Memos(max_events=10, max_seconds=60)
    assert memos.put("a", "A", 6, now=0) == []
    assert memos.put("b", "B", 3, now=1) == []
    assert memos.put("c", "C", 3, now=2) == [("a", "A")]  # 12 events: the oldest goes
    assert memos.get("b") == "B" and memos.events == 6
    assert memos.put("d", "D", 1, now=100) == [("b", "B"), ("c", "C")]  # idle for more than a minute
    assert memos.pop("d") == "D" and memos.events == 0


def test_a_call_with_only_new_events_becomes_the_whole_call_on_the_action_server(domain: Domain) -> None:
    from bot.rasa_ext import action_events

    _, found = stored_tracker(domain, conversation(random.Random(6), 150))
    line = state_cache.line_for(found)
    assert line is not None
    action = RemoteAction("action_tell_amount_due", EndpointConfig("http://127.0.0.1:9/webhook"))
    whole = json.loads(state_cache._encoded_call(action, found, domain, line))
    kept = action_events.KeptEvents()
    first = json.loads(state_cache._encoded_call(action, found, domain, line, marked=True))
    assert action_events.expand(first, kept, now=0) and first == whole
    found.update(BotUttered("a new line"))
    found.update(ActionExecuted("action_listen"))
    assert state_cache.line_for(found) is line
    base = line.settled
    second = json.loads(state_cache._encoded_call(action, found, domain, line, base, marked=True))
    assert len(second["tracker"]["events"]) == len(found.events) - base  # only what the server lacks
    assert action_events.expand(second, kept, now=1)
    assert second == json.loads(state_cache._encoded_call(action, found, domain, line))


def test_the_action_server_asks_for_the_whole_call_when_it_does_not_hold_the_base() -> None:
    from bot.rasa_ext import action_events

    call = {"next_action": "x", "tracker": {"events": []}, "bot_events_line": "unknown", "bot_events_base": 3}
    assert not action_events.expand(call, action_events.KeptEvents(), now=0)
    unmarked = {"next_action": "x", "tracker": {"events": [{"event": "action"}]}}
    assert action_events.expand(dict(unmarked), action_events.KeptEvents(), now=0)


def test_the_action_server_keeps_a_bounded_number_of_events() -> None:
    from bot.rasa_ext import action_events

    kept = action_events.KeptEvents(max_events=5, max_seconds=60)
    kept.put("a", [1, 2, 3], now=0)
    kept.put("b", [1, 2, 3], now=1)
    assert kept.get("a") is None and kept.get("b") == [1, 2, 3]
    kept.put("c", [1], now=100)
    assert kept.get("b") is None and kept.events == 1


def _rule_policy(rules: list[list[dict]]):  # type: ignore[no-untyped-def]
    from rasa.core.policies.rule_policy import RULES, RulePolicy

    policy = RulePolicy.__new__(RulePolicy)  # only the lookup: what _get_possible_keys reads
    policy.lookup = {RULES: {json.dumps(states, sort_keys=True): f"action_{k}" for k, states in enumerate(rules)}}
    return policy


def test_rule_keys_for_equal_states_are_rasas_answer_remembered_and_the_memo_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rasa.core.policies.rule_policy import RULES

    greet = {"user": {"intent": "greet"}, "prev_action": {"action_name": "action_listen"}}
    amount = {"user": {"intent": "ask_amount_due"}, "prev_action": {"action_name": "action_listen"}}
    in_form = {**amount, "active_loop": {"name": "extension_form"}}
    after = {"prev_action": {"action_name": "utter_greet"}, "user": {"intent": "greet"}}
    policy = _rule_policy([[greet], [amount], [greet, after], [{}, in_form]])
    rng = random.Random(3)
    for _ in range(200):
        states = [dict(rng.choice([greet, amount, in_form, after, {}])) for _ in range(rng.randint(1, 3))]
        rasas = type(policy)._get_possible_keys(policy, policy.lookup[RULES], states)
        # equal states, other objects, parts in another order: the same answer
        again = [dict(reversed(list(s.items()))) for s in states]
        assert state_cache._possible_keys(policy, RULES, states) == rasas
        assert state_cache._possible_keys(policy, RULES, again) == rasas
    assert 0 < len(policy.__dict__["_bot_possible_keys"][1]) <= 200
    # a state that differs in one feature is another entry, not the remembered one
    other = [{**amount, "user": {"intent": "greet"}}]
    assert state_cache._possible_keys(policy, RULES, other) == type(policy)._get_possible_keys(
        policy, policy.lookup[RULES], other
    )
    monkeypatch.setattr(state_cache, "POSSIBLE_KEYS_MEMO", 2)
    for k in range(5):  # states not seen yet
        state_cache._possible_keys(policy, RULES, [{"user": {"intent": f"new_{k}"}, "prev_action": {}}])
    assert len(policy.__dict__["_bot_possible_keys"][1]) <= 2
    # a newly loaded lookup starts a new memo
    policy.lookup = {RULES: {}}
    assert state_cache._possible_keys(policy, RULES, [greet]) == set()
