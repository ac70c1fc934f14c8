"""What Rasa derives from a conversation's history, kept per conversation and extended event by event.

Rasa 3.6 recomputes everything it knows about a conversation from all of the session's events,
several times for every message, so a message costs more the longer the session has run
(bench/session_length.py: 27 ms for messages 1-10, 472 ms for 501-510 in one conversation):

- the tracker store decodes and replays every event of the session on each read (twice per
  message: once for the message, once more in ``save`` to find the new events for the event
  broker), and Rasa's in-memory store encodes all of them again on each write;
- ``DialogueStateTracker.applied_events`` walks every event (the processor, on each message);
- ``DialogueStateTracker.copy`` replays every event (the processor, before each action);
- ``RulePolicy`` derives the state of the conversation before every action of the session
  (``Domain.states_for_tracker_history``, a replay plus a featurisation per action), twice per
  prediction, and matches every state against every rule, although no rule is longer than a
  few states (3 in this model) and only the last that many can change the answer; it also
  formats and deep-copies all of them for a debug line that is not written;
- ``RemoteAction`` turns every event into a dict and JSON again for each custom action call
  (~2 MB at message 500), and the action server parses all of it again.

A ``Line`` holds, for one conversation, the events seen so far and what Rasa would derive from
exactly those events: the applied events (``applied_events``), the tracker state that a replay
of the applied events leaves (``replay_events``, ``generate_all_prior_trackers``), the state
that updating a new tracker with every event leaves (``copy``, ``from_events``), and the
states before the last ``TURNS_KEPT`` actions. New events extend it at the cost of those events
alone, using Rasa's own code for each step (``apply_to`` of each event, the applied-events rules
of ``applied_events``); an event that changes the past (a revert, an undo of a loop's happy
path, a new loop name, a restart) rewinds to the last kept state before the change and replays
only from there. A line only ever grows: a conversation whose events took another course gets
a new line.

Trackers that the tracker stores here hand out (and their copies) carry their conversation's
line; every other tracker (training, ``rasa test``, a new conversation's first tracker) is
handled by Rasa's own code, as is a tracker whose events are not the line's (checked by object
identity on every use) or that holds an event this module does not know.

The tracker stores keep the last saved trackers' events as objects for a while (at most
``MEMO_EVENTS`` events per store, conversations idle for ``MEMO_SECONDS`` go first) and hand
out trackers built from them, with the state Rasa's store would have rebuilt from its copy:
Rasa's ``InMemoryTrackerStore`` (the embedded default) and this project's
``RedisEventTrackerStore``, which checks with one round trip (session start, length and the
list from the memo's last element on, as its own read does) that no other worker has written
since, and when another worker only added events to the same session, takes just those (the
memo's state updated with them, as ``from_events`` would, and its line extended). Older
conversations go back to the store's own format, written from the JSON of each event the line
kept for action calls when it has it. A conversation the store holds in its own format (saved
by another process, or gone back to that format: a returning customer) is decoded as the
store's own read decodes it and followed once by a new line, instead of a replay by the store
and a derivation of the whole session for every prediction of its next message.

Action calls are encoded from the stored events' JSON, kept per event, and a long session's
calls (``DELTA_MIN_EVENTS``) carry only the events the action server does not hold yet when it
says it takes such calls (this project's does: ``bot.rasa_ext.action_events`` puts the rest back,
so the actions get the very call Rasa would have sent).

Installed by ``bot.rasa_ext.speedups.install()`` (same version check and switch); each replaced
or relied-on function is fingerprinted there. ``tests/integration/test_speedups_equivalence.py``
replays recorded and generated conversations through stock Rasa and through this and compares
every prediction and every event.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import logging
import operator
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rasa.core.actions.action import RemoteAction
    from rasa.core.policies.policy import PolicyPrediction
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.shared.core.domain import Domain, State
    from rasa.shared.core.events import Event
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    from bot.rasa_ext.tracker_store import RedisEventTrackerStore

logger = logging.getLogger(__name__)

# States before the last actions kept per conversation. The rule lookup needs as many as the
# longest rule has states (3 here, checked per model); rewinds (a loop's happy path undoes back
# to the loop's previous run, a revert to the last user message) go back a few actions.
TURNS_KEPT = 16
# Events a tracker store keeps as objects (~3 KB each), and how long an idle conversation stays.
MEMO_EVENTS = 100_000
MEMO_SECONDS = 600.0

_MARK = "_bot_line"


# --- tracker state ------------------------------------------------------------------------------

# The attributes events change when applied (DialogueStateTracker._reset and the apply_to of each
# event), plus each slot's value and whether it has been set.
_Captured = tuple[tuple[tuple[Any, bool], ...], bool, Any, Any, Any, Any, Any]


def capture(tracker: DialogueStateTracker) -> _Captured:
    """The replayable state of a tracker (what ``_reset`` resets and events set)."""
    loop = tracker.active_loop
    return (
        tuple((slot._value, slot._has_been_set) for slot in tracker.slots.values()),
        tracker._paused,
        tracker.followup_action,
        tracker.latest_action,
        tracker.latest_message,
        tracker.latest_bot_utterance,
        copy.copy(loop) if loop is not None else None,  # events change the active loop in place
    )


def restore(tracker: DialogueStateTracker, state: _Captured) -> None:
    """Give a tracker (with the same slots) a state taken by ``capture``."""
    for slot, (value, has_been_set) in zip(tracker.slots.values(), state[0], strict=True):
        slot._value = value
        slot._has_been_set = has_been_set
    (
        _,
        tracker._paused,
        tracker.followup_action,
        tracker.latest_action,
        tracker.latest_message,
        tracker.latest_bot_utterance,
        loop,
    ) = state
    tracker.active_loop = copy.copy(loop) if loop is not None else None


@functools.lru_cache(maxsize=1)
def _supported_events() -> frozenset[type]:
    """Event classes whose ``apply_to`` only sets tracker state (or replays, for the two reverts)."""
    from rasa.shared.core import events

    return frozenset(
        {
            events.UserUttered,
            events.DefinePrevUserUtteredFeaturization,
            events.EntitiesAdded,
            events.BotUttered,
            events.SlotSet,
            events.Restarted,
            events.UserUtteranceReverted,
            events.AllSlotsReset,
            events.ReminderScheduled,
            events.ReminderCancelled,
            events.ActionReverted,
            events.FollowupAction,
            events.ConversationPaused,
            events.ConversationResumed,
            events.ActionExecuted,
            events.AgentUttered,
            events.ActiveLoop,
            events.LegacyForm,
            events.LoopInterrupted,
            events.LegacyFormValidation,
            events.ActionExecutionRejected,
            events.SessionStarted,
        }
    )  # not StoryExported: applying it writes a file


@functools.lru_cache(maxsize=1)
def _supported_slots() -> frozenset[type]:
    from rasa.shared.core import slots

    return frozenset(
        {slots.TextSlot, slots.BooleanSlot, slots.FloatSlot, slots.ListSlot, slots.CategoricalSlot, slots.AnySlot}
    )


def _slot_signature(tracker: DialogueStateTracker) -> tuple[tuple[str, type], ...] | None:
    """The names and types of a tracker's slots, or None when they are not plain Rasa slots."""
    if type(tracker.slots) is not dict:  # AnySlotDict: slots made up on the fly
        return None
    signature = tuple((name, type(slot)) for name, slot in tracker.slots.items())
    if any(cls not in _supported_slots() for _, cls in signature):
        return None
    return signature


