"""Where overdue notices go: a file (development) or an HTTP SMS gateway (production)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

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


class HttpGatewaySender:
    """POSTs {"to", "text", "reference"} with a bearer token and an Idempotency-Key header.

    Timeouts and 5xx/429 answers are retried with exponential backoff; a 4xx other than 429 is a
    permanent refusal. Anything but a 2xx in the end raises SendFailed.
    """

    def __init__(self, url: str, token: str, timeout: float = 5.0, attempts: int = 3, backoff: float = 0.5) -> None:
        self.url, self.token, self.timeout, self.attempts, self.backoff = url, token, timeout, attempts, backoff
        self.session = requests.Session()

    def send(self, sms: OutgoingSms) -> None:
        error = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                reply = self.session.post(
                    self.url,
                    json={"to": sms.to, "text": sms.text, "reference": sms.reference},
                    headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": sms.reference},
                    timeout=self.timeout,
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
