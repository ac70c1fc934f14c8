"""Hot spots of Rasa 3.6's message loop, replaced by equivalents that do the work once.

Profiling the server under the benchmark's load (README, "Performance") found work that
gives the same answer on every message; together these replacements took a message from
19.9 to 9.4 ms in one process (``python bench/profile_turns.py [--stock]``):

- ``RemoteAction._validate_action_result`` calls ``jsonschema.validate``, which checks the
  *schema* itself (a large meta-schema walk) before checking the action server's reply:
  13.7 ms per custom action call on this machine, 0.2 ms with a kept validator (measured
  with a one-event reply, outside the server). We check the schema once and keep the
  validator; replies are validated exactly as before (same schema, same errors).
- ``Event.resolve_by_type`` walks every subclass of ``Event`` (with ``inspect.isabstract``)
  for each event it deserialises, i.e. for every event of a conversation on every message
  the tracker store loads. We remember the class found for each type name; unknown names
  behave as before (``default`` or ``ValueError``).

- ``EndpointConfig.request`` opens a new HTTP session (through ``EndpointConfig.session``),
  and so a new TCP connection, for every call to the action server. We replace
  ``session()`` to hand out one shared session per event loop and session settings (headers,
  basic auth), with keep-alive connections recycled after 2 s (below Sanic's 5 s keep-alive,
  so a connection the action server is about to close is not reused). The sessions hang off
  the loop itself, so a discarded loop takes its sessions with it; ``close_sessions()``
  closes the running loop's sessions and belongs in the server's ``after_server_stop``.

- Every prediction runs the model graph through ``dask.get``, which rebuilds and schedules
  a task graph on each call. The graph is a small fixed pipeline; ``sequential_runner_class()``
  runs the same nodes in a cached dependency order, one after the other, as dask's
  synchronous scheduler does.

- Rasa derives everything it knows about a conversation from all of the session's events, several
  times per message (the tracker store's read and write, ``applied_events``, ``copy`` before each
  action, RulePolicy's states, the action server's payload), so message 500 of a session cost
  17 times message 5. ``bot.rasa_ext.state_cache`` keeps those derivations per conversation and
  extends them with each new event; the action server gets only a long session's new events
  (``bot.rasa_ext.action_events`` puts the rest back). Its module docstring has the details;
  ``tests/integration/test_speedups_equivalence.py`` replays recorded and generated
  conversations through Rasa as shipped and through these and compares every prediction and
  event.

The replacements are equivalent only to the Rasa they were written against, so ``install()``
replaces nothing, and logs one warning, unless Rasa is version ``RASA_VERSION`` and the source
of every Rasa function they replace, copy or rely on (and of this project's tracker store methods
that state_cache replaces) still has the sha256 recorded in ``FINGERPRINTS``
(``tests/unit/test_speedups.py`` fails, naming the function, when it has not).

``install()`` is idempotent; the in-app channel and the NLU components call it, so every
Rasa worker process has it before its first message. ``BOT_RASA_SPEEDUPS=off`` (the
``rasa_speedups`` setting) leaves Rasa as shipped (the benchmark's stock baseline uses it; so
could anyone who suspects them).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib
import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.rasa_ext import state_cache
from bot.settings import get_settings

if TYPE_CHECKING:
    import aiohttp
    from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

RASA_VERSION = "3.6.21"

# sha256 of inspect.getsource() of each Rasa function install() replaces, or whose behaviour
# a replacement copies or relies on, in Rasa 3.6.21 as installed from PyPI ("module:qualname"),
# and of this project's functions that state_cache replaces (a change there must be re-checked too).
FINGERPRINTS: dict[str, str] = {
    # replaced
    "rasa.core.actions.action:RemoteAction._validate_action_result": (
        "f8cdb4be6812396167ced74161b2ccd65c5ea676ad86d7d359d8c322d9d8dc42"
    ),
    # compiled once into the kept validator, so it must be a constant
    "rasa.core.actions.action:RemoteAction.action_response_format_spec": (
        "091b74aa3738d1262cf3c028386aaf9dd4f0d5c1374b62392411d70a79104a46"
    ),
    # replaced; its answers are cached, so it must depend on the type name alone
    "rasa.shared.core.events:Event.resolve_by_type": "b5cf570fa7f286c7059ec73d8880528d03a78b28cf4e80285a46079c0fa65968",
    # replaced by the shared session
    "rasa.utils.endpoints:EndpointConfig.session": "e55aa13d9d4fb4bc440ac33b870a97ee162b76dda7ccb6bf68433567475fdffb",
    # must use session() only as ``async with`` and never close it itself
    "rasa.utils.endpoints:EndpointConfig.request": "ccdb778aed8208e23cde3c3f47eac7fbbbb735dac8f7ef7254d54451c64ad608",
    # the only reader of rasa.core.processor.DaskGraphRunner, which we rebind
    "rasa.core.processor:MessageProcessor._load_model": "17f24faf96817bdf63af426fcbf3e2d830731a801573e448c070fc0ebb396ad2",
    # SequentialGraphRunner inherits __init__ and re-implements the other three
    "rasa.engine.runner.dask:DaskGraphRunner.__init__": "29f069a010bd16a54bce609b8a31f757b2af90f2cb9c1c85b62ffbd27f104284",
    "rasa.engine.runner.dask:DaskGraphRunner.run": "45f0f52f574f3aa9546a552bf671183e171092c18b66e97f5771a7fa295de37e",
    "rasa.engine.runner.dask:DaskGraphRunner._build_dask_graph": (
        "5bb99f974d512a36acb61caaf77aafc851b90c04ce4d02c262f230c75086cbee"
    ),
    "rasa.engine.runner.dask:DaskGraphRunner._add_inputs_to_graph": (
        "d04a0ca2df6241c16997b89d63e2ca89cd1d43bd5f9920843a2a86cb4286ac73"
    ),
    # replaced by bot.rasa_ext.state_cache (a conversation's derivations, extended event by event)
    "rasa.shared.core.trackers:DialogueStateTracker.applied_events": (
        "764d5065ea9997d613c1984d9357370f9ae32d31ca21346086f16c54f0487aae"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker.copy": (
        "dfa48dca9f355ad1b42c625bc6f6370bafe83514ed17a77904ed64c67bf07285"
    ),
    "rasa.core.policies.rule_policy:RulePolicy.predict_action_probabilities": (
        "301c6695cd5011b41d997d450b759927a1c8c0c510687352c3daf3eb98e616af"
    ),
    "rasa.core.tracker_store:InMemoryTrackerStore.save": (
        "d128bca835ee3e18679895d33f773edb851bad45b799af4e923d2e93b367ce45"
    ),
    "rasa.core.tracker_store:InMemoryTrackerStore._retrieve": (
        "1013b39d45f762fe3087be6cd91ae583fd70b0555368ad48591ada92296f4d8b"
    ),
    "bot.rasa_ext.tracker_store:RedisEventTrackerStore.retrieve": (
        "b205d99e6c11ba4725e45a2faf0e09ad0a880992904686b493108785bfdaeee6"
    ),
    "bot.rasa_ext.tracker_store:RedisEventTrackerStore.save": (
        "1a4e5a72ebc86b123f962c77b3d7bf278c19cd0e056ca4cb112e24b2bbceef8b"
    ),
    # state_cache replays with these, copies what they do, or relies on what they do not do: the
    # tracker state that events set (and nothing else), the applied-events rules, the session split
    "rasa.shared.core.trackers:DialogueStateTracker.__init__": (
        "8f39eb22462aa62b140d9da1f6db986cbc76383d8f7cc4e3dc7664fa7d84cb2d"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker._reset": (
        "190858eaf560a0c0a86f45dca86498f8a9fada57ddb6c7dd1e68648c9779e103"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker._reset_slots": (
        "684656f977ba992830ff8abf147a7ad6de850ccac15249e7daeb6d87ab5cb058"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker.init_copy": (
        "429fcd2243b9e0e1a6e8ffc3057a4f2fb4ecbb677055c644129bc65b6cd32b75"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker.travel_back_in_time": (
        "09d16f28f007492f653b504cf2b6064dc453444c524799378609a85b04efd632"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker.update": (
        "b55e6b1c724fa6e916399f81ea51dd5600ad6702f0b172923a83ca84bc23c668"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker.replay_events": (
        "bc748b5c6f9cf0f882671496e3bcc6a553f46aa5d1fd76a1fd33642ab30f7bc7"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker.recreate_from_dialogue": (
        "af979effecf9bffc7e1a8f3f6530b08fb0ad9618488a0a7456575026ddfd164f"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker.from_events": (
        "820a9cbb7dd5ce34a71b4301469f81f00754683952fd7b306f46ea46a400eb62"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker.from_dict": (
        "4960bd6a26b53fc8d011e492366fbc23fda3d6b5d635066cccbe48b406a1918c"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker.generate_all_prior_trackers": (
        "a1f6954347b52649a7b1054741338997d2369197d91acb2eab7f6b11d3855ed1"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker._undo_till_previous": (
        "3a3710e5e73cb945e7a1f529851b5c858b46ba139d2f651428a93ada196df9ae"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker._first_loop_execution_or_unhappy_path": (
        "b67fe33e30d9b68cfde38e3de0027a26a599eb5bba14e4109830301285a06ce2"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker._is_within_unhappy_path": (
        "56754b9201f1d3636bf88e5fd07f1f4981b9852a33a2aed2e784e99915e7ac5e"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker._undo_till_previous_loop_execution": (
        "7ecfe12cccb398143f46d61275ba7130d18b1aba3a85f8de47c22756dc81a73c"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker.set_latest_action": (
        "1d9d538f40ff5cc08bc1b386685aae05e76738d7f0772ae2ab4568838655b697"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker.change_loop_to": (
        "d7ad788e9750bae49815c1450839ada3452f5193d4e25fe6418160432c0b8d81"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker.interrupt_loop": (
        "d0a0409eb7a64abb43244c9263cf54a6cae9eddd24f2cc68cee0e6e71be69c19"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker.reject_action": (
        "d650eedddd2ab3570107169a8a1f26bad1656006a48e800e80843dba09e78bfa"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker._set_slot": (
        "c3c88baddc3c5ea6c37900585f73c4485426770cea859f0c9e07d236795c1d7f"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker.trigger_followup_action": (
        "312ce0b846bfafa7da113dd53d48106a01c6d941ebff6d10748596faee045600"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker.clear_followup_action": (
        "7e7f684fcc7b1a130ff9c36fa627de3c452b71124f0bb988cd66d0cdfa507e7e"
    ),
    "rasa.shared.core.trackers:get_trackers_for_conversation_sessions": (
        "95313db4e1291bcb0de549d16e4498c2c66fb1f442ec0a576fc67f4b241a8819"
    ),
    "rasa.shared.core.trackers:TrackerEventDiffEngine.event_difference": (
        "302258882d5f0d276240a8c9458714d92dd7602779653c7edc61dbffab7de8b2"
    ),
    "rasa.shared.core.trackers:TrackerActiveLoop": ("e1a0da31eeaaa106ad023954f752741c18f014351d265e2eb5643a7bdb39cf77"),
    "rasa.shared.core.events:split_events": ("89285e7165c2833dd964211289882de2cac3909ea26cff52fb94fc932c37f156"),
    "rasa.shared.core.events:Event.apply_to": ("81e024192d4fd69894741f021f8b5221c6daf37e100b96b8b88ae6139c723e0b"),
    "rasa.shared.core.events:UserUttered.apply_to": (
        "617d53d3802952b7726878c3a4fece410c19bf4fbabb6a5115db8f1ffc646d0e"
    ),
    "rasa.shared.core.events:DefinePrevUserUtteredFeaturization.apply_to": (
        "260e4a37a1056d9d2a40dd0b02a4117baddc23b1cf019a6a213c5e6b26bf8b67"
    ),
    "rasa.shared.core.events:EntitiesAdded.apply_to": (
        "b4d7905cab82faad1182ec1321e64249f9955d197c5d250cbfa97cfc08ac9ace"
    ),
    "rasa.shared.core.events:BotUttered.apply_to": ("2568769ad3acbb8ee26fa39e992cc21f9f3144116da75b3cf40bfbe4d754c1eb"),
    "rasa.shared.core.events:SlotSet.apply_to": ("6de252a6d862ee478f9109b43fff24dc228af1fa0d4f21031fa9fcd7f142dcce"),
    "rasa.shared.core.events:Restarted.apply_to": ("ec4d9c43054a93035522632be669efa98038ec2d178638c0c4c550afe1078829"),
    "rasa.shared.core.events:UserUtteranceReverted.apply_to": (
        "0b1487faed78791293f41f89f58a99f6c5751e4caac0ffed348c411e43bbc87c"
    ),
    "rasa.shared.core.events:AllSlotsReset.apply_to": (
        "b1d408d40aefe929afd00a14c4250635be909b3f86e2345330f9e08cc3627b0b"
    ),
    "rasa.shared.core.events:ActionReverted.apply_to": (
        "0b1487faed78791293f41f89f58a99f6c5751e4caac0ffed348c411e43bbc87c"
    ),
    "rasa.shared.core.events:FollowupAction.apply_to": (
        "9c670b45b765b0e047850543a95c6a459998c13b7c10b332ab81d89337993d97"
    ),
    "rasa.shared.core.events:ConversationPaused.apply_to": (
        "0a7da5217ebc26014431503f4df410790e25126928edce576dfcc79a6ce4a7c5"
    ),
    "rasa.shared.core.events:ConversationResumed.apply_to": (
        "a2e52636e3448eb73be913253515a2aa86816412c7dfe7c89d2b6b52c4bdcd19"
    ),
    "rasa.shared.core.events:ActionExecuted.apply_to": (
        "c12dc00965af1844232bba17101ddc78e505682cd1180b99cd4e2cdf5ceb7445"
    ),
    "rasa.shared.core.events:ActiveLoop.apply_to": ("b2d976f828fc2fd9942546522d963026a24210b0310537a7d0212cc0c3eb1f3c"),
    "rasa.shared.core.events:LoopInterrupted.apply_to": (
        "5facda1d30ddd231168aaa284d78f100239d5a6c8fffe956692145f83c9d059f"
    ),
    "rasa.shared.core.events:ActionExecutionRejected.apply_to": (
        "26fa7feb9672866162cf7f57646d3e71706ed57be931958a79cc8270ffaf2f52"
    ),
    "rasa.shared.core.events:SessionStarted.apply_to": (
        "3194704944b4f94556596cd7e9c21dbca61c23da600d87c501084bcd6f4a120b"
    ),
    "rasa.shared.core.slots:Slot.__init__": ("54ca1ec6b580be6d21a183b19a7a9d7593dfa11c3cd9886d088e164d74c2becf"),
    "rasa.shared.core.slots:Slot.reset": ("d07c43c6ea6539e18e1ccb58e686fcda3bf114a7356df9f954f20f2dc277f585"),
    # the states RulePolicy predicts from, and its prediction (copied into state_cache._predict)
    "rasa.shared.core.domain:Domain.states_for_tracker_history": (
        "035111ce73ac90ba50e143abf556f924af07d9f452893f5a96a62895d44df8b7"
    ),
    "rasa.shared.core.domain:Domain.get_active_state": (
        "5a4a505743120441541f40f1fdf65ea109983e3f7274610e47ca340167309418"
    ),
    "rasa.shared.core.domain:Domain._clean_state": ("8923165d0e7231abdaa449936c2d25e0e86a320eb7f2d0f17b931e2c08454afe"),
    "rasa.core.policies.rule_policy:RulePolicy.supported_data": (
        "0b56dcc449720d2f02e5f5a6565a1a63b1f494c5dca4b07648295fcf84daf2d4"
    ),
    "rasa.core.policies.rule_policy:RulePolicy._predict": (
        "f5182d8a10639e14d2643795210767a17fc4c8b5c2852b946f41c6c9f1a8a4e0"
    ),
    "rasa.core.policies.rule_policy:RulePolicy._find_action_from_rules": (
        "be6da6ee0f5429bd9bbded9f22186f3729469e5b392949493fd34a00ef9531d9"
    ),
    "rasa.core.policies.rule_policy:RulePolicy._get_possible_keys": (
        "2915fd81711e194c6d667728e00bd0e51e9c1c2791a0be14c55f0ef9938f9936"
    ),
    "rasa.core.policies.rule_policy:RulePolicy._is_rule_applicable": (
        "64a108b016b46e573d6020b755a6036439dc207a364b45c9ea5dcb0f18dc7068"
    ),
    "rasa.core.policies.rule_policy:RulePolicy._create_feature_key": (
        "641eda8d019918ce3001989a2b64c1d32281ede2fd2f68a4e17693a3c47c4e71"
    ),
    "rasa.core.policies.rule_policy:RulePolicy._is_rule_snippet_state": (
        "ff72c5ec56ca5b1729b9fddd6b7fc44674da203e448e004599ace6da14a47ec4"
    ),
    "rasa.core.policies.rule_policy:RulePolicy._rule_prediction": (
        "90316ddf7eb4b3140d45f21e51ca072c212ba28329077d99cb618191456f273f"
    ),
    "rasa.core.policies.policy:Policy._prediction_states": (
        "ed9b82bed2f26ad7a0de61709e02339983912bece614191089c3adba60cf1452"
    ),
    "rasa.core.featurizers.tracker_featurizers:MaxHistoryTrackerFeaturizer.prediction_states": (
        "451caf09a389e8719ad4ee38eb97dfd10b4743cd3928f1f9569779394fd3462e"
    ),
    "rasa.core.featurizers.tracker_featurizers:MaxHistoryTrackerFeaturizer.slice_state_history": (
        "f90eb9f4789d2c104d5c471557bdefdb7746cc483b43e92c5d270a50f4e4f443"
    ),
    "rasa.core.featurizers.tracker_featurizers:TrackerFeaturizer._create_states": (
        "2fed265eee3bfa38bef58c41b618f4bc7cb68219a91c7b2b2488603403c5e86a"
    ),
    # replaced (the action server call, its body built from the events' JSON kept by state_cache)
    "rasa.core.actions.action:RemoteAction.run": ("ccabf6f1160d527a157fad5bd285ce69e8221b1bcad23f8a61499b4360a1c17e"),
    "rasa.core.actions.action:RemoteAction._action_call_format": (
        "428795b944f22edba142d278ec47a30098975b01463ba337ec447dade52a0492"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker.current_state": (
        "a9f1526ceddf7a2871ca65f0f664bec9b06546942cdb37ff020e87747608244c"
    ),
    "rasa.shared.core.trackers:DialogueStateTracker._events_for_verbosity": (
        "29302d57e28afac942637496c6eab1ece7948a5991c8c45e858d439da4538268"
    ),
    "rasa.shared.core.conversation:Dialogue.as_dict": (
        "fda5d8d9cb6a473573d7387e0589a61249a2d9803757219655ce0d20af326e66"
    ),
    # what the tracker stores' replacements answer as
    "rasa.core.tracker_store:TrackerStore.stream_events": (
        "efd3615f5340218a9edb4f386ed208d38f0d413d197eadc8b386d34fc8e4399c"
    ),
    "rasa.core.tracker_store:TrackerStore.init_tracker": (
        "2089b91e90d881a19791b340d58261835fb2fb8ed96cda89cd471f8571221a63"
    ),
    "rasa.core.tracker_store:TrackerStore.deserialise_tracker": (
        "66ba831c277f103b5d6bb55871d8162128e3e185ed62b37bd31cfd90aee7de47"
    ),
    "rasa.core.tracker_store:SerializedTrackerAsText.serialise_tracker": (
        "e969bf6dc6fe886d2e8370eec37dffbb36665bc65c46c6c3fd66569e82f206cc"
    ),
    "rasa.core.tracker_store:InMemoryTrackerStore.retrieve": (
        "6a793450a000cc8386a3b8bb9a1d9e1950a592c87e88ad96f0c1ca91150206c7"
    ),
    "rasa.core.tracker_store:InMemoryTrackerStore.retrieve_full_tracker": (
        "35126d6683c5e769e63332223b83edd25d8263c6df8b1d786d20626284873069"
    ),
    "bot.rasa_ext.tracker_store:RedisEventTrackerStore._read": (
        "78e800ff79309c9bcdfb77a48bf340cbf3add51e4cb2171cd444db2d3dd33f54"
    ),
    "bot.rasa_ext.tracker_store:RedisEventTrackerStore._tracker": (
        "d58c043d74eb82a7522e797367a9db816c99805ccb5d3c6012f063661495e827"
    ),
    "bot.rasa_ext.tracker_store:RedisEventTrackerStore._keys": (
        "e661036d1fab4e3612e8f2fb1adb0aad352043817594a1849504672298088bed"
    ),
}

_originals: dict[str, Callable[..., Any]] = {}
_installed = False
_refused = False


def rasa_originals() -> dict[str, Callable[..., Any]]:
    """The Rasa functions named in FINGERPRINTS as Rasa defines them, even after install()."""
    # Captured on first use, which install() makes before it replaces anything. A function
    # this Rasa does not have is left out (changed_rasa_functions() names it).
    if not _originals:
        for name in FINGERPRINTS:
            module, _, qualname = name.partition(":")
            try:
                found: Any = importlib.import_module(module)
                for part in qualname.split("."):
                    found = getattr(found, part)
            except (ImportError, AttributeError):
                continue
            _originals[name] = found
    return _originals


def fingerprint(function: Callable[..., Any]) -> str | None:
    """sha256 of a function's source, or None when its source cannot be read."""
    try:
        return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()
    except (OSError, TypeError):
        return None