# --- one conversation's derivations -----------------------------------------------------------


class _Turn:
    """An action among the applied events: its index there and the tracker state just before it."""

    __slots__ = ("index", "before", "state")

    def __init__(self, index: int, before: _Captured) -> None:
        self.index = index
        self.before = before
        self.state: tuple[Domain, State] | None = None  # Domain.states_for_tracker_history's entry


class Line:
    """What Rasa derives from one conversation's events, kept up to date event by event."""

    def __init__(self, prototype: DialogueStateTracker, signature: tuple[tuple[str, type], ...]) -> None:
        self.sender_id = prototype.sender_id
        self.signature = signature
        self.events: list[Event] = []
        self.broken = False  # an event this module does not know: Rasa's own code from here on
        self.lock = threading.Lock()
        # DialogueStateTracker.applied_events() of ``events``, and the loop names it depends on
        self.applied: list[Event] = []
        self.loop_names: set[str] = set()
        self.ae_count = 0  # actions among the applied events (states = ae_count + 1)
        self.turns: deque[_Turn] = deque(maxlen=TURNS_KEPT)
        self.session_start = 0  # index of the latest action_session_start in ``events`` (0: none later)
        # the first ``settled`` events are stored and no longer change: their JSON is kept
        self.settled = 0
        self._encoded: list[str] = []
        # for action servers that take calls with only new events (bot.rasa_ext.action_events):
        # this history's id, and how many of its events each server (by URL) holds
        self.id = uuid.uuid4().hex
        self.sent: dict[str, int] = {}
        # scratch trackers (never handed out): a replay of ``applied`` and an update with ``events``
        self._replay = prototype.init_copy()
        self._update = prototype.init_copy()
        self._initial = capture(self._replay)
        self._scan = prototype.init_copy()  # runs Rasa's applied_events() over ``events`` when needed

    @classmethod
    def of(cls, tracker: DialogueStateTracker, events: Iterable[Event] | None = None) -> Line | None:
        """A new line for the events of a tracker (or for ``events``, which the tracker's slots
        start from), or None when this module cannot follow them."""
        signature = _slot_signature(tracker)
        if signature is None or tracker.events.maxlen is not None:
            return None
        line = cls(tracker, signature)
        line.extend(tracker.events if events is None else events)
        return None if line.broken else line

    # Rasa's code, as used here: the tracker methods below are the originals (fingerprinted).
    def extend(self, new_events: Iterable[Event]) -> None:
        from rasa.shared.core.constants import ACTION_SESSION_START_NAME
        from rasa.shared.core.events import ActionExecuted, ActionReverted, UserUtteranceReverted

        supported = _supported_events()
        for event in new_events:
            if self.broken or type(event) not in supported:
                self.broken = True
                return
            self.events.append(event)
            self._advance(event)
            # as Rasa's update() does; the reverts' apply_to resets and replays the applied events
            if isinstance(event, (UserUtteranceReverted, ActionReverted)):
                restore(self._update, capture(self._replay))
            else:
                event.apply_to(self._update)
            # as events.split_events(..., ActionExecuted, {"action_name": ...}) splits sessions
            if isinstance(event, ActionExecuted) and getattr(event, "action_name", None) == ACTION_SESSION_START_NAME:
                self.session_start = len(self.events) - 1

    def _advance(self, event: Event) -> None:
        """One step of DialogueStateTracker.applied_events(), applied to the replayed state."""
        from rasa.shared.core.events import (
            ActionExecuted,
            ActionReverted,
            ActiveLoop,
            Restarted,
            SessionStarted,
            UserUtteranceReverted,
            UserUttered,
        )
        from rasa.shared.core.trackers import DialogueStateTracker

        applied = self.applied
        if isinstance(event, ActiveLoop) and event.name and event.name not in self.loop_names:
            # applied_events() decides on every execution of a loop knowing all loop names: a new
            # name can change how earlier events apply, so ask it again and rewind to the change
            self.loop_names.add(event.name)
            self._scan.events = self.events  # type: ignore[assignment]
            try:
                recomputed = _ORIGINAL_APPLIED_EVENTS(self._scan)
            finally:
                self._scan.events = deque()
            self._rewound(recomputed, _common_prefix(applied, recomputed))
        elif isinstance(event, (Restarted, SessionStarted)):
            self._rewound([], 0)
        elif isinstance(event, ActionReverted):
            DialogueStateTracker._undo_till_previous(ActionExecuted, applied)
            self._rewound(applied, len(applied))
        elif isinstance(event, UserUtteranceReverted):
            DialogueStateTracker._undo_till_previous(UserUttered, applied)
            DialogueStateTracker._undo_till_previous(ActionExecuted, applied)
            self._rewound(applied, len(applied))
        elif (
            isinstance(event, ActionExecuted)
            and event.action_name in self.loop_names
            and not self._scan._first_loop_execution_or_unhappy_path(event.action_name, applied)
        ):
            before = list(applied)
            DialogueStateTracker._undo_till_previous_loop_execution(event.action_name, applied)
            self._rewound(applied, _common_prefix(before, applied))
        else:
            applied.append(event)
            self._apply(event, len(applied) - 1)

    def _apply(self, event: Event, index: int) -> None:
        from rasa.shared.core.events import ActionExecuted

        if isinstance(event, ActionExecuted):  # generate_all_prior_trackers yields the state before it
            self.turns.append(_Turn(index, capture(self._replay)))
            self.ae_count += 1
        event.apply_to(self._replay)

    def _rewound(self, applied: list[Event], unchanged: int) -> None:
        """The applied events are now ``applied``, the same as before up to index ``unchanged``:
        replay from the latest kept action before that point (or from the start)."""
        while self.turns and self.turns[-1].index >= unchanged:
            self.turns.pop()
            self.ae_count -= 1
        if self.turns:  # its state depends only on the events before it, which did not change
            turn = self.turns.pop()
            self.ae_count -= 1
            start, state = turn.index, turn.before
        else:  # no action before the change, or none of them kept: replay from the start
            self.ae_count = 0
            start, state = 0, self._initial
        self.applied = applied
        restore(self._replay, state)
        for index in range(start, len(applied)):
            self._apply(applied[index], index)

    def settle(self, count: int) -> None:
        """The line's first ``count`` events have been stored (a store saved or read them)."""
        self.settled = max(self.settled, min(count, len(self.events)))

    def encoded_events(self, count: int, start: int = 0) -> str:
        """json.dumps([e.as_dict() for e in events[start:count]]), the stored events' part kept."""
        encoded = self._encoded
        for event in self.events[len(encoded) : min(count, self.settled)]:
            encoded.append(json.dumps(event.as_dict()))
        kept = encoded[start : min(count, len(encoded))]
        fresh = [json.dumps(event.as_dict()) for event in self.events[max(start, len(encoded)) : count]]
        return "[" + ", ".join(itertools.chain(kept, fresh)) + "]"

    # --- answers ---

    def replay_state(self) -> _Captured:
        return capture(self._replay)

    def update_state(self) -> _Captured:
        return capture(self._update)

    def last_states(self, domain: Domain, count: int) -> list[State] | None:
        """The last ``count`` entries of Domain.states_for_tracker_history (omit_unset_slots and
        ignore_rule_only_turns off), or None when they are not all kept. Callers get their own
        copies: Rasa's featurizers edit states in place."""
        total = self.ae_count + 1
        count = min(count, total)
        kept = list(self.turns)[-(count - 1) :] if count > 1 else []
        if len(kept) < count - 1:
            return None
        states = [self._turn_state(turn, domain) for turn in kept]
        states.append(_state_of(domain, self._replay))
        return [_copy_state(state) for state in states]

    def _turn_state(self, turn: _Turn, domain: Domain) -> State:
        if turn.state is None or turn.state[0] is not domain:
            scratch = self._scan
            restore(scratch, turn.before)
            turn.state = (domain, _state_of(domain, scratch))
        return turn.state[1]


