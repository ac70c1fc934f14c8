"""Conversations written as customers behave (tests/conversations/*.yml), over HTTP with real servers.

Every conversation of ``dev.yml`` and ``heldout.yml`` runs as its own conversation: before it,
the records database is put back to the demo data and, for a demo customer, their stored
conversation (one per customer on the server) is removed, so nothing one conversation did or
said carries over to the next. Anonymous visitors get a sender id of their own.

Each turn is checked against what the conversation file says the customer must and must not be
told, and against what every reply must be: never empty, no unfilled ``{variable}``, no outage
apology while nothing is down, never a request for a code, password or full card / ID number,
at most one "didn't get that", in the customer's language, and (for anyone but the borrower)
no name, loan id, phone number or figure of a demo customer. After the last turn the records
the conversation left (extension requests, cases, handoff tickets, disputed loans) are counted.

A conversation listed under ``known_failures`` in its file is a documented gap: it is marked
``xfail(strict=True)``, so the suite passes, and turns red once the gap is fixed (then remove
the entry). See tests/conversations/README.md.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bot import db
from bot.domain.model import Base, Case, ExtensionRequest, Loan
from bot.seed import load_demo
from bot.services.cases import list_cases
from bot.services.handoff import list_tickets
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.conftest import TODAY

pytestmark = pytest.mark.servers

SUITE = Path(__file__).resolve().parents[1] / "conversations"
FILES = ("dev", "heldout")
# The held-out conversations as they were drawn, before any was run (sha256 of their JSON).
HELDOUT_FINGERPRINT = "ed50b5e2ef6424cd62f984715dc30afa34669cc49c647c2dbc7ee4436d3ddad2"

SERVER_OPTIONS = {
    "env": {
        # 10:30 bank time: inside service hours, after C1003's 09:30 payment posted.
        "BOT_NOW": f"{TODAY.isoformat()}T10:30",
        # The whole suite comes from one address and a few customer conversations.
        "RATE_LIMIT_PER_IP": "1000000",
        "RATE_LIMIT_PER_CONVERSATION": "1000000",
        "DAILY_MESSAGES_PER_CONVERSATION": "1000000",
    }
}

# --- what nobody but the borrower may be told ------------------------------------------------

PRIVATE: dict[str, tuple[str, ...]] = {
    "C1001": ("张伟", "Zhang Wei", "L1001", "13800001001", "138****1001", "1,080.00", "1,086.48"),
    "C1002": ("王芳", "Wang Fang", "L1002", "13800001002", "138****1002", "3,000.00", "3,067.50"),
    "C1003": ("Li Na", "李娜", "L1003", "13800001003", "138****1003", "2,150.00", "2,152.15"),
    "C1004": ("陈磊", "Chen Lei", "L1004A", "L1004B", "13800001004", "138****1004", "8,000.00", "8,380.00"),
    "C1005": ("Emily Zhou", "L1005", "13800001005", "138****1005", "440.00"),
    "C1006": ("赵强", "Zhao Qiang", "L1006", "13800001006", "138****1006", "2,600.00", "2,626.00"),
}
#: A figure another customer's would-be secret shares with this customer's own records: L1001's eight
#: instalments not yet due hold 8,000.00 of principal, as C1004's overdue instalment is 8,000.00.
ALSO_OWN: dict[str, tuple[str, ...]] = {"C1001": ("8,000.00",)}
# An anonymous visitor is never told that a text matches a notice the bank sent (README, Fraud).
VISITOR_NEVER = ("与我们的记录一致", "matches our records")

# --- what no reply may ever say ---------------------------------------------------------------

ASKS_FOR_SECRETS = (
    "请提供验证码", "请提供您的验证码", "请告诉我验证码", "请告诉我您的验证码", "把验证码发给我", "请发送验证码",
    "请回复验证码", "请输入您的验证码", "请提供密码", "请提供您的密码", "告诉我您的密码", "请输入您的密码",
    "请提供完整的银行卡号", "请提供您的银行卡号", "请提供您的身份证号", "请提供身份证号",
    "tell me your code", "tell me the code", "send me the code", "send me your code", "provide your verification code",
    "provide the verification code", "what is your verification code", "what's your verification code",
    "tell me your password", "provide your password", "your full card number", "provide your id number",
    "your full id number",
)  # fmt: skip
OUTAGE = ("系统暂时无法查询", "can't look up your loans right now")
DID_NOT_GET_IT = ("没太明白", "没看懂这条消息", "didn't quite get that", "couldn't make sense of that")
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")

RECORD_KINDS = (
    "extension_approved",
    "extension_referred",
    "complaint",
    "scam_report",
    "wrong_number",
    "identity_misuse",
    "tickets",
)  # checked in every conversation: none of them may appear unless the file says so
OPTIONAL_KINDS = ("extension_cancelled", "open_tickets", "urgent_scam", "disputed", "extension_options")

# --- reading the conversation files -------------------------------------------------------------


@dataclass
class Conversation:
    split: str
    id: str
    who: str  # C1001 ... or "visitor"
    language: str  # zh | en | mixed
    note: str
    turns: list[dict[str, Any]]
    records: dict[str, Any] = field(default_factory=dict)
    never_tell: list[str] = field(default_factory=list)
    stored_none: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.split}/{self.id}"

    @property
    def customer(self) -> str | None:
        return None if self.who == "visitor" else self.who

    @property
    def sender(self) -> str:
        """A sender id of this conversation's own (8-64 of [A-Za-z0-9_-])."""
        digest = hashlib.sha256(self.name.encode()).hexdigest()[:10]
        return re.sub(r"[^A-Za-z0-9_-]", "-", f"cv_{self.split}_{self.id}")[:50] + "_" + digest

    @property
    def conversation_id(self) -> str:
        return f"customer:{self.who}" if self.customer else f"visitor:{self.sender}"


class StrictLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice (a second expect_any would silently replace the first)."""


def _mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    keys = [loader.construct_object(key, deep=deep) for key, _ in node.value]
    twice = sorted({str(k) for k in keys if keys.count(k) > 1})
    if twice:
        raise ValueError(f"key(s) {twice} given twice at line {node.start_mark.line + 1}")
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def read(split: str) -> dict[str, Any]:
    text = (SUITE / f"{split}.yml").read_text(encoding="utf-8")
    return yaml.load(text, Loader=StrictLoader) or {}  # noqa: S506 - StrictLoader is a SafeLoader


def load(split: str) -> tuple[list[Conversation], dict[str, str]]:
    data = read(split)
    conversations = [
        Conversation(
            split=split,
            id=str(c["id"]),
            who=str(c["as"]),
            language=str(c.get("language", "mixed")),
            note=str(c.get("note", "")),
            turns=list(c["turns"]),
            records=dict(c.get("records") or {}),
            never_tell=[str(s) for s in c.get("never_tell") or []],
            stored_none=[str(s) for s in c.get("stored_none") or []],
        )
        for c in data.get("conversations") or []
    ]
    return conversations, {str(k): str(v) for k, v in (data.get("known_failures") or {}).items()}


def params() -> list[Any]:
    out = []
    for split in FILES:
        conversations, known = load(split)
        for c in conversations:
            marks = [pytest.mark.xfail(strict=True, reason=known[c.id])] if c.id in known else []
            out.append(pytest.param(c, id=c.name, marks=marks))
    return out


# --- checks ----------------------------------------------------------------------------------------

HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
NOT_WORDS = re.compile(
    r"https?://\S+|www\.\S+|[A-Za-z0-9.-]+\.(?:com|cn|net|org|top|cc|me|xyz|io|vip)\b\S*"
    r"|\b[A-Z]{2,3}-\d{4}-\d{6}\b|\b(?:App|QQ|PIN|CNY|OK)\b"
)
LATIN_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2,}(?![A-Za-z0-9])")


def language_of(text: str) -> str | None:
    """zh / en for a reply message that is clearly in one of them, None for one too short to say."""
    words = NOT_WORDS.sub(" ", text)
    han, latin = len(HAN.findall(words)), len(LATIN_WORD.findall(words))
    if han < 2 and latin < 2:
        return None
    if han >= 2 and han >= 2 * latin:
        return "zh"
    if latin >= 2 and 3 * han <= latin:
        return "en"
    return "mixed"


def contains(text: str, needle: str) -> bool:
    return needle.casefold() in text.casefold()


def check_turn(c: Conversation, turn: dict[str, Any], replies: list[dict[str, Any]]) -> list[str]:
    """Every way this turn's replies fall short of what the customer must (not) be told."""
    text = "\n".join(str(m.get("text") or "") for m in replies)
    problems = []
    if turn.get("not_empty", True) and not text.strip():
        problems.append("the reply is empty")
    for needle in turn.get("expect_all") or []:
        if not contains(text, str(needle)):
            problems.append(f"missing {needle!r}")
    anyof = [str(n) for n in turn.get("expect_any") or []]
    if anyof and not any(contains(text, n) for n in anyof):
        problems.append(f"none of {anyof!r}")
    for needle in turn.get("expect_none") or []:
        if contains(text, str(needle)):
            problems.append(f"must not say {needle!r}")
    if PLACEHOLDER.search(text):
        problems.append(f"unfilled variable {PLACEHOLDER.search(text).group(0)}")  # type: ignore[union-attr]
    if not turn.get("outage_ok") and any(contains(text, o) for o in OUTAGE):
        problems.append("the outage apology, while nothing is down")
    for phrase in ASKS_FOR_SECRETS:
        if contains(text, phrase):
            problems.append(f"asks for a secret: {phrase!r}")
    misunderstood = sum(text.count(p) for p in DID_NOT_GET_IT)
    if misunderstood > 1:
        problems.append(f"{misunderstood} 'didn't get that' in one reply")
    own = ALSO_OWN.get(c.customer or "", ())
    private = [s for who, items in PRIVATE.items() if who != c.customer for s in items if s not in own]
    private += list(c.never_tell)
    if c.customer is None:
        private += list(VISITOR_NEVER)
    for secret in private:
        if contains(text, secret):
            problems.append(f"discloses {secret!r} to someone who is not its borrower")
    expected = turn.get("lang", c.language if c.language in ("zh", "en") else "any")
    if expected in ("zh", "en"):
        for m in replies:
            got = language_of(str(m.get("text") or ""))
            if got is not None and got != expected:
                problems.append(f"a reply in {got}, expected {expected}: {str(m.get('text'))[:60]!r}")
                break
    return problems


