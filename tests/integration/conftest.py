"""Start the real action server and Rasa server on free loopback ports, over a seeded database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from bot import db
from bot.tokens import mint
from tests.conftest import TODAY, seed, seeded_postgres

ROOT = Path(__file__).resolve().parents[2]
SECRET = "integration-test-secret-0123456789abcdef"
AGENT_TOKEN = "agent-api-test-token-0123456789"
ACTION_TOKEN = "action-server-test-token-0123456789"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Bot:
    url: str
    secret: str
    base: str
    database_url: str
    action_url: str
    processes: dict
    log_dir: Path

    def say(self, text: str, customer: str | None = None, sender: str | None = None) -> list[dict]:
        headers = {"Authorization": f"Bearer {mint(customer, self.secret)}"} if customer else {}
        body = {"message": text} if customer else {"message": text, "sender": sender or "anon_default_visitor"}
        reply = requests.post(self.url, json=body, headers=headers, timeout=30)
        assert reply.status_code == 200, reply.text
        return reply.json()

    @staticmethod
    def text(messages: list[dict]) -> str:
        return "\n".join(m.get("text") or "" for m in messages)


def _wait(url: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited early:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up in {timeout}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def bot(request, tmp_path_factory) -> Iterator[Bot]:
    """Both servers over a freshly seeded database, once per test module (modules may change records)."""
    model = latest_model()
    work = tmp_path_factory.mktemp("servers")
    options = getattr(request.module, "SERVER_OPTIONS", {})
    with ExitStack() as cleanup:
        if options.get("postgres"):  # the module needs a database it can make unreachable
            url = cleanup.enter_context(seeded_postgres("bot_it"))
        else:
            url = seed(f"sqlite:///{work / 'bot.db'}")
        db.dispose_all()
        yield from _servers(options, work, url, model)


def latest_model() -> Path:
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        pytest.fail("no trained model in models/: run `make train` (make test does) first")
    return models[-1]


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _servers(options: dict, work: Path, url: str, model: Path) -> Iterator[Bot]:
    """Start the action server and Rasa over url; yield the Bot; stop them."""
    # A module may ask for extra environment (e.g. tighter rate limits) and debug logging.
    # A SQL tracker store in the work folder, so tests can read what is stored.
    # Rasa's event broker writes to the work folder too (endpoints.yml: var/events.db), or a module
    # gives its own (``event_broker``: a YAML section, e.g. the scaled set-up's RabbitMQ broker).
    shipped = (ROOT / "endpoints.yml").read_text(encoding="utf-8")
    assert "\nevent_broker:\n" in shipped and "url: sqlite:///var/events.db" in shipped
    if options.get("event_broker"):
        shipped = shipped[: shipped.index("\nevent_broker:\n") + 1] + options["event_broker"]
    endpoints = work / "endpoints.yml"
    endpoints.write_text(
        shipped.replace("url: sqlite:///var/events.db", f"url: sqlite:///{work / 'events.db'}")
        + f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {work / 'trackers.db'}\n",
        encoding="utf-8",
    )
    rasa_port, action_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "HANDOFF_WEBHOOK_URL"},
        "DATABASE_URL": url,
        "BOT_TODAY": TODAY.isoformat(),
        "BOT_JWT_SECRET": SECRET,
        "RASA_PORT": str(rasa_port),
        "ACTION_PORT": str(action_port),
        "SANIC_HOST": "127.0.0.1",
        "RASA_TELEMETRY_ENABLED": "false",
        "AGENT_API_TOKEN": AGENT_TOKEN,
        "ACTION_SERVER_TOKEN": ACTION_TOKEN,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        **options.get("env", {}),
    }
    action_log, rasa_log = work / "actions.log", work / "rasa.log"
    with action_log.open("w") as alog, rasa_log.open("w") as rlog:
        actions = subprocess.Popen(
            [sys.executable, "-m", "bot.rasa_ext.action_server", "--port", str(action_port), "--domain", "domain"],
            cwd=ROOT,
            env=env,
            stdout=alog,
            stderr=subprocess.STDOUT,
        )
        server = subprocess.Popen(
            [
                str(BIN / "rasa"),
                "run",
                "--interface",
                "127.0.0.1",
                "--port",
                str(rasa_port),
                "--credentials",
                "credentials.yml",
                "--endpoints",
                str(endpoints),
                "--model",
                str(model),
                *(["--debug", "--log-file", str(work / "rasa-debug.log")] if options.get("debug") else []),
            ],
            cwd=ROOT,
            env=env,
            stdout=rlog,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait(f"http://127.0.0.1:{action_port}/health", actions, action_log)
        _wait(f"http://127.0.0.1:{rasa_port}/webhooks/inapp/", server, rasa_log)
        yield Bot(
            f"http://127.0.0.1:{rasa_port}/webhooks/inapp/webhook",
            SECRET,
            f"http://127.0.0.1:{rasa_port}",
            url,
            f"http://127.0.0.1:{action_port}",
            {"actions": actions, "rasa": server},
            work,
        )
    finally:
        stop([server, actions])