def _state_of(domain: Domain, tracker: DialogueStateTracker) -> State:
    # as Domain.states_for_tracker_history does for each prior tracker
    return domain._clean_state(domain.get_active_state(tracker, omit_unset_slots=False))


def _copy_state(state: State) -> State:
    # sub-states hold strings, numbers and tuples; the prev_action sub-state is the tracker's own dict
    return {key: dict(sub_state) for key, sub_state in state.items()}  # type: ignore[misc]


def _common_prefix(old: Sequence[Any], new: Sequence[Any]) -> int:
    """How many leading items two lists share (by identity)."""
    n = min(len(old), len(new))
    return next(itertools.compress(itertools.count(), map(operator.is_not, old, new)), n)


_ORIGINAL_APPLIED_EVENTS: Callable[[DialogueStateTracker], list[Event]]


# --- trackers that carry a line ----------------------------------------------------------------


class _Mark:
    """A tracker's line: its events deque and how many of its events are known to be the line's."""

    __slots__ = ("line", "events", "verified")

    def __init__(self, line: Line, events: deque[Event], verified: int) -> None:
        self.line = line
        self.events = events
        self.verified = verified

    def __copy__(self) -> None:  # a copied tracker is checked and given its own mark
        return None

    def __deepcopy__(self, memo: dict[int, Any]) -> None:
        return None


def attach(tracker: DialogueStateTracker, line: Line, verified: int) -> None:
    """Let ``tracker`` use ``line``; its first ``verified`` events must be the line's."""
    tracker.__dict__[_MARK] = _Mark(line, tracker.events, verified)


def line_for(tracker: DialogueStateTracker) -> Line | None:
    """The tracker's line, extended to all of the tracker's events, or None when Rasa's own
    code must answer (no line, other events than the line's, or an unknown event)."""
    mark = tracker.__dict__.get(_MARK)
    if mark is None:
        return None
    line, events = mark.line, tracker.events
    if events is not mark.events or line.broken:
        return None
    n = len(events)
    with line.lock:
        m = len(line.events)
        verified = mark.verified
        if n < verified or (verified and events[verified - 1 - n] is not line.events[verified - 1]):
            tracker.__dict__[_MARK] = None
            return None
        if verified < m:
            # the line went on (through a copy of this tracker): did this tracker take the same events?
            upto = min(n, m)
            mine = _tail(events, verified, upto)
            if any(map(operator.is_not, mine, line.events[verified:upto])):
                tracker.__dict__[_MARK] = None
                return None
            mark.verified = verified = upto
            if n < m:
                return None  # an earlier point of the line: Rasa's code answers
        if n > m:
            line.extend(_tail(events, m, n))
            if line.broken:
                return None
            mark.verified = n
    return line


def _tail(events: deque[Event], start: int, stop: int) -> list[Event]:
    """events[start:stop] of a deque without walking it from the left."""
    n = len(events)
    taken = list(itertools.islice(reversed(events), n - stop, n - start))
    taken.reverse()
    return taken


def fork(line: Line, tracker: DialogueStateTracker, events: Iterable[Event], state: _Captured) -> bool:
    """Give a new tracker (no events yet) ``events`` (the line's first ones) and ``state``; False
    when its slots are not the line's (then it is left untouched)."""
    if _slot_signature(tracker) != line.signature or tracker.events.maxlen is not None or tracker.events:
        return False
    tracker.events.extend(events)
    restore(tracker, state)
    attach(tracker, line, len(tracker.events))
    return True


# --- replacements ---------------------------------------------------------------------------------


def applied_events_replacement(original: Callable[[DialogueStateTracker], list[Event]]) -> Callable[..., Any]:
    def applied_events(self: DialogueStateTracker) -> list[Event]:
        line = line_for(self)
        if line is None:
            return original(self)
        return list(line.applied)

    applied_events.__doc__ = original.__doc__
    return applied_events


def copy_replacement(original: Callable[[DialogueStateTracker], DialogueStateTracker]) -> Callable[..., Any]:
    def copy(self: DialogueStateTracker) -> DialogueStateTracker:
        line = line_for(self)
        if line is None:
            return original(self)
        tracker = self.init_copy()  # as travel_back_in_time(inf) starts
        if not fork(line, tracker, self.events, line.update_state()):
            return original(self)
        return tracker

    copy.__doc__ = original.__doc__
    return copy


# RulePolicy -----------------------------------------------------------------------------------