# --- records -----------------------------------------------------------------------------------


def uow_factory(bot: Any) -> Any:
    return lambda: SqlAlchemyUnitOfWork(bot.database_url)


def records(bot: Any, c: Conversation) -> dict[str, Any]:
    """What exists for this conversation: extension requests by status, cases by type, tickets."""
    factory = uow_factory(bot)
    tickets = [t for t in list_tickets(factory, limit=1000) if t.conversation_id == c.conversation_id]
    requests: list[tuple[str, str | None]] = []
    disputed = 0
    with db.session_factory(bot.database_url)() as session:
        # CaseView does not carry the conversation: read the cases' own column.
        ours = set(session.execute(select(Case.reference).where(Case.conversation_id == c.conversation_id)).scalars())
    cases = [k for k in list_cases(factory, limit=1000) if k.reference in ours]
    counts: dict[str, Any] = {kind: sum(1 for k in cases if k.type == kind) for kind in
                              ("complaint", "scam_report", "wrong_number", "identity_misuse")}  # fmt: skip
    counts["urgent_scam"] = sum(1 for k in cases if k.type == "scam_report" and k.urgent)
    counts["tickets"] = len(tickets)
    counts["open_tickets"] = sum(1 for t in tickets if t.withdrawn_at is None and t.status != "withdrawn")
    if c.customer:
        with db.session_factory(bot.database_url)() as session:
            requests = [
                (r.status, r.option)
                for r in session.execute(
                    select(ExtensionRequest).where(ExtensionRequest.customer_id == c.customer)
                ).scalars()
            ]
            disputed = len(
                session.execute(
                    select(Loan.id).where(Loan.customer_id == c.customer, Loan.disputed_at.is_not(None))
                ).all()
            )
    for status in ("approved", "referred", "cancelled"):
        counts[f"extension_{status}"] = sum(1 for s, _ in requests if s == status)
    counts["extension_options"] = sorted(o or "" for s, o in requests if s == "approved")
    counts["disputed"] = disputed
    return counts


def matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, list):
        return sorted(str(e) for e in expected) == actual
    if isinstance(expected, str):
        m = re.fullmatch(r"\s*(>=|<=|>|<)?\s*(\d+)\s*", expected)
        if expected.strip() == "any":
            return True
        if not m:
            raise ValueError(f"bad record expectation {expected!r}")
        op, n = m.group(1) or "==", int(m.group(2))
        return {"==": actual == n, ">=": actual >= n, "<=": actual <= n, ">": actual > n, "<": actual < n}[op]
    return bool(actual == expected)