def changed_rasa_functions() -> list[str]:
    """Names in FINGERPRINTS whose installed source is not the one the replacements were written for."""
    originals = rasa_originals()
    return [
        name for name, digest in FINGERPRINTS.items() if name not in originals or fingerprint(originals[name]) != digest
    ]


def _refusal() -> str | None:
    """Why the replacements must not go into this Rasa, or None when they may."""
    import rasa

    if rasa.__version__ != RASA_VERSION:
        return f"they were written for Rasa {RASA_VERSION}, this is Rasa {rasa.__version__}"
    changed = changed_rasa_functions()
    if changed:
        return f"they were written for Rasa {RASA_VERSION} and the source of {', '.join(changed)} differs from that version's"
    return None


def install() -> None:
    """Put the replacements into Rasa once per process, only into the Rasa they were written for."""
    global _installed, _refused
    if _installed or _refused or not get_settings().rasa_speedups:
        return
    refusal = _refusal()
    if refusal is not None:
        _refused = True  # one warning per process, though the channel and the NLU components both call us
        logger.warning("Rasa speedups not installed, Rasa runs as shipped: %s.", refusal)
        return
    originals = rasa_originals()
    _cache_action_response_validator()
    _cache_event_type_resolution(originals["rasa.shared.core.events:Event.resolve_by_type"])
    _reuse_action_server_connections(originals["rasa.utils.endpoints:EndpointConfig.session"])
    _run_graphs_sequentially()
    _freeze_after_model_load(originals["rasa.core.processor:MessageProcessor._load_model"])
    state_cache.install(originals)
    _installed = True


