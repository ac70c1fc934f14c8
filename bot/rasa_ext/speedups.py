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

- ``EndpointConfig.request`` opens a new HTTP session, and so a new TCP connection, for
  every call to the action server. We keep one session per endpoint and event loop, with
  keep-alive connections recycled after 2 s (below Sanic's 5 s keep-alive, so a connection
  the action server is about to close is not reused).

- Every prediction runs the model graph through ``dask.get``, which rebuilds and schedules
  a task graph on each call. The graph is a small fixed pipeline; ``sequential_runner_class()``
  runs the same nodes in a cached dependency order, one after the other, as dask's
  synchronous scheduler does.

``install()`` is idempotent; the in-app channel and the NLU components call it, so every
Rasa worker process has it before its first message. ``BOT_RASA_SPEEDUPS=off`` leaves Rasa
as shipped (the benchmark's stock baseline uses it; so could anyone who suspects them).
"""

from __future__ import annotations

import functools
import os
from typing import Any

_installed = False


def install() -> None:
    global _installed
    if _installed or os.environ.get("BOT_RASA_SPEEDUPS", "on").lower() in {"off", "0", "false", "no"}:
        return
    _cache_action_response_validator()
    _cache_event_type_resolution()
    _reuse_action_server_connections()
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


def _cache_event_type_resolution() -> None:
    from rasa.shared.core.events import Event

    original = Event.resolve_by_type
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

    def __init__(self, session: Any) -> None:
        self._session = session

    async def __aenter__(self) -> Any:
        return self._session

    async def __aexit__(self, *exc: object) -> bool:
        return False


def _reuse_action_server_connections() -> None:
    import asyncio

    import aiohttp
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig

    sessions: dict[tuple[int, int], aiohttp.ClientSession] = {}

    def session(self: EndpointConfig) -> Any:
        loop = asyncio.get_running_loop()
        key = (id(self), id(loop))
        shared = sessions.get(key)
        if shared is None or shared.closed:
            auth = (
                aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) if self.basic_auth else None
            )
            shared = aiohttp.ClientSession(
                headers=self.headers,
                auth=auth,
                timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
                connector=aiohttp.TCPConnector(keepalive_timeout=2),
            )
            sessions[key] = shared
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
