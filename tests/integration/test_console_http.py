"""The agent console over real HTTP beside the real Rasa and action servers: login with CSRF and
lockout, the queue, claiming (one winner), a reply that reaches the customer's chat, a reply the
compliance guard blocks, notes, resolving (the assistant answers again), supervisors' pages, and
that a console session is no customer identity."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from bot.services.staff import add_or_change
from bot.tokens import mint
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.conftest import TODAY
from tests.integration.conftest import AGENT_TOKEN, ROOT, SECRET, _wait, free_port, stop

pytestmark = pytest.mark.servers
PASSWORD = "console test password"  # noqa: S105 - a test password


@dataclass
class Console:
    url: str
    database_url: str

    def session(self, username: str, password: str = PASSWORD) -> requests.Session:
        """A browser-like session logged in as ``username`` (asserts the login worked)."""
        s = requests.Session()
        reply = login(self, s, username, password)
        assert reply.status_code == 303 and reply.headers["location"] == "/", reply.text
        return s


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def login(console: Console, s: requests.Session, username: str, password: str) -> requests.Response:
    page = s.get(f"{console.url}/login", timeout=10)
    return s.post(
        f"{console.url}/login",
        data={"username": username, "password": password, "csrf": csrf_of(page.text)},
        allow_redirects=False,
        timeout=10,
    )


def page_csrf(console: Console, s: requests.Session, path: str = "/") -> str:
    return csrf_of(s.get(f"{console.url}{path}", timeout=10).text)


@pytest.fixture(scope="module")
def console(bot) -> Iterator[Console]:
    uow = lambda: SqlAlchemyUnitOfWork(bot.database_url)  # noqa: E731
    now = __import__("datetime").datetime.combine(TODAY, __import__("datetime").time(10, 0))
    for name, role in [("alice", "agent"), ("bob", "agent"), ("sue", "supervisor"), ("locky", "agent")]:
        add_or_change(uow, name, role, PASSWORD, now)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": bot.database_url,
        "BOT_TODAY": TODAY.isoformat(),
        "BOT_JWT_SECRET": SECRET,
        "RASA_PORT": bot.base.rsplit(":", 1)[1],
        "AGENT_API_TOKEN": AGENT_TOKEN,
    }
    log = bot.log_dir / "console.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "console", "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait(f"http://127.0.0.1:{port}/health", process, log)
        yield Console(f"http://127.0.0.1:{port}", bot.database_url)
    finally:
        stop([process])


def test_login_needs_the_form_token_and_the_right_password_and_locks_after_five_failures(console) -> None:
    s = requests.Session()
    page = s.get(f"{console.url}/login", timeout=10)
    assert "用户名" in page.text and "密码" in page.text
    assert "Username" in s.get(f"{console.url}/login?lang=en", timeout=10).text
    no_token = s.post(f"{console.url}/login", data={"username": "alice", "password": PASSWORD}, timeout=10)
    assert no_token.status_code == 403
    assert login(console, s, "alice", "wrong").status_code == 401
    assert s.get(f"{console.url}/", allow_redirects=False, timeout=10).status_code == 303  # still logged out
    assert s.get(f"{console.url}/api/queue", timeout=10).status_code == 401
    for _ in range(5):
        refused = login(console, s, "locky", "wrong password")
    assert refused.status_code == 401 and "locked until" in refused.text  # English since ?lang=en above
    assert login(console, s, "locky", PASSWORD).status_code == 401  # locked: the right password too
    ok = login(console, s, "alice", PASSWORD)
    cookie = ok.headers["set-cookie"]
    assert ok.status_code == 303 and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")


def test_every_post_needs_the_session_csrf_token(console) -> None:
    s = console.session("alice")
    for path in ("/tickets/HO-2026-000001/claim", "/tickets/HO-2026-000001/note", "/logout"):
        assert s.post(f"{console.url}{path}", data={"text": "x"}, timeout=10).status_code == 403
    assert (
        s.post(
            f"{console.url}/tickets/HO-2026-000001/reply",
            json={"text": "hi"},
            headers={"X-CSRF-Token": "nope"},
            timeout=10,
        ).status_code
        == 403
    )


def test_the_handoff_journey_from_the_customer_to_an_agent_and_back_to_the_assistant(bot, console) -> None:
    # An urgent scam report waits first; C1005 asks for a person after it.
    bot.say("我已经把验证码告诉骗子了，钱被转走了", sender="visitor_console_scam")
    bot.say("是的，登记", sender="visitor_console_scam")
    assert "标记为紧急" in bot.text(bot.say("登记举报", sender="visitor_console_scam"))
    handed = bot.text(bot.say("I want to talk to a real person", customer="C1005"))
    ticket_id = re.search(r"HO-2026-\d{6}", handed).group(0)
    alice, bob = console.session("alice"), console.session("bob")
    queue = alice.get(f"{console.url}/api/queue", timeout=10).json()
    mine = next(i for i in queue if i["ticket_id"] == ticket_id)
    assert mine["verified"] is True and mine["language"] == "en" and mine["assigned_to"] is None
    urgent = [i for i in queue if i["priority"] == "urgent"]
    assert urgent and queue.index(urgent[0]) < queue.index(mine)  # the recorded scam report is ahead of C1005

    # Two agents claim: one wins, the other is told who has it.
    csrf_a, csrf_b = page_csrf(console, alice), page_csrf(console, bob)
    won = alice.post(
        f"{console.url}/tickets/{ticket_id}/claim", data={"csrf": csrf_a}, allow_redirects=False, timeout=10
    )
    lost = bob.post(
        f"{console.url}/tickets/{ticket_id}/claim", data={"csrf": csrf_b}, allow_redirects=False, timeout=10
    )
    assert won.headers["location"] == f"/tickets/{ticket_id}"
    assert lost.headers["location"].endswith("?m=taken")
    assert "alice" in bob.get(f"{console.url}{lost.headers['location']}", timeout=10).text

    # The ticket page: the chat as the customer saw it, and C1005's situation.
    page = alice.get(f"{console.url}/tickets/{ticket_id}", timeout=10).text
    assert "I want to talk to a real person" in page and "Emily" in page
    reply = lambda s, csrf, text: s.post(  # noqa: E731
        f"{console.url}/tickets/{ticket_id}/reply", json={"text": text}, headers={"X-CSRF-Token": csrf}, timeout=10
    )
    assert reply(bob, csrf_b, "hi").status_code == 409  # not his ticket
    blocked = reply(alice, csrf_a, "If you do not pay we will contact your employer.")
    assert blocked.status_code == 422 and blocked.json()["codes"]
    sent = reply(alice, csrf_a, "Hello Emily, this is Alice from support. How can I help?")
    assert sent.status_code == 200, sent.text

    # The customer's chat has it (the webhook reply and the history).
    headers = {"Authorization": f"Bearer {mint('C1005', bot.secret)}"}
    history = requests.get(f"{bot.base}/webhooks/inapp/history", headers=headers, timeout=10).json()
    texts = [line["text"] for line in history["lines"]]
    assert "Hello Emily, this is Alice from support. How can I help?" in texts
    assert "If you do not pay we will contact your employer." not in texts
    assert "agent_joined" in [line.get("status") for line in history["lines"]]

    # A private note, then resolve: the assistant answers the next message.
    note = alice.post(
        f"{console.url}/tickets/{ticket_id}/note", data={"csrf": csrf_a, "text": "asked about repayment"}, timeout=10
    )
    assert note.status_code == 200 and "asked about repayment" in note.text
    resolved = alice.post(
        f"{console.url}/tickets/{ticket_id}/resolve",
        data={"csrf": csrf_a, "outcome": "answered"},
        allow_redirects=False,
        timeout=10,
    )
    assert resolved.status_code == 303
    assert ticket_id not in [i["ticket_id"] for i in alice.get(f"{console.url}/api/queue", timeout=10).json()]
    assert "nothing overdue" in bot.text(bot.say("how much do I owe?", customer="C1005"))
    # The customer's rating after the person handed back is kept with the ticket.
    rated = requests.post(f"{bot.base}/webhooks/inapp/end", json={"rating": 5}, headers=headers, timeout=10)
    assert rated.status_code == 200 and rated.json()["ticket_id"] == ticket_id
    assert "★ 5/5" in alice.get(f"{console.url}/tickets/{ticket_id}", timeout=10).text

    # The supervisor reads who did what, including the blocked attempt; an agent may not.
    sue = console.session("sue")
    audit = sue.get(f"{console.url}/audit", timeout=10).text
    for action in ("claim", "claim_lost", "reply", "blocked_message", "note", "resolve"):
        assert f">{action}<" in audit, action
    assert "employer" in sue.get(f"{console.url}/audit?action=blocked_message", timeout=10).text
    assert alice.get(f"{console.url}/audit", timeout=10).status_code == 403


def test_an_anonymous_visitors_ticket_shows_nothing_about_any_account(bot, console) -> None:
    bot.say("转人工", sender="visitor_console_anon")
    s = console.session("sue")
    queue = s.get(f"{console.url}/api/queue", timeout=10).json()
    item = next(i for i in queue if not i["verified"] and i["reason"] == "request_human")
    page = s.get(f"{console.url}/tickets/{item['ticket_id']}", timeout=10).text
    assert "不显示任何账户信息" in page and "13800001" not in page


def test_a_console_session_is_not_a_customer_identity(bot, console) -> None:
    s = console.session("alice")
    # The console's cookie means nothing to the customer webhook: no token, no customer.
    as_customer = s.post(f"{bot.base}/webhooks/inapp/webhook", json={"message": "how much do I owe?"}, timeout=10)
    assert as_customer.status_code == 400
    assert s.get(f"{bot.base}/webhooks/inapp/history", timeout=10).status_code == 400


def test_logout_ends_the_session(console) -> None:
    s = console.session("bob")
    assert (
        s.post(
            f"{console.url}/logout", data={"csrf": page_csrf(console, s)}, allow_redirects=False, timeout=10
        ).status_code
        == 303
    )
    assert s.get(f"{console.url}/api/queue", timeout=10).status_code == 401


def test_a_supervisor_approves_a_referred_extension_and_the_customer_sees_the_plan(bot, console) -> None:
    bot.say("can I get more time?", customer="C1004")
    bot.say("my business failed", customer="C1004")
    referred = bot.text(bot.say("yes, pass it on", customer="C1004"))
    reference = re.search(r"EXT-\d{4}-\d{6}", referred).group(0)
    alice, sue = console.session("alice"), console.session("sue")
    assert alice.get(f"{console.url}/decisions", timeout=10).status_code == 403  # agents do not decide
    page = sue.get(f"{console.url}/decisions", timeout=10).text
    assert reference in page
    csrf = csrf_of(page)
    option = re.search(rf'data-reference="{reference}".*?<option value="([a-z]+_\d+)"', page, re.S).group(1)
    approved = sue.post(
        f"{console.url}/decisions/extensions/{reference}/approve",
        data={"csrf": csrf, "option": option, "note": "checked with the branch"},
        allow_redirects=False,
        timeout=10,
    )
    assert approved.status_code == 303, approved.text
    assert reference not in sue.get(f"{console.url}/decisions", timeout=10).text
    again = sue.post(
        f"{console.url}/decisions/extensions/{reference}/reject",
        data={"csrf": csrf, "reason": "other", "note": "x"},
        allow_redirects=False,
        timeout=10,
    )
    assert again.status_code == 409  # approved already: it cannot be rejected now
    # The customer was told in the chat, in English, and the assistant now shows the plan.
    headers = {"Authorization": f"Bearer {mint('C1004', bot.secret)}"}
    lines = requests.get(f"{bot.base}/webhooks/inapp/history", headers=headers, timeout=10).json()["lines"]
    assert any(line["kind"] == "agent" and reference in line["text"] for line in lines)
    owed = bot.text(bot.say("how much do I owe?", customer="C1004"))
    assert reference in owed or "plan" in owed.lower()
    audit = sue.get(f"{console.url}/audit", timeout=10).text
    assert ">extension_approved<" in audit and reference in audit
    # The referral's ticket left the queue with the decision.
    queue = sue.get(f"{console.url}/api/queue", timeout=10).json()
    assert not [i for i in queue if i["reason"] == "extension_referral" and "C1004" in i["summary"]]


def test_the_dashboard_is_for_supervisors_and_shows_the_report_figures(bot, console) -> None:
    bot.say("转人工", sender="visitor_console_dashboard")
    sue, alice = console.session("sue"), console.session("alice")
    page = sue.get(f"{console.url}/dashboard", timeout=30)
    assert page.status_code == 200
    for metric in ("engaged_sessions", "containment_rate", "escalation_rate", "time_to_person_p50_s"):
        assert f'data-metric="{metric}"' in page.text
    # A conversation was handed to a person today: the figure is not zero.
    handoffs = re.search(r'data-metric="handoffs"><th scope="row">handoffs</th><td>(\d+)</td>', page.text)
    assert handoffs and int(handoffs.group(1)) >= 1
    assert alice.get(f"{console.url}/dashboard", timeout=10).status_code == 403
