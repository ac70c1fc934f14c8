"""The hosts of scripts/hosts.sh seen from the tests: addresses, HAProxy's view, Redis, and a load of customers.

Each simulated customer or visitor talks to ``lb`` from an address of its own (added to the bridge
in the root namespace), sends one message at a time and retries a message that got no answer
(connection error, timeout, 502/503/504) with the same ``client_message_id`` until it is answered.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import yaml

ROOT = Path(__file__).resolve().parents[2]
HOSTS = ROOT / "scripts" / "hosts.sh"
STATE = Path(os.environ.get("HOSTS_STATE", "/tmp/overdue-hosts"))  # noqa: S108 - as scripts/hosts.sh
LB = ("10.77.0.10", 8080)
APP = {"app1": "10.77.0.11", "app2": "10.77.0.12"}
DATA = "10.77.0.20"
BRIDGE = "hb0"
JWT_SECRET = "hosts-test-secret-not-for-production"
WEBHOOK = "/webhooks/inapp/webhook"
RETRYABLE = {502, 503, 504}


def hosts(*args: str, timeout: float = 300) -> None:
    subprocess.run([str(HOSTS), *args], check=True, timeout=timeout)


def add_client_address(address: str) -> None:
    """One more source address for the clients on the root namespace's side of the bridge."""
    subprocess.run(["ip", "addr", "replace", f"{address}/24", "dev", BRIDGE], check=True)


def redis_client() -> redis.Redis:
    return redis.Redis(host=DATA, port=6379, db=1, decode_responses=True)


def haproxy(command: str) -> str:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(STATE / "lb" / "haproxy.sock"))
        sock.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def server_state(node: str) -> tuple[str, int]:
    """HAProxy's status of an app (UP, DOWN, ...) and its requests in flight."""
    lines = haproxy("show stat").splitlines()
    header = lines[0].lstrip("# ").split(",")
    for line in lines[1:]:
        row = dict(zip(header, line.split(","), strict=False))
        if row.get("pxname") == "rasa" and row.get("svname") == node:
            return row["status"], int(row["scur"] or 0)
    raise AssertionError(f"HAProxy has no server {node}")


def wait_state(node: str, wanted: str, timeout: float = 60) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if server_state(node)[0].startswith(wanted):
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"HAProxy did not mark {node} {wanted} within {timeout}s: {server_state(node)}")


def apologies() -> set[str]:
    """The texts of utter_service_unavailable: a message answered with one of them was not handled."""
    domain = yaml.safe_load((ROOT / "domain" / "common.yml").read_text(encoding="utf-8"))
    return {variant["text"] for variant in domain["responses"]["utter_service_unavailable"]}


def post(
    address: tuple[str, int], body: dict[str, Any], headers: dict[str, str], source: str | None, timeout: float
) -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPConnection(*address, timeout=timeout, source_address=(source, 0) if source else None)
    try:
        conn.request("POST", WEBHOOK, json.dumps(body), {"Content-Type": "application/json", **headers})
        reply = conn.getresponse()
        raw = reply.read()
        try:
            data = json.loads(raw)
        except ValueError:
            data = raw.decode(errors="replace")
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, data
    finally:
        conn.close()


@dataclass
class Turn:
    conversation: str
    message_id: str
    text: str
    started: float  # time.monotonic()
    answered: float | None = None
    attempts: int = 0
    failures: list[str] = field(default_factory=list)  # what each unanswered attempt got
    failed_at: list[float] = field(default_factory=list)  # seconds after the first attempt
    served_by: str | None = None
    replayed: bool = False
    replies: list[str] = field(default_factory=list)

    @property
    def wait(self) -> float:
        return (self.answered or time.monotonic()) - self.started


CUSTOMER_MESSAGES = ["how much do I owe?", "怎么还款", "为什么老收到逾期短信", "how do I repay?", "罚息怎么算的"]
VISITOR_MESSAGES = [
    "why do I keep getting overdue texts?",
    "怎么还款",
    "how is the late fee calculated?",
    "逾期会影响征信吗",
    "how do I repay?",
]


class Client:
    """One customer (a token) or visitor (a sender id) with a source address of its own."""

    def __init__(self, source: str, customer: str | None = None) -> None:
        from bot.identity import customer_conversation, visitor_conversation

        self.source = source
        self.customer = customer
        if customer:
            from bot.tokens import mint

            self.headers = {"Authorization": f"Bearer {mint(customer, JWT_SECRET)}"}
            self.body: dict[str, Any] = {}
            self.conversation = customer_conversation(customer)
            self.messages = CUSTOMER_MESSAGES
        else:
            sender = f"visitor_{uuid.uuid4().hex[:16]}"
            self.headers = {}
            self.body = {"sender": sender}
            self.conversation = visitor_conversation(sender)
            self.messages = VISITOR_MESSAGES
        self.turns: list[Turn] = []

    def send(self, text: str, deadline: float = 90, timeout: float = 6) -> Turn:
        turn = Turn(self.conversation, uuid.uuid4().hex, text, time.monotonic())
        self.turns.append(turn)
        body = {**self.body, "message": text, "client_message_id": turn.message_id}
        while time.monotonic() - turn.started < deadline:
            turn.attempts += 1
            try:
                status, headers, data = post(LB, body, self.headers, self.source, timeout)
            except (OSError, http.client.HTTPException) as exc:
                turn.failures.append(type(exc).__name__)
                turn.failed_at.append(round(turn.wait, 2))
                time.sleep(0.3)
                continue
            if status == 200:
                turn.answered = time.monotonic()
                turn.served_by = headers.get("x-served-by")
                turn.replayed = headers.get("x-replayed") == "1"
                turn.replies = [m.get("text", "") for m in data]
                return turn
            turn.failures.append(f"{status} {headers.get('x-served-by', '-')} {str(data)[:60]}")
            turn.failed_at.append(round(turn.wait, 2))
            time.sleep(0.3 if status in RETRYABLE else 2.0)
        return turn


