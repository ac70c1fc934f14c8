"""The action server, locked down: loopback by default and only callers with the shared token.

rasa_sdk 3.6 has no authentication of its own; this wraps its Sanic app with a check of the
``Authorization: Bearer <ACTION_SERVER_TOKEN>`` header that Rasa sends (endpoints.yml).

Rasa would also send the whole domain (~50 KB of JSON) with every action call; endpoints.yml
turns that off (``enable_selective_domain``) and this server hands the actions the same
domain it read at start-up: the ``domain/`` directory, its files merged as Rasa merges them
(responses, forms and slots are what the actions use).

    python -m bot.rasa_ext.action_server --port 5055 [--host 127.0.0.1] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import logging
import os
from pathlib import Path
from typing import Any

from rasa.shared.utils.io import read_yaml_file
from rasa_sdk import endpoint
from rasa_sdk.endpoint import create_app
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher
from rasa_sdk.interfaces import ActionExecutionRejection, ActionNotFoundException
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.log_masking import install_log_masking
from bot.rasa_ext import action_events
from bot.settings import get_settings

logger = logging.getLogger(__name__)


# What the actions read, merged across files as Rasa's Domain.from_directory merges them.
MERGED_BY_NAME = ("responses", "slots", "forms")
MERGED_LISTS = ("intents", "entities", "actions")
DOMAIN_KEYS = (*MERGED_BY_NAME, *MERGED_LISTS, "e2e_actions", "session_config")  # Rasa's ALL_DOMAIN_KEYS


def domain_files(path: Path) -> list[Path]:
    """The YAML files Rasa reads as the domain at ``path``: the file itself, or those in the
    directory tree in the order Rasa walks it (os.walk, following links)."""
    if path.is_file():
        return [path]
    return [
        Path(root) / name
        for root, _, names in os.walk(path, followlinks=True)
        for name in names
        if Path(name).suffix in (".yml", ".yaml")
    ]


def _item_name(item: Any) -> str:
    # Rasa keys a list entry by its name, or an entry with properties by its first key.
    return sorted(item)[0] if isinstance(item, dict) else str(item)


def load_domain(path: Path) -> dict[str, Any]:
    """The domain as the actions read it (the shape of Rasa's Domain.as_dict()): one domain file,
    or a directory of them merged as Rasa merges them. Responses, slots and forms merge by name,
    intents, entities and actions by item; a name defined in two files keeps the first file's
    definition, with a warning, as in Rasa. Files are read with Rasa's YAML 1.2 reader, so a
    button titled No is the text "No", not False."""
    if not path.exists():
        raise SystemExit(f"{path} does not exist: pass --domain or set DOMAIN_PATH to the domain directory")
    merged: dict[str, dict[str, Any]] = {key: {} for key in (*MERGED_BY_NAME, *MERGED_LISTS)}
    duplicates: dict[str, set[str]] = {}
    for file in domain_files(path):
        part = read_yaml_file(file)
        if not isinstance(part, dict) or not any(key in part for key in DOMAIN_KEYS):
            continue  # not a domain file; Rasa skips it too
        for key, found in merged.items():
            value = part.get(key) or {}
            named = value.items() if isinstance(value, dict) else ((_item_name(item), item) for item in value)
            for name, item in named:
                if name in found:
                    duplicates.setdefault(key, set()).add(name)
                else:
                    found[name] = item
    if not merged["responses"]:
        raise SystemExit(f"{path} is not a Rasa domain (no responses)")
    for key, names in duplicates.items():
        logger.warning("%s: %s defined in more than one domain file: %s", path, key, ", ".join(sorted(names)))
    return {key: found if key in MERGED_BY_NAME else list(found.values()) for key, found in merged.items()}


#: An action that has not answered by then is abandoned and the conversation recovers; below the
#: in-app channel's 4.5 s reply timeout, so the customer hears the apology from here, once.
ACTION_DEADLINE_SECONDS = 3.5
#: What a failed action leaves behind: no active form, no half-asked question.
RECOVERY_EVENTS = [ActiveLoop(None), SlotSet("requested_slot", None)]


class RecoveringExecutor(ActionExecutor):
    """rasa_sdk's executor, except that an action which raises or overruns its deadline does not
    leave the conversation broken: its events are dropped, the active form is closed and the
    customer gets one apology (utter_service_unavailable), so the next message is handled
    normally. A form's deliberate rejection of a slot (ActionExecutionRejection) and unknown
    actions behave as in rasa_sdk."""

    deadline_seconds = ACTION_DEADLINE_SECONDS

    async def run(self, action_call: dict[str, Any]) -> dict[str, Any] | None:
        name = action_call.get("next_action")
        try:
            return await asyncio.wait_for(super().run(action_call), timeout=self.deadline_seconds)
        except (ActionExecutionRejection, ActionNotFoundException):
            raise
        except Exception:  # noqa: BLE001 - includes the deadline; logged with the stack trace
            logger.exception("action %s failed or overran %.1f s; closing any form", name, self.deadline_seconds)
            dispatcher = CollectingDispatcher()
            dispatcher.utter_message(response="utter_service_unavailable")
            return self._create_api_response(list(RECOVERY_EVENTS), dispatcher.messages)


def locked_app(token: str, package: str = "actions", domain: dict[str, Any] | None = None) -> Sanic:
    # create_app builds its executor from rasa_sdk.endpoint's module global: hand it ours.
    endpoint.ActionExecutor = RecoveringExecutor  # type: ignore[misc]
    try:
        app = create_app(package, cors_origins=None)
    finally:
        endpoint.ActionExecutor = ActionExecutor  # type: ignore[misc]

    @app.on_request
    async def require_token(request: Request) -> HTTPResponse | None:
        if request.path == "/health":
            return None
        scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
            return response.json({"error": "action server token required"}, status=401)
        if domain is not None and request.path == "/webhook" and request.method == "POST":
            try:
                call = request.json
            except Exception:  # noqa: BLE001 - rasa_sdk answers a body it cannot read
                return None
            if isinstance(call, dict) and not call.get("domain"):
                call["domain"] = domain  # shared and read-only: actions only look things up
        return None

    action_events.install(app)  # calls with only a long session's new events (after the token check)
    return app


def main() -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=settings.action_port)
    parser.add_argument("--host", default=settings.action_host)
    parser.add_argument("--workers", type=int, default=settings.action_workers)
    parser.add_argument("--domain", type=Path, default=settings.domain_path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-8s %(name)s - %(message)s")
    install_log_masking()
    settings.refuse_unsafe_production()
    app = locked_app(settings.action_server_token, domain=load_domain(args.domain))
    logger.info("Action server on http://%s:%s (token required)", args.host, args.port)
    app.run(host=args.host, port=args.port, workers=max(1, args.workers), access_log=False, motd=False)


if __name__ == "__main__":
    main()
