"""The action server, locked down: loopback by default and only callers with the shared token.

rasa_sdk 3.6 has no authentication of its own; this wraps its Sanic app with a check of the
``Authorization: Bearer <ACTION_SERVER_TOKEN>`` header that Rasa sends (endpoints.yml).

    python -m bot.rasa_ext.action_server --port 5055 [--host 127.0.0.1] [--workers 1]
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os

from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request

from bot.log_masking import install_log_masking
from bot.settings import get_settings

logger = logging.getLogger(__name__)


def locked_app(token: str, package: str = "actions") -> Sanic:
    app = create_app(package, cors_origins=None)

    @app.on_request
    async def require_token(request: Request):  # type: ignore[no-untyped-def]
        if request.path == "/health":
            return None
        scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
            return response.json({"error": "action server token required"}, status=401)
        return None

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("ACTION_PORT", "5055")))
    parser.add_argument("--host", default=os.environ.get("ACTION_HOST", "127.0.0.1"))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("ACTION_WORKERS", "1")))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-8s %(name)s - %(message)s")
    install_log_masking()
    settings = get_settings()
    settings.refuse_unsafe_production()
    app = locked_app(settings.action_server_token)
    logger.info("Action server on http://%s:%s (token required)", args.host, args.port)
    app.run(host=args.host, port=args.port, workers=max(1, args.workers), access_log=False, motd=False)


if __name__ == "__main__":
    main()