def _cache_action_response_validator() -> None:
    import jsonschema
    from jsonschema import ValidationError
    from rasa.core.actions.action import DOCS_BASE_URL, RemoteAction

    schema = RemoteAction.action_response_format_spec()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)

    def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        try:
            validator.validate(result)
            return True
        except ValidationError as e:  # the same message Rasa adds
            e.message += (
                f". Failed to validate Action server response from API, "
                f"make sure your response from the Action endpoint is valid. "
                f"For more information about the format visit "
                f"{DOCS_BASE_URL}/custom-actions"
            )
            raise e

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]


def _cache_event_type_resolution(original: Callable[..., type[Any] | None]) -> None:
    from rasa.shared.core.events import Event

    found: dict[str, type[Event]] = {}

    def resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
        cls = found.get(type_name)
        if cls is not None:
            return cls
        try:
            cls = original(type_name)
        except ValueError:
            if default is not None:
                return default
            raise
        if cls is not None:  # None only for the legacy "topic" events
            found[type_name] = cls
        return cls

    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign,assignment]


class _Borrowed:
    """``async with`` over a shared session without closing it afterwards."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(self, *exc: object) -> bool:
        return False


# The shared sessions live in a dict set on their event loop. Not in a module-level
# WeakKeyDictionary keyed on the loop: every ClientSession (and its connector) holds its loop,
# so such a dict's values would keep their own keys, and every loop, alive for good. Hung off
# the loop, the sessions are garbage together with the loop that no one else references.
_LOOP_SESSIONS = "_bot_rasa_endpoint_sessions"

_SessionKey = tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]


def _session_key(endpoint: EndpointConfig) -> _SessionKey:
    # Rasa builds an endpoint's session from its headers and basic auth alone, so endpoints that
    # agree on both can share one. Keying on the values rather than id(endpoint) means a new
    # endpoint at a recycled address never borrows another's credentials, and changed headers
    # get a new session.
    def items(mapping: dict[str, Any]) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((str(k), repr(v)) for k, v in mapping.items()))

    return items(endpoint.headers), items(endpoint.basic_auth)


def _loop_sessions(loop: asyncio.AbstractEventLoop) -> dict[_SessionKey, aiohttp.ClientSession] | None:
    """The shared sessions of an event loop, or None for a loop that takes no attributes."""
    sessions: dict[_SessionKey, aiohttp.ClientSession] | None = getattr(loop, _LOOP_SESSIONS, None)
    if sessions is None:
        sessions = {}
        try:
            setattr(loop, _LOOP_SESSIONS, sessions)
        except (AttributeError, TypeError):  # a loop class with __slots__ (not asyncio's, not uvloop's)
            return None
    return sessions


async def close_sessions() -> None:
    """Close the endpoint sessions shared on the running event loop (at server stop).

    Safe to call when install() has not run or nothing was sent; a request made afterwards on
    the same loop opens a new session.
    """
    sessions: dict[_SessionKey, aiohttp.ClientSession] | None = getattr(
        asyncio.get_running_loop(), _LOOP_SESSIONS, None
    )
    if not sessions:
        return
    closing = list(sessions.values())
    sessions.clear()
    for session in closing:
        await session.close()


FULL_COLLECTION_EVERY = 100


def _freeze_after_model_load(original: Callable[..., Any]) -> None:
    """After a model loads, what exists then (Rasa, TensorFlow, the model, the domain) leaves the
    cyclic garbage collector's care (gc.freeze): those objects live as long as the process, yet a full
    collection walked all of them. With conversations in memory, the process holds about a million
    objects; a full collection took 0.5-1.2 s, every message waiting (three of them in 40 s of load
    with returning customers; README, "Performance"). Before a model loads, the previous freeze is
    undone, so a replaced model's objects can be collected once nothing holds them."""
    import gc

    from rasa.core.processor import MessageProcessor

    def _load_model(model_path: Any) -> Any:  # a static method in Rasa
        gc.unfreeze()
        try:
            return original(model_path)
        finally:
            gc.collect()
            gc.freeze()

    _load_model.__wrapped__ = original  # type: ignore[attr-defined]
    MessageProcessor._load_model = staticmethod(_load_model)  # type: ignore[method-assign,assignment]
    # A full collection at most every FULL_COLLECTION_EVERY collections of the middle generation
    # (Python's default is 10): after the freeze, the conversations kept in memory are most of what
    # a full collection walks, and with 10 one ran every 10 s under load.
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


