"""Where overdue notices go: a file (development) or an HTTP SMS gateway (production), and where call
tasks go: a file (development) or the dialer over HTTP (``DIALER_URL``). In-app messages need no
sender: they are written into the customer's chat (bot.services.notices.deliver_in_app)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import requests


class SendFailed(Exception):
    """The notice could not be handed to the gateway; it stays recorded and is retried later."""


@dataclass(frozen=True)
class OutgoingSms:
    to: str
    text: str
    reference: str  # the notice's idempotency key: the gateway drops a repeat of the same reference


class NoticeSender(Protocol):
    def send(self, sms: OutgoingSms) -> None: ...


class FileSender:
    """Appends each SMS as a JSON line (development and demos: nothing leaves the machine)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, sms: OutgoingSms) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"to": sms.to, "text": sms.text, "reference": sms.reference}, ensure_ascii=False) + "\n")


def _post_with_retries(
    session: requests.Session,
    url: str,
    body: dict[str, Any],
    token: str,
    reference: str,
    timeout: float,
    attempts: int,
    backoff: float,
) -> None:
    """POST with a bearer token and ``Idempotency-Key: reference``; timeouts and 5xx/429 answers are
    retried with exponential backoff, a 4xx other than 429 is a permanent refusal. SendFailed unless 2xx."""
    error = ""
    for attempt in range(attempts):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            reply = session.post(
                url,
                json=body,
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": reference},
                timeout=timeout,
            )
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]
            continue
        if 200 <= reply.status_code < 300:
            return
        error = f"HTTP {reply.status_code}"
        if 400 <= reply.status_code < 500 and reply.status_code != 429:
            break
    raise SendFailed(error)


class HttpGatewaySender:
    """POSTs {"to", "text", "reference"} with a bearer token and an Idempotency-Key header.

    Timeouts and 5xx/429 answers are retried with exponential backoff; a 4xx other than 429 is a
    permanent refusal. Anything but a 2xx in the end raises SendFailed.
    """

    def __init__(self, url: str, token: str, timeout: float = 5.0, attempts: int = 3, backoff: float = 0.5) -> None:
        self.url, self.token, self.timeout, self.attempts, self.backoff = url, token, timeout, attempts, backoff
        self.session = requests.Session()

    def send(self, sms: OutgoingSms) -> None:
        body: dict[str, Any] = {"to": sms.to, "text": sms.text, "reference": sms.reference}
        _post_with_retries(
            self.session, self.url, body, self.token, sms.reference, self.timeout, self.attempts, self.backoff
        )


@dataclass(frozen=True)
class OutgoingCall:
    """A call task: whom to call, in which language, with the script in both languages."""

    to: str
    language: str
    script: dict[str, str]  # {"zh": ..., "en": ...}
    reference: str  # the call task's idempotency key: the dialer drops a repeat of the same reference

    def body(self) -> dict[str, Any]:
        return {"to": self.to, "language": self.language, "script": dict(self.script), "reference": self.reference}


class CallDialer(Protocol):
    def place(self, call: OutgoingCall) -> None: ...


class FileDialer:
    """Appends each call task as a JSON line (development and demos: nobody is called)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def place(self, call: OutgoingCall) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(call.body(), ensure_ascii=False) + "\n")


class HttpDialer:
    """POSTs each call task as JSON {"to", "language", "script": {"zh", "en"}, "reference"} to the
    dialer (``DIALER_URL``, bearer ``DIALER_TOKEN``, ``Idempotency-Key: reference``), with the SMS
    gateway's retries and backoff. Anything but a 2xx in the end raises SendFailed: the task stays
    recorded and the next run hands it over again, with the same reference."""

    def __init__(self, url: str, token: str, timeout: float = 5.0, attempts: int = 3, backoff: float = 0.5) -> None:
        self.url, self.token, self.timeout, self.attempts, self.backoff = url, token, timeout, attempts, backoff
        self.session = requests.Session()

    def place(self, call: OutgoingCall) -> None:
        _post_with_retries(
            self.session, self.url, call.body(), self.token, call.reference, self.timeout, self.attempts, self.backoff
        )
