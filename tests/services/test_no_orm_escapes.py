"""No service hands out an ORM object: what leaves a unit of work is plain data built inside it.

An ORM instance used after its session closed raises DetachedInstanceError (it broke the
never-borrowed conversation for C1005); this test calls every public service function on the
demo database and walks what each returns.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
from decimal import Decimal
from typing import Any

import pytest

from bot.clock import FixedClock
from bot.domain.model import Base
from bot.domain.repayment import RepaymentPolicy
from bot.notice_senders import OutgoingCall, OutgoingSms
from bot.services import (
    analytics_store,
    care,
    cases,
    chat_log,
    console,
    corrections,
    extensions,
    fraud,
    handoff,
    loans,
    notices,
    preferences,
    staff,
)
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.conftest import TODAY

NOW = dt.datetime.combine(TODAY, dt.time(14, 0))
# Outside calls(): its dict keys name the services it covers.
EVENT = {"sender_id": "customer:C1001", "event": "user", "timestamp": 1796170000.0}
POLICY = RepaymentPolicy(True, Decimal("1.00"), ("penalty", "instalment"), Decimal("0.00"))
MODULES = (
    analytics_store, care, cases, chat_log, console, corrections, extensions, fraud, handoff, loans, notices,
    preferences, staff,
)  # fmt: skip
#: Public functions that take no unit of work (pure helpers, cached config readers).
NOT_USE_CASES = {
    "normalise_mobile",
    "parse_option",
    "default_policy",
    "default_templates",
    "notice_key",
    "call_key",
    "default_call_scripts",
    "summarize",
    "service_hours",
    "chat_settings",
    "idle_minutes",
    # These work inside the caller's unit of work (they take one, not a factory).
    "append_in",
    "waiting_for_person",
    "audit_in",
    "notes_of",
    "add_note_in",
    "record_wrong_number_correction",
    # Pure: values in, values out.
    "segment_facts",
    "correction_text",
}


class Outbox:
    def send(self, sms: OutgoingSms) -> None:
        pass


class Dialer:
    def place(self, call: OutgoingCall) -> None:
        pass


class Desk:
    def post(self, url: str, json: dict[str, Any], headers: dict[str, str], timeout: float) -> Any:
        import requests

        reply = requests.Response()
        reply.status_code = 200
        return reply


def orm_objects(value: Any, path: str = "result") -> list[str]:
    """Where in ``value`` an ORM instance sits (recursing through dataclasses and containers)."""
    if isinstance(value, Base):
        return [f"{path}: {type(value).__name__}"]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [p for f in dataclasses.fields(value) for p in orm_objects(getattr(value, f.name), f"{path}.{f.name}")]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in orm_objects(v, f"{path}[{k!r}]")]
    if isinstance(value, list | tuple | set | frozenset):
        return [p for i, v in enumerate(value) for p in orm_objects(v, f"{path}[{i}]")]
    return []


def calls(url: str) -> dict[str, Any]:
    u = lambda: SqlAlchemyUnitOfWork(url)  # noqa: E731
    ticket = handoff.create_ticket(u, "customer:C1001", "C1001", "request_human", "zh", "Why", [], NOW)
    case = cases.open_scam_report(u, "visitor:abc12345", None, False, "fake link", NOW)
    cases.open_complaint(u, "customer:C1004", "C1004", "other", "slow answers", NOW)
    care.record_vulnerability(u, "C1004", "customer:C1004", "job_loss", NOW)
    staff.add_or_change(u, "alice", "agent", "a long password", NOW)
    agent, boss = staff.Staff("alice", "agent"), staff.Staff("sue", "supervisor")
    return {
        "account_overview": lambda: loans.account_overview(u, "C1001", TODAY),
        "customer_language": lambda: loans.customer_language(u, "C1003"),
        "whole_loan_payoffs": lambda: loans.whole_loan_payoffs(u, "C1001", TODAY, TODAY, POLICY),
        "extension_offer": lambda: extensions.extension_offer(u, "C1001", TODAY),
        "preview_terms": lambda: extensions.preview_terms(u, "C1001", "L1001", "split_3", TODAY),
        "submit_extension": lambda: extensions.submit_extension(
            u, "C1001", "L1001", "job_loss", "", "split_3", "k", TODAY, NOW
        ),
        "record_cancellation": lambda: extensions.record_cancellation(u, "C1006", "L1006", "other", "", None, NOW),
        "open_identity_misuse_case": lambda: cases.open_identity_misuse_case(
            u, "C1005", "L1005", "customer:C1005", "", NOW
        ),
        "open_wrong_number_case": lambda: cases.open_wrong_number_case(u, "13900009999", "visitor:abc12345", "", NOW),
        "open_scam_report": lambda: cases.open_scam_report(u, "visitor:abc12345", None, True, "paid", NOW),
        "open_complaint": lambda: cases.open_complaint(u, "customer:C1001", "C1001", "other", "rude", NOW),
        "list_cases": lambda: cases.list_cases(u),
        "get_case": lambda: cases.get_case(u, case.reference),
        "number_under_review": lambda: cases.number_under_review(u, "13900009999"),
        "customer_requests": lambda: cases.customer_requests(u, "C1004"),
        "record_vulnerability": lambda: care.record_vulnerability(u, "C1001", "customer:C1001", "distress", NOW),
        "active_vulnerability": lambda: care.active_vulnerability(u, "C1004"),
        "clear_vulnerability": lambda: care.clear_vulnerability(u, "C1004", NOW),
        "matching_notice": lambda: fraud.matching_notice(u, "C1001", "L1001 逾期", TODAY),
        "disputable_loan": lambda: fraud.disputable_loan(u, "C1005", TODAY),
        "create_ticket": lambda: handoff.create_ticket(
            u, "visitor:abc12345", None, "request_human", "en", "Why", [], NOW
        ),
        "deliver_due": lambda: handoff.deliver_due(u, "http://desk", FixedClock(NOW), http=Desk()),
        "deliver_now": lambda: handoff.deliver_now(u, None, FixedClock(NOW)),
        "waiting_ticket": lambda: handoff.waiting_ticket(u, "customer:C1001"),
        "withdraw_ticket": lambda: handoff.withdraw_ticket(u, "customer:C1001", NOW),
        "list_tickets": lambda: handoff.list_tickets(u),
        "get_ticket": lambda: handoff.get_ticket(u, ticket.ticket_id),
        "retry_now": lambda: handoff.retry_now(u, None, NOW),
        "post_agent_message": lambda: handoff.post_agent_message(u, "customer:C1001", "hi", "agent", NOW),
        "fetch_agent_messages": lambda: handoff.fetch_agent_messages(u, "customer:C1001", NOW),
        "run_notices": lambda: notices.run_notices(u, Outbox(), NOW),
        "deliver_pending": lambda: notices.deliver_pending(u, Outbox(), FixedClock(NOW)),
        "deliver_in_app": lambda: notices.deliver_in_app(u, FixedClock(NOW)),
        "deliver_calls": lambda: notices.deliver_calls(u, Dialer(), FixedClock(NOW)),
        "get_contact_preferences": lambda: preferences.get_contact_preferences(u, "C1004"),
        "set_contact_preferences": lambda: preferences.set_contact_preferences(u, "C1004", NOW, no_calls=True),
        "record_holds": lambda: notices.record_holds(u, TODAY, NOW, []),
        "explain": lambda: notices.explain(u, "C1006", NOW),
        "correct_proven_errors": lambda: corrections.correct_proven_errors(u, "C1003", "customer:C1003", NOW),
        "rate_chat": lambda: chat_log.rate_chat(u, "customer:C1001", "C1001", "zh", 4, NOW),
        "rate_resolved_ticket": lambda: handoff.rate_resolved_ticket(u, "customer:C1001", 4, NOW),
        "append": lambda: chat_log.append(u, "customer:C1001", [chat_log.Line("user", "hi")], NOW),
        "history": lambda: chat_log.history(u, "customer:C1001"),
        "lines_after": lambda: chat_log.lines_after(u, "customer:C1001", 0),
        "end_chat": lambda: chat_log.end_chat(u, "customer:C1001", "C1001", "zh", None, NOW),
        "queue": lambda: console.queue(u, NOW, 10),
        "queue_position": lambda: console.queue_position(u, "customer:C1001", NOW),
        "claim": lambda: console.claim(u, ticket.ticket_id, agent, NOW),
        "transfer": lambda: console.transfer(u, ticket.ticket_id, boss, "alice", NOW),
        "detail": lambda: console.detail(u, ticket.ticket_id, NOW),
        "may_reply": lambda: console.may_reply(u, ticket.ticket_id, boss),
        "record_reply": lambda: console.record_reply(u, ticket.ticket_id, agent, "hi", NOW),
        "record_blocked": lambda: console.record_blocked(u, ticket.ticket_id, agent, "hi", ["threat"], NOW),
        "add_note": lambda: console.add_note(u, ticket.ticket_id, agent, "a note", NOW),
        "resolve": lambda: console.resolve(u, ticket.ticket_id, boss, "done", NOW),
        "close_referrals": lambda: console.close_referrals(u, "C1004", boss, "done", NOW),
        "add_or_change": lambda: staff.add_or_change(u, "bob", "agent", "a long password", NOW),
        "login": lambda: staff.login(u, "alice", "a long password", NOW),
        "session_of": lambda: staff.session_of(u, "no-such-token", NOW),
        "logout": lambda: staff.logout(u, "no-such-token", NOW),
        "staff_names": lambda: staff.staff_names(u),
        "audit_log": lambda: staff.audit_log(u),
        "store_batch": lambda: analytics_store.store_batch(u, [EVENT, []], "pika", NOW, ("c", 1)),
        "last_read": lambda: analytics_store.last_read(u, "c"),
    }


def test_every_public_service_function_is_checked() -> None:
    public = {
        name
        for module in MODULES
        for name, fn in vars(module).items()
        if inspect.isfunction(fn) and fn.__module__ == module.__name__ and not name.startswith("_")
    }
    assert public - NOT_USE_CASES <= set(calls_names())


def calls_names() -> set[str]:
    """The service names ``calls`` covers (read from its source, so nothing is listed twice)."""
    import ast

    source = inspect.getsource(calls)
    tree = ast.parse(source)
    return {
        k.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for k in node.keys
        if isinstance(k, ast.Constant)
    }


@pytest.mark.parametrize("name", sorted(calls_names()))
def test_a_service_returns_plain_data_that_outlives_its_session(database_url: str, name: str) -> None:
    result = calls(database_url)[name]()
    assert orm_objects(result) == []
    repr(result)  # every field readable after the session closed
