"""The action server, locked down: loopback by default and only callers with the shared token.

rasa_sdk 3.6 has no authentication of its own; this wraps its Sanic app with a check of the
``Authorization: Bearer <ACTION_SERVER_TOKEN>`` header that Rasa sends (endpoints.yml).

Rasa would also send the whole domain (~50 KB of JSON) with every action call; endpoints.yml
turns that off (``enable_selective_domain``) and this server hands the actions the same
domain.yml it read at start-up (responses, forms and slots are what the actions use).

    python -m bot.rasa_ext.action_server --port 5055 [--host 127.0.0.1] [--workers 1]
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request

from bot.log_masking import install_log_masking
from bot.settings import get_settings

logger = logging.getLogger(__name__)


def load_domain(path: Path) -> dict[str, Any]:
    """domain.yml as the actions read it (the shape Rasa's Domain.as_dict() sends)."""
    with path.open(encoding="utf-8") as f:
        domain = yaml.safe_load(f)
    if not isinstance(domain, dict) or not isinstance(domain.get("responses"), dict):
        raise SystemExit(f"{path} is not a Rasa domain file (no responses)")
    return domain


def locked_app(token: str, package: str = "actions", domain: dict[str, Any] | None = None) -> Sanic:
    app = create_app(package, cors_origins=None)

    @app.on_request
    async def require_token(request: Request):  # type: ignore[no-untyped-def]
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

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("ACTION_PORT", "5055")))
    parser.add_argument("--host", default=os.environ.get("ACTION_HOST", "127.0.0.1"))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("ACTION_WORKERS", "1")))
    parser.add_argument("--domain", type=Path, default=Path(os.environ.get("DOMAIN_PATH", "domain.yml")))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-8s %(name)s - %(message)s")
    install_log_masking()
    settings = get_settings()
    settings.refuse_unsafe_production()
    app = locked_app(settings.action_server_token, domain=load_domain(args.domain))
    logger.info("Action server on http://%s:%s (token required)", args.host, args.port)
    app.run(host=args.host, port=args.port, workers=max(1, args.workers), access_log=False, motd=False)


if __name__ == "__main__":
    main()