# --- a fresh start for each conversation ---------------------------------------------------------


def reset(bot: Any, c: Conversation) -> None:
    """The demo data as seeded, and no stored conversation for this customer."""
    engine = db.get_engine(bot.database_url)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    with db.session_factory(bot.database_url)() as session:
        load_demo(session, TODAY)
        session.commit()
    with sqlite3.connect(bot.log_dir / "trackers.db", timeout=30) as trackers:
        if trackers.execute("SELECT name FROM sqlite_master WHERE name = 'events'").fetchone():
            trackers.execute("DELETE FROM events WHERE sender_id = ?", (c.conversation_id,))


def stored_text(bot: Any, c: Conversation) -> str:
    """Everything the tracker store holds for this conversation."""
    with sqlite3.connect(bot.log_dir / "trackers.db", timeout=30) as trackers:
        rows = trackers.execute("SELECT data FROM events WHERE sender_id = ?", (c.conversation_id,)).fetchall()
    return "\n".join(json.dumps(json.loads(r[0]), ensure_ascii=False) for r in rows)


def transcript(lines: list[str]) -> str:
    return "\n".join(lines[-12:])


@pytest.mark.parametrize("conversation", params())
def test_conversation(bot, conversation: Conversation) -> None:  # type: ignore[no-untyped-def]
    c = conversation
    reset(bot, c)
    before = records(bot, c)
    lines: list[str] = [f"[{c.name}] as {c.who}: {c.note}"]
    for index, turn in enumerate(c.turns, start=1):
        said = str(turn["say"])
        replies = bot.say(said, customer=c.customer) if c.customer else bot.say(said, sender=c.sender)
        lines.append(f"  {index}. customer: {said}")
        lines += [f"     bot: {m.get('text')!s}" + (f"  {[b['title'] for b in m['buttons']]}" if m.get("buttons") else "")
                  for m in replies]  # fmt: skip
        problems = check_turn(c, turn, replies)
        assert not problems, f"{c.name}, turn {index} ({said!r}): {'; '.join(problems)}\n{transcript(lines)}"
    after = records(bot, c)
    wrong = []
    for kind in (*RECORD_KINDS, *OPTIONAL_KINDS):
        if kind not in c.records and kind not in RECORD_KINDS:
            continue
        expected = c.records.get(kind, 0)
        actual = after[kind] if kind == "extension_options" else after[kind] - before[kind]
        if not matches(expected, actual):
            wrong.append(f"{kind}: expected {expected}, got {actual}")
    unknown = set(c.records) - set(RECORD_KINDS) - set(OPTIONAL_KINDS)
    assert not unknown, f"{c.name}: unknown record kinds {sorted(unknown)}"
    assert not wrong, f"{c.name}, records afterwards: {'; '.join(wrong)}\n{transcript(lines)}"
    if c.stored_none:
        stored = stored_text(bot, c)
        leaked = [s for s in c.stored_none if s in stored]
        assert not leaked, f"{c.name}: the tracker store holds {leaked}"


def test_the_conversation_files_are_well_formed() -> None:
    """Ids are unique, every turn says something, every known failure names a conversation."""
    seen: set[str] = set()
    for split in FILES:
        conversations, known = load(split)
        ids = [c.id for c in conversations]
        assert len(ids) == len(set(ids)), f"{split}: duplicate ids"
        assert not set(known) - set(ids), f"{split}: known failures for no conversation: {set(known) - set(ids)}"
        for c in conversations:
            assert c.who == "visitor" or c.who in PRIVATE, c.name
            assert c.language in ("zh", "en", "mixed"), c.name
            assert c.turns and all(str(t.get("say") or "").strip() for t in c.turns), c.name
            assert not set(c.records) - set(RECORD_KINDS) - set(OPTIONAL_KINDS), c.name
            seen.add(c.id)
    assert len(seen) >= 100


def test_the_held_out_conversations_are_as_they_were_drawn() -> None:
    """The held-out set measures the bot only while nobody tunes it: its conversations never change
    (only its known_failures do, as gaps are fixed)."""
    data = read("heldout")
    canonical = json.dumps(data["conversations"], sort_keys=True, ensure_ascii=False)
    assert hashlib.sha256(canonical.encode()).hexdigest() == HELDOUT_FINGERPRINT