def _debug_logged() -> bool:
    """Whether RulePolicy's debug log lines would be written (then it runs as shipped)."""
    import structlog

    if logging.getLogger("rasa.core.policies.rule_policy").isEnabledFor(logging.DEBUG):
        return True
    if not structlog.is_configured():
        return True  # structlog's default logger prints every level
    wrapper = structlog.get_config().get("wrapper_class")
    return getattr(getattr(wrapper, "debug", None), "__name__", "") != "_nop"


class _PolicyLimits:
    """Per trained RulePolicy: how many trailing states its lookups can look at."""

    def __init__(self, longest_rule: int, longest_unstoried: int) -> None:
        self.longest_rule = longest_rule
        self.longest_unstoried = longest_unstoried


_NO_RULE = "\x00no rule: a conversation longer than every rule not in stories\x00"


def _limits(policy: RulePolicy) -> _PolicyLimits | None:
    from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH, RULES_NOT_IN_STORIES

    lookup = policy.lookup
    cached = policy.__dict__.get("_bot_limits")
    if cached is not None and cached[0] is lookup:
        return cached[1]  # type: ignore[no-any-return]
    try:
        keys = [*lookup.get(RULES, {}), *lookup.get(RULES_FOR_LOOP_UNHAPPY_PATH, {})]
        longest_rule = max((len(policy._rule_key_to_state(key)) for key in keys), default=1)
        unstoried = [json.loads(s) for s in lookup.get(RULES_NOT_IN_STORIES, []) if s.startswith("[")]
        longest_unstoried = max((len(states) for states in unstoried), default=0)
    except (ValueError, TypeError, AttributeError):
        limits = None
    else:
        limits = (
            None if _NO_RULE in lookup.get(RULES_NOT_IN_STORIES, []) else _PolicyLimits(longest_rule, longest_unstoried)
        )
    policy.__dict__["_bot_limits"] = (lookup, limits)
    return limits