class Load:
    """Clients sending one message after another (with a pause between) until stopped."""

    def __init__(self, clients: list[Client], pause: float = 2.0) -> None:
        self.clients = clients
        self.pause = pause
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(c, i), daemon=True) for i, c in enumerate(clients)]
        self.started = 0.0

    def _run(self, client: Client, index: int) -> None:
        time.sleep(index * self.pause / len(self.clients))  # spread the clients over the pause
        n = index
        while not self._stop.is_set():
            client.send(client.messages[n % len(client.messages)])
            n += 1
            self._stop.wait(self.pause)

    def __enter__(self) -> Load:
        self.started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)

    @property
    def turns(self) -> list[Turn]:
        return [t for c in self.clients for t in c.turns]


def clients(first_address: int, customers: int = 6, visitors: int = 14) -> list[Client]:
    """Demo customers C1001.. and fresh visitors, each on its own address 10.77.0.<first_address + i>."""
    out = []
    for i in range(customers + visitors):
        address = f"10.77.0.{first_address + i}"
        add_client_address(address)
        out.append(Client(address, f"C{1001 + i}" if i < customers else None))
    return out


def stored_events(conversation: str) -> list[dict[str, Any]]:
    return [json.loads(e) for e in redis_client().lrange(f"bot:events:{conversation}", 0, -1)]


def check_conversations(load_clients: list[Client]) -> dict[str, Any]:
    """Every turn answered once, in order, with exactly the stored bot messages; one session each.

    Returns figures: turns, answered, retried, replayed, the longest wait, and the problems found.
    """
    problems: list[str] = []
    bad = apologies()
    for client in load_clients:
        events = stored_events(client.conversation)
        users = [(i, e) for i, e in enumerate(events) if e["event"] == "user"]
        ids = [e.get("message_id") for _, e in users]
        duplicates = {m for m in ids if ids.count(m) > 1}
        if duplicates:
            problems.append(f"{client.conversation}: user messages stored twice: {sorted(duplicates)[:3]}")
        sessions = sum(1 for e in events if e["event"] == "session_started")
        if sessions != 1:
            problems.append(f"{client.conversation}: {sessions} sessions (state lost?)")
        sent = [t.message_id for t in client.turns]
        stored_order = [m for m in ids if m in set(sent)]
        if stored_order != sent:
            problems.append(
                f"{client.conversation}: stored {len(stored_order)} of {len(sent)} messages or out of order"
            )
        where = {e.get("message_id"): i for i, e in users}
        for turn in client.turns:
            if turn.answered is None:
                problems.append(f"{client.conversation}: {turn.text!r} never answered ({turn.failures})")
                continue
            if any(r in bad for r in turn.replies):
                problems.append(f"{client.conversation}: {turn.text!r} answered with the apology")
            if turn.message_id not in where:
                continue
            start = where[turn.message_id]
            stored_replies = []
            for e in events[start + 1 :]:
                if e["event"] == "user":
                    break
                if e["event"] == "bot":
                    stored_replies.append(e.get("text") or "")
            if stored_replies != turn.replies:
                problems.append(f"{client.conversation}: the answer to {turn.text!r} differs from the stored turn")
    turns = [t for c in load_clients for t in c.turns]
    answered = [t for t in turns if t.answered is not None]
    waits = sorted(t.wait for t in answered)
    worst = max(answered, key=lambda t: t.wait, default=None)
    return {
        "turns": len(turns),
        "answered": len(answered),
        "retried": sum(1 for t in turns if t.attempts > 1),
        "replayed": sum(1 for t in turns if t.replayed),
        "failed_attempts": sum(len(t.failures) for t in turns),
        "failed_attempts_by_kind": dict(Counter(f for t in turns for f in t.failures)),
        "longest_wait_s": round(waits[-1], 2) if waits else None,
        "median_wait_s": round(waits[len(waits) // 2], 3) if waits else None,
        "longest_wait_turn": {
            "attempts": worst.attempts,
            "failures": [f"+{at}s {kind}" for at, kind in zip(worst.failed_at, worst.failures, strict=False)],
            "answered_by": worst.served_by,
        }
        if worst
        else None,
        "problems": problems,
    }


def moved(load_clients: list[Client], after: float, old: str = "app1", new: str = "app2") -> int:
    """Conversations answered by ``old`` before ``after`` and by ``new`` after it."""
    count = 0
    for client in load_clients:
        before = {t.served_by for t in client.turns if t.answered and t.started < after}
        later = {t.served_by for t in client.turns if t.answered and t.started >= after}
        count += old in before and new in later
    return count