def _reuse_action_server_connections(original: Callable[[EndpointConfig], aiohttp.ClientSession]) -> None:
    import aiohttp
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig

    def session(self: EndpointConfig) -> _Borrowed | aiohttp.ClientSession:
        try:
            sessions = _loop_sessions(asyncio.get_running_loop())
        except RuntimeError:  # no running loop: nothing to share with
            sessions = None
        if sessions is None:
            return original(self)  # Rasa's own: a new session, closed by ``async with``
        key = _session_key(self)
        shared = sessions.get(key)
        if shared is None or shared.closed:
            auth = (
                aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) if self.basic_auth else None
            )
            shared = sessions[key] = aiohttp.ClientSession(
                headers=self.headers,
                auth=auth,
                timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
                connector=aiohttp.TCPConnector(keepalive_timeout=2),
            )
        return _Borrowed(shared)

    EndpointConfig.session = session  # type: ignore[method-assign]


def _run_graphs_sequentially() -> None:
    import rasa.core.processor

    rasa.core.processor.DaskGraphRunner = sequential_runner_class()  # type: ignore[attr-defined,misc]


@functools.lru_cache(maxsize=1)
def sequential_runner_class() -> type:
    from rasa.engine.exceptions import GraphRunError
    from rasa.engine.runner.dask import DaskGraphRunner

    class SequentialGraphRunner(DaskGraphRunner):
        """DaskGraphRunner's nodes and results, without building a dask graph per call."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._plans: dict[tuple[str, ...], list[tuple[str, list[str]]]] = {}

        def _plan(self, targets: list[str]) -> list[tuple[str, list[str]]]:
            key = tuple(targets)
            plan = self._plans.get(key)
            if plan is None:
                schema = self._graph_schema.minimal_graph_schema(targets)
                order: list[tuple[str, list[str]]] = []
                placed: set[str] = set()

                def place(name: str) -> None:
                    if name in placed or name not in schema.nodes:
                        return
                    placed.add(name)
                    needs = list(schema.nodes[name].needs.values())
                    for dependency in needs:
                        place(dependency)
                    order.append((name, needs))

                for target in targets:
                    place(target)
                plan = self._plans[key] = order
            return plan

        def run(self, inputs: dict[str, Any] | None = None, targets: list[str] | None = None) -> dict[str, Any]:
            run_targets = targets if targets else self._graph_schema.target_names
            plan = self._plan(run_targets)
            results: dict[str, Any] = {}
            for name, value in (inputs or {}).items():
                if isinstance(value, str) and value in self._graph_schema.nodes:
                    raise GraphRunError(
                        f"Input value '{value}' clashes with a node name. Make sure "
                        f"that none of the input names passed to the `run` method are the "
                        f"same as node names in the graph schema."
                    )
                results[name] = (name, value)
            try:
                for name, needs in plan:
                    # as dask does: an unresolved dependency is passed as its name
                    results[name] = self._instantiated_nodes[name](*(results.get(n, n) for n in needs))
            except RuntimeError as e:
                raise GraphRunError("Error running runner.") from e
            return dict(results[t] for t in run_targets)

    return SequentialGraphRunner