def rule_prediction_replacement(original: Callable[..., PolicyPrediction]) -> Callable[..., PolicyPrediction]:
    """RulePolicy.predict_action_probabilities with RulePolicy._predict and _find_action_from_rules
    as in Rasa 3.6.21, given only the states the lookups can match."""
    from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
    from rasa.core.policies.rule_policy import RulePolicy

    def predict_action_probabilities(
        self: RulePolicy,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        line = line_for(tracker)
        limits = _limits(self) if line is not None else None
        if (
            line is None
            or limits is None
            or type(self) is not RulePolicy
            or type(self.featurizer) is not MaxHistoryTrackerFeaturizer
            or _debug_logged()
        ):
            return original(self, tracker, domain, rule_only_data, **kwargs)
        with line.lock:
            states = _rule_states(self, line, domain, limits)
        if states is None:
            return original(self, tracker, domain, rule_only_data, **kwargs)
        return _predict(self, tracker, domain, *states)

    # Rasa's graph validation reads this method's type hints (typing.get_type_hints, which
    # resolves names in the module of the function that __wrapped__ names): give it Rasa's own.
    predict_action_probabilities.__doc__ = original.__doc__
    predict_action_probabilities.__annotations__ = dict(original.__annotations__)
    predict_action_probabilities.__wrapped__ = original  # type: ignore[attr-defined]
    return predict_action_probabilities


def _rule_states(
    policy: RulePolicy, line: Line, domain: Domain, limits: _PolicyLimits
) -> tuple[list[State], int, list[State] | None] | None:
    """(the last states the lookups can match, how many states the featurizer would give, all of
    them when the feature key of all of them could be a rule not in stories), or None."""
    total = line.ae_count + 1
    max_history = policy.featurizer.max_history
    total = min(total, max_history) if max_history else total  # slice_state_history
    every = None
    if total <= limits.longest_unstoried:
        every = line.last_states(domain, total)
        if every is None:
            return None
    last = line.last_states(domain, min(total, limits.longest_rule))
    if last is None:
        return None
    return last, total, every


def _states_for(policy: RulePolicy, states: list[State], use_text: bool) -> list[State]:
    # what MaxHistoryTrackerFeaturizer.prediction_states does after slicing, on our own copies
    states = [_copy_state(s) for s in states]
    policy.featurizer._choose_last_user_input([states], use_text)
    return states


#: Trailing states remembered per trained RulePolicy with the rule keys they match (then forgotten
#: all at once). Conversations go through the same few states again and again (a flow's steps, the
#: same intents after the same actions), so most predictions find theirs here.
POSSIBLE_KEYS_MEMO = 20_000


def _frozen(states: list[State]) -> tuple[Any, ...]:
    """The states as a hashable value, equal exactly when the states compare equal."""
    return tuple(
        tuple(sorted((part, tuple(sorted(features.items()))) for part, features in state.items())) for state in states
    )


def _possible_keys(policy: RulePolicy, name: str, states: list[State]) -> set[str]:
    """RulePolicy._get_possible_keys(policy.lookup[name], states), remembered for equal states: the
    answer is a function of the trained lookup and the states alone. The set handed out is shared:
    callers only read it (as Rasa's own callers do)."""
    lookup = policy.lookup
    memo = policy.__dict__.get("_bot_possible_keys")
    if memo is None or memo[0] is not lookup:
        memo = (lookup, {})
        policy.__dict__["_bot_possible_keys"] = memo
    try:
        key = (name, _frozen(states))
        found = memo[1].get(key)
    except TypeError:  # a value that is not hashable (not one a featurizer gives): no memo
        return policy._get_possible_keys(lookup[name], states)  # type: ignore[no-any-return]
    if found is None:
        if len(memo[1]) >= POSSIBLE_KEYS_MEMO:
            memo[1].clear()
        found = memo[1][key] = policy._get_possible_keys(lookup[name], states)
    return found  # type: ignore[no-any-return]


def _find_action_from_rules(
    policy: RulePolicy,
    tracker: DialogueStateTracker,
    use_text_for_last_user_input: bool,
    last: list[State],
    every: list[State] | None,
) -> tuple[str | None, str | None, bool]:
    """RulePolicy._find_action_from_rules on the last states (no debug log: see _debug_logged)."""
    from rasa.core.policies.rule_policy import (
        DO_NOT_PREDICT_LOOP_ACTION,
        LOOP_WAS_INTERRUPTED,
        RULES,
        RULES_FOR_LOOP_UNHAPPY_PATH,
    )
    from rasa.shared.core.constants import ACTION_LISTEN_NAME
    from rasa.shared.core.trackers import get_active_loop_name

    if use_text_for_last_user_input and tracker.latest_action_name != ACTION_LISTEN_NAME:
        return None, None, False

    states = _states_for(policy, last, use_text_for_last_user_input)

    returning_from_unhappy_path = False

    rule_keys = _possible_keys(policy, RULES, states)
    predicted_action_name = None
    best_rule_key = ""
    if rule_keys:
        best_rule_key = max(rule_keys, key=len)
        predicted_action_name = policy.lookup[RULES].get(best_rule_key)

    active_loop_name = tracker.active_loop_name
    if active_loop_name:
        loop_unhappy_keys = _possible_keys(policy, RULES_FOR_LOOP_UNHAPPY_PATH, states)
        unhappy_path_conditions = [policy.lookup[RULES_FOR_LOOP_UNHAPPY_PATH].get(key) for key in loop_unhappy_keys]
        predicted_listen_from_general_rule = predicted_action_name == ACTION_LISTEN_NAME and not get_active_loop_name(
            policy._rule_key_to_state(best_rule_key)[-1]
        )
        if predicted_listen_from_general_rule:
            if DO_NOT_PREDICT_LOOP_ACTION not in unhappy_path_conditions:
                return active_loop_name, best_rule_key, returning_from_unhappy_path
            predicted_action_name = None
        if LOOP_WAS_INTERRUPTED in unhappy_path_conditions:
            returning_from_unhappy_path = True

    if best_rule_key:
        source: str | None = best_rule_key
    elif every is not None:
        source = policy._create_feature_key(_states_for(policy, every, use_text_for_last_user_input))
    else:
        # the feature key of more states than any rule not in stories has: it is none of them
        # (RulePolicy only compares it with those; _predict's caller drops it)
        source = _NO_RULE
    return predicted_action_name, source, returning_from_unhappy_path


def _predict(
    policy: RulePolicy,
    tracker: DialogueStateTracker,
    domain: Domain,
    last: list[State],
    total: int,
    every: list[State] | None,
) -> PolicyPrediction:
    """RulePolicy._predict (its prediction; the source is only logged)."""
    rules_action_name_from_text, prediction_source_from_text, returning_from_unhappy_path_from_text = (
        _find_action_from_rules(policy, tracker, True, last, every)
    )
    default_action_name, default_prediction_source = policy._find_action_from_default_actions(tracker)
    if default_action_name and not rules_action_name_from_text:
        return policy._rule_prediction(
            policy._prediction_result(default_action_name, tracker, domain), default_prediction_source
        )
    loop_happy_path_action_name, loop_happy_path_prediction_source = policy._find_action_from_loop_happy_path(tracker)
    if loop_happy_path_action_name:
        return policy._rule_prediction(
            policy._prediction_result(loop_happy_path_action_name, tracker, domain),
            loop_happy_path_prediction_source,
            is_no_user_prediction=True,
        )
    if rules_action_name_from_text:
        return policy._rule_prediction(
            policy._prediction_result(rules_action_name_from_text, tracker, domain),
            prediction_source_from_text,  # type: ignore[arg-type]
            returning_from_unhappy_path=returning_from_unhappy_path_from_text,
            is_end_to_end_prediction=True,
        )
    rules_action_name_from_intent, prediction_source_from_intent, returning_from_unhappy_path_from_intent = (
        _find_action_from_rules(policy, tracker, False, last, every)
    )
    if rules_action_name_from_intent:
        probabilities = policy._prediction_result(rules_action_name_from_intent, tracker, domain)
    else:
        probabilities = policy._default_predictions(domain)
    return policy._rule_prediction(
        probabilities,
        prediction_source_from_intent,  # type: ignore[arg-type]
        returning_from_unhappy_path=(returning_from_unhappy_path_from_text or returning_from_unhappy_path_from_intent),
        is_end_to_end_prediction=False,
    )


# Action server calls -----------------------------------------------------------------------------


# A session this long (events) goes to an action server that takes it with only its new events.
DELTA_MIN_EVENTS = 100


def _encoded_call(
    action: RemoteAction,
    tracker: DialogueStateTracker,
    domain: Domain,
    line: Line,
    base: int | None = None,
    marked: bool = False,
) -> bytes:
    """The body RemoteAction.run sends (json.dumps of RemoteAction._action_call_format(), UTF-8, as
    aiohttp encodes ``json=``), with the stored events' JSON taken from the line. ``marked`` adds
    the history's id (``bot_events_line``), ``base`` also leaves out the events before it
    (``bot_events_base``): bot.rasa_ext.action_events turns both back into that body."""
    import rasa
    from rasa.shared.core.trackers import EventVerbosity

    dumps = json.dumps
    count = len(tracker.events)
    state = tracker.current_state(EventVerbosity.NONE)  # the same keys, in the same order, "events": None
    encoded_state = ", ".join(
        f"{dumps(key)}: {line.encoded_events(count, base or 0) if key == 'events' else dumps(value)}"
        for key, value in state.items()
    )
    body = (
        f'{{"next_action": {dumps(action._name)}, "sender_id": {dumps(tracker.sender_id)}, '
        f'"tracker": {{{encoded_state}}}, "version": {dumps(rasa.__version__)}'
    )
    if not action._is_selective_domain_enabled() or domain.does_custom_action_explicitly_need_domain(action.name()):
        body += f', "domain": {dumps(domain.as_dict())}'
    if marked or base is not None:
        body += f', "bot_events_line": {dumps(line.id)}'
    if base is not None:
        body += f', "bot_events_base": {base}'
    return (body + "}").encode("utf-8")


_DELTA_SERVERS: dict[str, tuple[bool, float]] = {}


async def _takes_new_events_only(endpoint: EndpointConfig) -> bool:
    """Whether the action server says it takes calls with only new events (asked once a minute
    at most, until it says yes)."""
    known = _DELTA_SERVERS.get(endpoint.url)
    if known is not None and (known[0] or time.monotonic() - known[1] < 60):
        return known[0]
    try:
        answer = await endpoint.request(method="get", subpath="events-delta", timeout=2)
        takes = isinstance(answer, dict) and answer.get("events_delta") == 1
    except Exception:  # noqa: BLE001 - rasa_sdk's own server (404), none, or a timeout: whole calls
        takes = False
    _DELTA_SERVERS[endpoint.url] = (takes, time.monotonic())
    return takes


def remote_action_run_replacement(original: Callable[..., Any]) -> Callable[..., Any]:
    """RemoteAction.run as in Rasa 3.6.21, sending the body from _encoded_call (``data=`` instead of
    ``json=``: the same bytes and headers) when the tracker has a line and no plugin rewrites it."""
    import aiohttp
    from rasa.core.actions.action import ActionExecutionRejection
    from rasa.core.constants import (
        COMPRESS_ACTION_SERVER_REQUEST_ENV_NAME,
        DEFAULT_COMPRESS_ACTION_SERVER_REQUEST,
        DEFAULT_REQUEST_TIMEOUT,
    )
    from rasa.plugin import plugin_manager
    from rasa.shared.constants import DOCS_BASE_URL
    from rasa.shared.core import events
    from rasa.shared.exceptions import RasaException
    from rasa.utils.common import get_bool_env_variable
    from rasa.utils.endpoints import ClientResponseError

    action_logger = logging.getLogger("rasa.core.actions.action")

    async def run(
        self: RemoteAction, output_channel: Any, nlg: Any, tracker: DialogueStateTracker, domain: Domain
    ) -> list[Event]:
        endpoint = self.action_endpoint
        delta = (
            endpoint is not None and len(tracker.events) >= DELTA_MIN_EVENTS and await _takes_new_events_only(endpoint)
        )
        line = line_for(tracker)  # after the await: nothing below waits until the body is built
        manager = plugin_manager()
        if (
            line is None
            or manager.hook.prefix_stripping_for_custom_actions.get_hookimpls()
            or manager.hook.prefixing_custom_actions_response.get_hookimpls()
        ):
            return await original(self, output_channel, nlg, tracker, domain)  # type: ignore[no-any-return]
        with line.lock:
            base = line.sent.get(endpoint.url) if delta and endpoint is not None else None
            if base is not None and base > len(tracker.events):
                base = None
            body = _encoded_call(self, tracker, domain, line, base, marked=delta)
            held = min(line.settled, len(tracker.events))  # what the server holds for good after this call
        if not self.action_endpoint:
            raise RasaException(
                f"Failed to execute custom action '{self.name()}' "
                f"because no endpoint is configured to run this "
                f"custom action. Please take a look at "
                f"the docs and set an endpoint configuration via the "
                f"--endpoints flag. "
                f"{DOCS_BASE_URL}/custom-actions"
            )

        try:
            action_logger.debug(f"Calling action endpoint to run action '{self.name()}'.")

            should_compress = get_bool_env_variable(
                COMPRESS_ACTION_SERVER_REQUEST_ENV_NAME,
                DEFAULT_COMPRESS_ACTION_SERVER_REQUEST,
            )
            try:
                response: Any = await self.action_endpoint.request(
                    data=body,
                    method="post",
                    timeout=DEFAULT_REQUEST_TIMEOUT,
                    compress=should_compress,
                )
            except ClientResponseError as e:
                if e.status != 409 or base is None:
                    raise
                # the server does not hold this history (restarted, another worker): the whole call
                with line.lock:
                    body = _encoded_call(self, tracker, domain, line, None, marked=True)
                response = await self.action_endpoint.request(
                    data=body,
                    method="post",
                    timeout=DEFAULT_REQUEST_TIMEOUT,
                    compress=should_compress,
                )
            if delta:
                line.sent[self.action_endpoint.url] = held
            self._validate_action_result(response)

            events_json = response.get("events", [])
            responses = response.get("responses", [])
            bot_messages = await self._utter_responses(responses, output_channel, nlg, tracker)

            evts = events.deserialise_events(events_json)
            return bot_messages + evts  # type: ignore[no-any-return]

        except ClientResponseError as e:
            if e.status == 400:
                response_data = json.loads(e.text)
                exception = ActionExecutionRejection(response_data["action_name"], response_data.get("error"))
                action_logger.error(exception.message)
                raise exception  # noqa: B904 - raised as Rasa raises it
            else:
                raise RasaException(f"Failed to execute custom action '{self.name()}'") from e

        except aiohttp.ClientConnectionError as e:
            action_logger.error(
                f"Failed to run custom action '{self.name()}'. Couldn't connect "
                f"to the server at '{self.action_endpoint.url}'. "
                f"Is the server running? "
                f"Error: {e}"
            )
            raise RasaException(  # noqa: B904 - raised as Rasa raises it
                f"Failed to execute custom action '{self.name()}'. Couldn't connect "
                f"to the server at '{self.action_endpoint.url}."
            )

        except aiohttp.ClientError as e:
            status = getattr(e, "status", None)
            raise RasaException(  # noqa: B904 - raised as Rasa raises it
                f"Failed to run custom action '{self.name()}'. Action server "
                f"responded with a non 200 status code of {status}. "
                "Make sure your action server properly runs actions "
                "and returns a 200 once the action is executed. "
                f"Error: {e}"
            )

    run.__doc__ = original.__doc__
    return run


# Tracker stores ---------------------------------------------------------------------------------


class _Memos:
    """A store's recently saved conversations, oldest first, bounded in events and idle time."""

    def __init__(self, max_events: int = MEMO_EVENTS, max_seconds: float = MEMO_SECONDS) -> None:
        self.entries: OrderedDict[str, Any] = OrderedDict()
        self.events = 0
        self.max_events = max_events
        self.max_seconds = max_seconds

    def put(self, key: str, memo: Any, size: int, now: float) -> list[tuple[str, Any]]:
        """Keep ``memo``; returns the memos that had to go (oldest first)."""
        self.pop(key)
        self.entries[key] = (memo, size, now)
        self.events += size
        gone = []
        while self.entries:
            oldest, (old, old_size, at) = next(iter(self.entries.items()))
            if self.events <= self.max_events and now - at <= self.max_seconds:
                break
            del self.entries[oldest]
            self.events -= old_size
            gone.append((oldest, old))
        return gone

    def get(self, key: str) -> Any:
        found = self.entries.get(key)
        return found[0] if found else None

    def pop(self, key: str) -> Any:
        found = self.entries.pop(key, None)
        if found is None:
            return None
        self.events -= found[1]
        return found[0]


class _Saved:
    """A conversation as InMemoryTrackerStore holds it, as objects: every event saved, the state a
    replay of them leaves (what its retrieve rebuilds), and when the events hold more than one
    session, where the last one starts, its own line and the state updating a new tracker with
    its events leaves (what its retrieve returns then)."""

    __slots__ = ("events", "line", "state", "session")

    def __init__(
        self,
        events: tuple[Event, ...],
        line: Line,
        state: _Captured,
        session: tuple[int, Line, _Captured] | None,
    ) -> None:
        self.events = events
        self.line = line
        self.state = state
        self.session = session


def _memos(store: Any) -> _Memos:
    memos: _Memos | None = store.__dict__.get("_bot_memos")
    if memos is None:
        memos = store.__dict__["_bot_memos"] = _Memos()
    return memos


def in_memory_save_replacement(original: Callable[..., Any]) -> Callable[..., Any]:
    async def save(self: InMemoryTrackerStore, tracker: DialogueStateTracker) -> None:
        """Updates and saves the current conversation state."""
        await self.stream_events(tracker)
        saved = _saved(tracker)
        memos = _memos(self)
        if saved is None:
            memos.pop(tracker.sender_id)
            self.store[tracker.sender_id] = self.serialise_tracker(tracker)
            return
        _keep(self, tracker.sender_id, saved)

    return save


def _keep(store: InMemoryTrackerStore, sender_id: str, saved: _Saved) -> None:
    """Hold a conversation as objects; the ones that no longer fit go back to the store's own format."""
    store.store[sender_id] = saved  # type: ignore[assignment]
    for other, old in _memos(store).put(sender_id, saved, len(saved.events), time.monotonic()):
        if store.store.get(other) is old:
            store.store[other] = _serialised_saved(other, old)


def _saved(tracker: DialogueStateTracker) -> _Saved | None:
    """What InMemoryTrackerStore's retrieve would rebuild from the tracker, or None."""
    line = line_for(tracker)
    if line is None:
        line = Line.of(tracker)
        if line is None:
            return None
        attach(tracker, line, len(tracker.events))
    return _saved_line(tracker, tuple(tracker.events), line)


def _revived(store: InMemoryTrackerStore, sender_id: str, serialised: str) -> _Saved | None:
    """A conversation the store holds in its own format (saved before this process kept it as objects,
    or gone back to that format), as objects: its events decoded as deserialise_tracker() decodes
    them and followed once by a line, instead of a replay by the store now and a derivation of the
    whole session for every prediction of the message (a returning customer's first message)."""
    from rasa.shared.core.conversation import Dialogue

    try:
        events = tuple(Dialogue.from_parameters(json.loads(serialised)).events)
    except Exception:  # noqa: BLE001 - the store's own retrieve raises what it raises
        return None
    prototype = store.init_tracker(sender_id)
    line = Line.of(prototype, events)
    if line is None:
        return None
    return _saved_line(prototype, events, line)


def _saved_line(prototype: DialogueStateTracker, events: tuple[Event, ...], line: Line) -> _Saved | None:
    """The _Saved of ``events``, which ``line`` follows (the prototype gives the slots they start from)."""
    line.settle(len(events))
    session = None
    if line.session_start > 0:
        # get_trackers_for_conversation_sessions: the last session, DialogueStateTracker.from_events
        start = line.session_start
        last = Line.of(prototype, events[start:])
        if last is None:
            return None
        last.settle(len(events) - start)
        session = (start, last, last.update_state())
    return _Saved(events, line, line.replay_state(), session)


def _serialised_saved(sender_id: str, saved: _Saved) -> str:
    """_serialised(sender_id, saved.events), from the JSON of each event its line keeps (the line
    encoded them for action calls); the same text: json.dumps joins list items with ", "."""
    line, events = saved.line, saved.events
    if not events or len(line.events) < len(events) or line.events[len(events) - 1] is not events[-1]:
        return _serialised(sender_id, events)
    return f'{{"events": {line.encoded_events(len(events))}, "name": {json.dumps(sender_id)}}}'


def _serialised(sender_id: str, events: Iterable[Event]) -> str:
    # SerializedTrackerAsText.serialise_tracker: json.dumps(Dialogue(sender_id, events).as_dict())
    from rasa.shared.core.conversation import Dialogue

    return json.dumps(Dialogue(sender_id, list(events)).as_dict())


def in_memory_retrieve_replacement(original: Callable[..., Any]) -> Callable[..., Any]:
    from rasa.shared.core.trackers import DialogueStateTracker

    async def _retrieve(
        self: InMemoryTrackerStore, sender_id: str, fetch_all_sessions: bool
    ) -> DialogueStateTracker | None:
        saved = self.store.get(sender_id)
        if isinstance(saved, str):
            revived = _revived(self, sender_id, saved)
            if revived is not None:
                _keep(self, sender_id, revived)
                saved = revived
        if not isinstance(saved, _Saved):
            tracker = await original(self, sender_id, fetch_all_sessions)
            return tracker  # type: ignore[no-any-return]
        if saved.session is not None and not fetch_all_sessions:
            # the last session, as get_trackers_for_conversation_sessions() makes it
            start, line, state = saved.session
            tracker = DialogueStateTracker(sender_id, self.domain.slots, max_event_history=self.max_event_history)
            events: Iterable[Event] = saved.events[start:]
        else:
            # deserialise_tracker: init_tracker(), then recreate_from_dialogue() replays the events
            line, state, events = saved.line, saved.state, saved.events
            tracker = self.init_tracker(sender_id)
        if not fork(line, tracker, events, state):
            self.store[sender_id] = _serialised(sender_id, saved.events)
            _memos(self).pop(sender_id)
            return await original(self, sender_id, fetch_all_sessions)  # type: ignore[no-any-return]
        return tracker

    return _retrieve


class _RedisMemo:
    """The latest session of a conversation as RedisEventTrackerStore stored it: where it starts
    in the Redis list, the list's length and last element, its events and their state."""

    __slots__ = ("start", "length", "last", "events", "line", "state")

    def __init__(
        self, start: int, length: int, last: str, events: tuple[Event, ...], line: Line, state: _Captured
    ) -> None:
        self.start = start
        self.length = length
        self.last = last
        self.events = events
        self.line = line
        self.state = state


async def _redis_head(store: RedisEventTrackerStore, sender_id: str, since: int) -> tuple[int, int, list[str]]:
    """(session start, length, the elements from index ``since`` on) of a conversation's list, in
    one round trip."""
    events_key, session_key = store._keys(sender_id)
    pipe = store._client().pipeline(transaction=True)
    pipe.get(session_key)
    pipe.llen(events_key)
    pipe.lrange(events_key, since, -1)
    start, length, tail = await pipe.execute()
    return int(start or 0), int(length), tail


def _caught_up(
    store: RedisEventTrackerStore, memo: _RedisMemo, start: int, length: int, tail: list[str]
) -> DialogueStateTracker | None:
    """The tracker of a memo's session that another worker has added events to since (``tail``: the
    list from the memo's last element on): the memo's state updated with the new events, as
    DialogueStateTracker.from_events would leave it, and the line extended by them; None when the
    session is not the memo's one continued or the line cannot follow the new events."""
    from rasa.shared.core.events import deserialise_events

    if start != memo.start or length <= memo.length or not tail or tail[0] != memo.last:
        return None
    tracker = _redis_tracker(store, memo.line.sender_id)
    if not fork(memo.line, tracker, memo.events, memo.state):
        return None
    for event in deserialise_events([json.loads(e) for e in tail[1:]]):
        tracker.update(event)
    if line_for(tracker) is not memo.line:
        return None
    return tracker


def _redis_memo(start: int, length: int, last: str, events: tuple[Event, ...], line: Line) -> _RedisMemo:
    """The memo of a session's ``events``, which ``line`` follows, stored up to element ``length``."""
    line.settle(len(events))
    return _RedisMemo(start, length, last, events, line, line.update_state())


def redis_retrieve_replacement(original: Callable[..., Any]) -> Callable[..., Any]:
    async def retrieve(self: RedisEventTrackerStore, sender_id: str) -> DialogueStateTracker | None:
        memos = _memos(self)
        memo: _RedisMemo | None = memos.get(sender_id)
        if memo is not None:
            start, length, tail = await _redis_head(self, sender_id, memo.length - 1)
            if (start, length, tail) == (memo.start, memo.length, [memo.last]):
                tracker = _redis_tracker(self, sender_id)
                if fork(memo.line, tracker, memo.events, memo.state):
                    return tracker
            # another worker answered this conversation since: only its new events are read
            caught_up = _caught_up(self, memo, start, length, tail)
            if caught_up is not None:
                new = _redis_memo(start, length, tail[-1], tuple(caught_up.events), memo.line)
                memos.put(sender_id, new, len(new.events), time.monotonic())
                return caught_up
        memos.pop(sender_id)
        # the store's own read (one round trip), remembered for the next message
        start, length, raw = await self._read(sender_id, "latest")
        if raw:
            # followed once by a line, instead of a replay now and a derivation of the whole
            # session for every prediction of the message (a returning customer's first message)
            revived = _redis_revived(self, sender_id, start, length, raw)
            if revived is not None:
                tracker = _redis_tracker(self, sender_id)
                if fork(revived.line, tracker, revived.events, revived.state):
                    memos.put(sender_id, revived, len(revived.events), time.monotonic())
                    return tracker
        # events or slots a line cannot follow: the store's own tracker, nothing remembered
        return self._tracker(sender_id, raw)

    retrieve.__doc__ = original.__doc__
    return retrieve


def _redis_revived(
    store: RedisEventTrackerStore, sender_id: str, start: int, length: int, raw: list[str]
) -> _RedisMemo | None:
    """The memo of a session read from Redis: its events decoded as _tracker() decodes them
    (DialogueStateTracker.from_dict), followed by a line from the slots it starts with."""
    from rasa.shared.core.events import deserialise_events

    events = tuple(deserialise_events([json.loads(e) for e in raw]))
    line = Line.of(_redis_tracker(store, sender_id), events)
    return None if line is None else _redis_memo(start, length, raw[-1], events, line)


def _redis_tracker(store: RedisEventTrackerStore, sender_id: str) -> DialogueStateTracker:
    # what _tracker() starts from: DialogueStateTracker.from_dict(sender_id, events, domain.slots)
    from rasa.shared.core.trackers import DialogueStateTracker

    return DialogueStateTracker(sender_id, store.domain.slots)


def redis_save_replacement(original: Callable[..., Any]) -> Callable[..., Any]:
    """RedisEventTrackerStore.save, remembering what it stored."""
    from bot.rasa_ext.tracker_store import _starts_session

    async def save(self: RedisEventTrackerStore, tracker: DialogueStateTracker) -> None:
        memos = _memos(self)
        await self.stream_events(tracker)  # reads the conversation (from the memo, when it still holds)
        memo: _RedisMemo | None = memos.pop(tracker.sender_id)
        events_key, session_key = self._keys(tracker.sender_id)
        start, length, _ = await self._read(tracker.sender_id, "count")
        events = tracker.events
        new = list(itertools.islice(events, max(0, length - start), None))
        pipe = self._client().pipeline(transaction=True)
        encoded = [json.dumps(e.as_dict()) for e in new]
        if new:
            pipe.rpush(events_key, *encoded)
            starts = [length + k for k, e in enumerate(new) if _starts_session(e)]
            if starts:
                pipe.set(session_key, starts[-1])
        if self.record_exp:
            pipe.expire(events_key, self.record_exp)
            pipe.expire(session_key, self.record_exp)
        await pipe.execute()
        # Remember the session only when the list holds exactly this tracker's events from the
        # session start on: the same start and length as when this process last read or wrote
        # it, and this tracker holds those events and then the new ones.
        line = line_for(tracker)
        if memo is not None and not encoded and (start, length) == (memo.start, memo.length):
            memos.put(tracker.sender_id, memo, len(memo.events), time.monotonic())  # nothing new was stored
            return
        if (
            memo is None
            or line is None
            or not encoded
            or (start, length) != (memo.start, memo.length)
            or line is not memo.line
            or len(events) != length - start + len(new)
            or any(_starts_session(e) for e in new)
        ):
            return
        memos.put(
            tracker.sender_id,
            _redis_memo(start, length + len(new), encoded[-1], tuple(events), line),
            len(events),
            time.monotonic(),
        )

    save.__doc__ = original.__doc__
    return save


def install(originals: dict[str, Callable[..., Any]]) -> None:
    """Put the replacements into Rasa (called by speedups.install(), after its checks)."""
    global _ORIGINAL_APPLIED_EVENTS
    from rasa.core.actions.action import RemoteAction
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.rasa_ext.tracker_store import RedisEventTrackerStore

    _ORIGINAL_APPLIED_EVENTS = originals["rasa.shared.core.trackers:DialogueStateTracker.applied_events"]
    DialogueStateTracker.applied_events = applied_events_replacement(  # type: ignore[method-assign]
        _ORIGINAL_APPLIED_EVENTS
    )
    DialogueStateTracker.copy = copy_replacement(  # type: ignore[method-assign]
        originals["rasa.shared.core.trackers:DialogueStateTracker.copy"]
    )
    RulePolicy.predict_action_probabilities = rule_prediction_replacement(  # type: ignore[method-assign]
        originals["rasa.core.policies.rule_policy:RulePolicy.predict_action_probabilities"]
    )
    InMemoryTrackerStore.save = in_memory_save_replacement(  # type: ignore[method-assign]
        originals["rasa.core.tracker_store:InMemoryTrackerStore.save"]
    )
    InMemoryTrackerStore._retrieve = in_memory_retrieve_replacement(  # type: ignore[method-assign]
        originals["rasa.core.tracker_store:InMemoryTrackerStore._retrieve"]
    )
    RedisEventTrackerStore.retrieve = redis_retrieve_replacement(  # type: ignore[method-assign]
        originals["bot.rasa_ext.tracker_store:RedisEventTrackerStore.retrieve"]
    )
    RedisEventTrackerStore.save = redis_save_replacement(  # type: ignore[method-assign]
        originals["bot.rasa_ext.tracker_store:RedisEventTrackerStore.save"]
    )
    RemoteAction.run = remote_action_run_replacement(  # type: ignore[method-assign]
        originals["rasa.core.actions.action:RemoteAction.run"]
    )
