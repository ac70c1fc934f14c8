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

The replacements are equivalent only to the Rasa they were written against, so ``install()``
replaces nothing, and logs one warning, unless Rasa is version ``RASA_VERSION`` and the source
of every Rasa function they replace or copy still has the sha256 recorded in ``FINGERPRINTS``
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

from bot.settings import get_settings

if TYPE_CHECKING:
    import aiohttp
    from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

RASA_VERSION = "3.6.21"

# sha256 of inspect.getsource() of each Rasa function install() replaces, or whose behaviour
# a replacement copies or relies on, in Rasa 3.6.21 as installed from PyPI ("module:qualname").
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
