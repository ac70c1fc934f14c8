"""The agent console (CONTRACTS section 8): a server-rendered Starlette app with Jinja2 templates.

Agents log in (argon2 hashes, lockout, HttpOnly SameSite=Strict session cookie, CSRF token on
every form and API call), take tickets from the queue, read the chat as the customer saw it
with the customer's situation beside it, reply (each message checked by the compliance guard
before it leaves), write private notes, transfer, and resolve, which hands the chat back to the
assistant. Supervisors also decide referred extension requests and cases, read the audit
log, and review conversations (filter sessions, tag them, mark a message's correct intent, export
the marks as NLU training data). Messages reach the customer through the in-app channel's agent API on the Rasa server,
which stores them in the chat and wakes the customer's page; the console is one helpdesk
among others (a bank's own helpdesk uses the same API and the handoff webhook).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
import yaml
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.domain.agent_guard import check_agent_message, quiet_hours_block
from bot.domain.errors import Outage, UserError
from bot.domain.extensions import options as extension_options
from bot.domain.review import ReviewRefused
from bot.services import console, decisions, review, staff
from bot.services.cases import customer_requests, list_cases
from bot.services.extensions import default_policy as extension_policy
from bot.services.loans import account_overview
from bot.services.notices import default_policy
from bot.services.staff import Staff, StaffError
from bot.settings import get_settings
from bot.unit_of_work import SqlAlchemyUnitOfWork, UowFactory

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
COOKIE = "console_session"
LOGIN_CSRF_COOKIE = "console_login_csrf"
LANGUAGE_COOKIE = "console_lang"
ASSETS = {"console.js": "application/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8"}
MAX_TEXT = 2000
#: The figures the supervisors' dashboard shows (docs/analytics.md defines them).
DASHBOARD = (
    "engaged_sessions", "containment_rate", "escalation_rate", "escalation_asked_rate", "fallback_rate",
    "abandonment_rate", "doom_loop_rate", "handoffs", "time_to_person_p50_s", "time_to_person_p90_s",
    "satisfaction_mean", "satisfaction_ratings",
)  # fmt: skip


@lru_cache(maxsize=1)
def console_config() -> dict[str, Any]:
    return yaml.safe_load(get_settings().config_file("console.yml").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def canned_replies() -> list[dict[str, str]]:
    return yaml.safe_load(get_settings().config_file("canned_replies.yml").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@dataclass
class Deps:
    """What the console needs from outside: records, clock, and the Rasa server's agent API."""

    uow_factory: UowFactory
    rasa_url: str
    agent_token: str | None
    secure_cookies: bool
    post: Callable[..., requests.Response] = requests.post


def _language(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in ("zh", "en"):
        return asked
    return "en" if request.cookies.get(LANGUAGE_COOKIE) == "en" else "zh"


def _words(language: str) -> dict[str, str]:
    return {k: str(v) for k, v in console_config()["words"][language].items()}


def _headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def create_app(deps: Deps | None = None) -> Starlette:
    settings = get_settings()
    deps = deps or Deps(
        SqlAlchemyUnitOfWork,
        f"{settings.rasa_url}/webhooks/inapp",
        settings.agent_api_token,
        settings.environment == "production",
    )
    clock = settings.clock()
    templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    idle_minutes = int(console_config()["idle_claim_minutes"])

    def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        language = _language(request)
        body = templates.get_template(name).render(
            w=_words(language), lang=language, other="en" if language == "zh" else "zh", **context
        )
        response = HTMLResponse(body, status_code=status, headers=_headers())
        if request.query_params.get("lang") in ("zh", "en"):
            response.set_cookie(LANGUAGE_COOKIE, language, httponly=True, samesite="strict", secure=deps.secure_cookies)
        return response

    def current(request: Request) -> tuple[Staff, str] | None:
        token = request.cookies.get(COOKIE) or ""
        try:
            return staff.session_of(deps.uow_factory, token, clock.now())
        except Outage:
            return None

    async def csrf_ok(request: Request, expected: str) -> bool:
        given = request.headers.get("x-csrf-token")
        if given is None and request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            given = str((await request.form()).get("csrf") or "")
        return bool(given) and hmac.compare_digest(str(given), expected)

    async def guard(request: Request, supervisor: bool = False) -> tuple[Staff, str] | Response:
        """The logged-in staff member, or the response to send instead (login page, 401, 403)."""
        who = current(request)
        wants_json = request.url.path.startswith("/api/") or request.headers.get("accept") == "application/json"
        if who is None:
            if wants_json or request.method != "GET":
                return JSONResponse({"error": "log in first"}, status_code=401)
            return RedirectResponse("/login", status_code=303)
        if request.method == "POST" and not await csrf_ok(request, who[1]):
            return JSONResponse({"error": "missing or wrong CSRF token"}, status_code=403)
        if supervisor and not who[0].supervisor:
            if wants_json or request.method != "GET":
                return JSONResponse({"error": "supervisors only"}, status_code=403)
            return render(request, "message.html", 403, message=_words(_language(request))["supervisor_only"])
        return who

    # --- login --------------------------------------------------------------------------------
    async def login_page(request: Request) -> Response:
        token = secrets.token_urlsafe(24)
        response = render(request, "login.html", csrf=token, error=None)
        response.set_cookie(
            LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=deps.secure_cookies, max_age=3600
        )
        return response

    async def login(request: Request) -> Response:
        form = await request.form()
        expected = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
        if not expected or not hmac.compare_digest(str(form.get("csrf") or ""), expected):
            return JSONResponse({"error": "missing or wrong CSRF token"}, status_code=403)
        words = _words(_language(request))
        try:
            done = staff.login(
                deps.uow_factory, str(form.get("username") or ""), str(form.get("password") or ""), clock.now()
            )
        except staff.LoginRefused as refused:
            error = (
                words["login_locked"].format(until=refused.locked_until.strftime("%H:%M"))
                if refused.locked_until
                else words["login_failed"]
            )
            return render(request, "login.html", 401, csrf=expected, error=error)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE,
            done.token,
            httponly=True,
            samesite="strict",
            secure=deps.secure_cookies,
            max_age=staff.SESSION_HOURS * 3600,
        )
        response.delete_cookie(LOGIN_CSRF_COOKIE)
        return response

    async def logout(request: Request) -> Response:
        who = await guard(request)
        if isinstance(who, Response):
            return who
        staff.logout(deps.uow_factory, request.cookies.get(COOKIE) or "", clock.now())
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    # --- the queue ----------------------------------------------------------------------------
    def queue_json(items: list[console.QueueItem]) -> list[dict[str, Any]]:
        return [
            {
                "ticket_id": i.ticket_id,
                "priority": i.priority,
                "reason": i.reason,
                "language": i.language,
                "verified": i.verified,
                "wait_seconds": i.wait_seconds,
                "assigned_to": i.assigned_to,
                "position": i.position,
                "summary": i.summary,
            }
            for i in items
        ]

    async def queue_page(request: Request) -> Response:
        who = await guard(request)
        if isinstance(who, Response):
            return who
        items = console.queue(deps.uow_factory, clock.now(), idle_minutes)
        return render(request, "queue.html", me=who[0], csrf=who[1], items=items, flash=request.query_params.get("m"))

    async def queue_api(request: Request) -> Response:
        who = await guard(request)
        if isinstance(who, Response):
            return who
        return JSONResponse(queue_json(console.queue(deps.uow_factory, clock.now(), idle_minutes)))

    async def claim(request: Request) -> Response:
        who = await guard(request)
        if isinstance(who, Response):
            return who
        ticket_id = request.path_params["ticket_id"]
        if console.claim(deps.uow_factory, ticket_id, who[0], clock.now()):
            return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)
        return RedirectResponse(f"/tickets/{ticket_id}?m=taken", status_code=303)

    # --- one ticket ---------------------------------------------------------------------------
    def customer_context(customer_id: str | None) -> dict[str, Any] | None:
        if customer_id is None:
            return None  # an anonymous visitor: nothing about any account
        try:
            overview = account_overview(deps.uow_factory, customer_id, clock.today())
            requests_ = customer_requests(deps.uow_factory, customer_id)
        except (UserError, Outage):
            return {"unavailable": True}
        return {"overview": overview, "requests": requests_}

    async def ticket_page(request: Request) -> Response:
        who = await guard(request)
        if isinstance(who, Response):
            return who
        try:
            found = console.detail(deps.uow_factory, request.path_params["ticket_id"], clock.now())
        except StaffError:
            return render(request, "message.html", 404, message=_words(_language(request))["no_such_ticket"])
        language = found.item.language
        canned = [{"key": c["key"], "text": c[language]} for c in canned_replies()]
        return render(
            request,
            "ticket.html",
            me=who[0],
            csrf=who[1],
            t=found.item,
            lines=found.lines,
            notes=found.notes,
            closed=found,
            context=customer_context(found.item.customer_id),
            canned=canned,
            colleagues=[s for s in staff.staff_names(deps.uow_factory) if s.username != who[0].username],
            taken=request.query_params.get("m") == "taken",
            flash=request.query_params.get("m"),
        )

    async def lines_api(request: Request) -> Response:
        who = await guard(request)
        if isinstance(who, Response):
            return who
        raw = request.query_params.get("after", "0")
        after = int(raw) if raw.isdigit() else 0
        try:
            found = console.detail(deps.uow_factory, request.path_params["ticket_id"], clock.now())
        except StaffError:
            return JSONResponse({"error": "no such ticket"}, status_code=404)
        return JSONResponse(
            {
                "lines": [line.payload() for line in found.lines if line.seq > after],
                "assigned_to": found.item.assigned_to,
                "closed": found.item.ticket_id
                not in {i.ticket_id for i in console.queue(deps.uow_factory, clock.now(), idle_minutes)},
            }
        )

    def agent_api(path: str, body: dict[str, Any]) -> requests.Response | None:
        if not deps.agent_token:
            return None
        try:
            return deps.post(
                f"{deps.rasa_url}/agent/{path}",
                json=body,
                headers={"Authorization": f"Bearer {deps.agent_token}"},
                timeout=10,
            )
        except requests.RequestException:
            logger.warning("console: the agent API at %s did not answer", deps.rasa_url)
            return None

    async def reply(request: Request) -> Response:
        who = await guard(request)
        if isinstance(who, Response):
            return who
        ticket_id = request.path_params["ticket_id"]
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": 'body must be JSON {"text": ...}'}, status_code=400)
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            return JSONResponse({"error": f"'text' must be 1-{MAX_TEXT} characters"}, status_code=400)
        language = _language(request)
        try:
            ticket = console.may_reply(deps.uow_factory, ticket_id, who[0])
            found = console.detail(deps.uow_factory, ticket_id, clock.now())
        except StaffError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        violations = list(check_agent_message(text, anonymous=ticket.customer_id is None))
        policy = default_policy()
        quiet = quiet_hours_block(
            clock.now(), found.last_customer_message_at, policy.quiet_hours_start, policy.quiet_hours_end
        )
        reasons = [v.reason[language] for v in violations] + ([quiet[language]] if quiet else [])
        if reasons:
            codes = [v.code for v in violations] + (["quiet_hours"] if quiet else [])
            console.record_blocked(deps.uow_factory, ticket_id, who[0], text, codes, clock.now())
            return JSONResponse({"blocked": reasons, "codes": codes}, status_code=422)
        sent = await run_in_threadpool(agent_api, "messages", {"conversation_id": ticket.conversation_id, "text": text})
        if sent is None or sent.status_code != 200:
            return JSONResponse({"error": "the message could not be delivered; try again"}, status_code=502)
        console.record_reply(deps.uow_factory, ticket_id, who[0], text, clock.now())
        return JSONResponse({"status": "sent"})

    async def typing(request: Request) -> Response:
        who = await guard(request)
        if isinstance(who, Response):
            return who
        try:
            ticket = console.may_reply(deps.uow_factory, request.path_params["ticket_id"], who[0])
        except StaffError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        await run_in_threadpool(agent_api, "typing", {"conversation_id": ticket.conversation_id})
        return JSONResponse({"status": "sent"})

    async def note(request: Request) -> Response:
        who = await guard(request)
        if isinstance(who, Response):
            return who
        ticket_id = request.path_params["ticket_id"]
        form = await request.form()
        try:
            console.add_note(deps.uow_factory, ticket_id, who[0], str(form.get("text") or "")[:MAX_TEXT], clock.now())
        except StaffError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return RedirectResponse(f"/tickets/{ticket_id}?m=saved", status_code=303)

    async def transfer(request: Request) -> Response:
        who = await guard(request)
        if isinstance(who, Response):
            return who
        ticket_id = request.path_params["ticket_id"]
        form = await request.form()
        try:
            console.transfer(deps.uow_factory, ticket_id, who[0], str(form.get("to") or ""), clock.now())
        except StaffError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        return RedirectResponse("/?m=transferred", status_code=303)

    async def resolve(request: Request) -> Response:
        who = await guard(request)
        if isinstance(who, Response):
            return who
        ticket_id = request.path_params["ticket_id"]
        form = await request.form()
        outcome = str(form.get("outcome") or "").strip()
        try:
            ticket = console.may_reply(deps.uow_factory, ticket_id, who[0])
            if not outcome:
                raise StaffError("say how it ended (the outcome)")
        except StaffError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        # The chat goes back to the assistant first; only then is the ticket closed (nothing half-done).
        back = await run_in_threadpool(agent_api, "resume", {"conversation_id": ticket.conversation_id})
        if back is None or back.status_code != 200:
            return JSONResponse({"error": "the assistant could not take the chat back; try again"}, status_code=502)
        console.resolve(deps.uow_factory, ticket_id, who[0], outcome, clock.now())
        return RedirectResponse("/?m=resolved", status_code=303)

    # --- supervisors ----------------------------------------------------------------------------
    async def audit_page(request: Request) -> Response:
        who = await guard(request, supervisor=True)
        if isinstance(who, Response):
            return who
        action = request.query_params.get("action") or None
        entries = staff.audit_log(deps.uow_factory, 300, action)
        return render(request, "audit.html", me=who[0], csrf=who[1], entries=entries, action=action)

    async def decisions_page(request: Request) -> Response:
        who = await guard(request, supervisor=True)
        if isinstance(who, Response):
            return who
        language = _language(request)
        referred = decisions.referred_extensions(deps.uow_factory)
        cases = [c for c in list_cases(deps.uow_factory, limit=100) if c.status != "closed"]
        return render(
            request,
            "decisions.html",
            me=who[0],
            csrf=who[1],
            referred=referred,
            cases=cases,
            options=[o.code for o in extension_options(extension_policy())],
            reasons={code: text[language] for code, text in decisions.REJECTION_REASONS.items()},
            transitions=decisions.CASE_TRANSITIONS,
            flash=request.query_params.get("m"),
        )

    async def tell_customer(decision: decisions.StaffDecision) -> bool:
        """Tell the customer in their chat, in their language (the next notice run follows the new schedule)."""
        text = decisions.customer_message_for(decision, decision.language)
        sent = await run_in_threadpool(
            agent_api, "messages", {"conversation_id": f"customer:{decision.customer_id}", "text": text}
        )
        return sent is not None and sent.status_code == 200

    async def decide_extension(request: Request) -> Response:
        who = await guard(request, supervisor=True)
        if isinstance(who, Response):
            return who
        reference, verdict = request.path_params["reference"], request.path_params["verdict"]
        form = await request.form()
        note = str(form.get("note") or "")[:500]
        try:
            if verdict == "approve":
                decision = decisions.approve_extension(
                    deps.uow_factory, reference, who[0].username, str(form.get("option") or "") or None,
                    clock.today(), clock.now(), note=note,
                )  # fmt: skip
            elif verdict == "reject":
                decision = decisions.reject_extension(
                    deps.uow_factory, reference, who[0].username, str(form.get("reason") or ""), note, clock.now()
                )
            else:
                return JSONResponse({"error": "approve or reject"}, status_code=404)
        except UserError as exc:
            return JSONResponse({"error": str(exc) or type(exc).__name__}, status_code=409)
        told = decision.already_recorded or await tell_customer(decision)
        console.close_referrals(
            deps.uow_factory, decision.customer_id, who[0], f"extension {decision.status} {reference}", clock.now()
        )
        with deps.uow_factory() as uow:
            staff.audit_in(
                uow, who[0].username, f"extension_{decision.status}", clock.now(), None,
                reference=reference, option=decision.option, reason=decision.reason_code, told=told,
            )  # fmt: skip
            uow.commit()
        return RedirectResponse(f"/decisions?m={decision.status}", status_code=303)

    async def decide_case(request: Request) -> Response:
        who = await guard(request, supervisor=True)
        if isinstance(who, Response):
            return who
        reference = request.path_params["reference"]
        form = await request.form()
        try:
            decided = decisions.case_status(
                deps.uow_factory, reference, who[0].username, str(form.get("status") or ""),
                str(form.get("note") or "")[:500], clock.now(), lift_suppression=form.get("lift") == "yes",
            )  # fmt: skip
        except UserError as exc:
            return JSONResponse({"error": str(exc) or type(exc).__name__}, status_code=409)
        with deps.uow_factory() as uow:
            staff.audit_in(
                uow, who[0].username, "case_status", clock.now(), None,
                reference=reference, status=decided.status, previous=decided.previous_status,
                suppression_lifted=decided.suppression_lifted, correction_recorded=decided.correction_recorded,
            )  # fmt: skip
            uow.commit()
        return RedirectResponse(
            f"/decisions?m={'corrected' if decided.correction_recorded else 'case'}", status_code=303
        )

    async def dashboard(request: Request) -> Response:
        """Supervisors: the report's headline figures for today, the last 7 and the last 30 days."""
        who = await guard(request, supervisor=True)
        if isinstance(who, Response):
            return who
        from bot.analytics.metrics import SPLITS
        from bot.analytics.report import Period, figures, values
        from bot.services.chat_log import idle_minutes

        today = clock.today()
        now_utc = clock.utc_now().replace(tzinfo=None)
        periods = {
            "today": Period(today, today),
            "7d": Period(today - dt.timedelta(days=6), today),
            "30d": Period(today - dt.timedelta(days=29), today),
        }
        found = {
            name: values(
                await run_in_threadpool(figures, deps.uow_factory, p, settings.bank_timezone, now_utc, idle_minutes())
            )
            for name, p in periods.items()
        }
        # Forms (each step), notices (sent, failed, held back by reason), cases and extension requests:
        # the report's figures outside the splits, for the last 7 days.
        others = [
            (metric, split, value)
            for (metric, split), value in found["7d"].items()
            if split not in SPLITS or metric.startswith("notices_")
        ]
        return render(
            request,
            "dashboard.html",
            me=who[0],
            csrf=who[1],
            found=found,
            periods=list(periods),
            metrics=DASHBOARD,
            others=others,
        )

    # --- conversation review (supervisors) --------------------------------------------------------
    review_settings = console_config()["review"]
    review_tags = [str(t) for t in review_settings["tags"]]

    def known_intents() -> tuple[str, ...]:
        return review.domain_intents(review.resolve_domain(settings.domain_path))

    def refusal(request: Request, code: str) -> str:
        words = _words(_language(request))
        text = words.get(f"review_error_{code}", words["review_error"])
        return text.format(max_days=review_settings["max_days"]) if "{max_days}" in text else text

    def review_clock() -> tuple[dt.datetime, dt.timedelta]:
        from bot.services.chat_log import idle_minutes

        return clock.utc_now().replace(tzinfo=None), dt.timedelta(minutes=idle_minutes())

    async def review_page(request: Request) -> Response:
        """Supervisors: the sessions of a period by outcome, intent, confidence, language, customer and tag."""
        who = await guard(request, supervisor=True)
        if isinstance(who, Response):
            return who
        from bot.analytics.metrics import FALLBACK_INTENTS

        context: dict[str, Any] = {
            "me": who[0], "csrf": who[1], "intents": sorted({*known_intents(), *FALLBACK_INTENTS}),
            "outcomes": review.OUTCOMES, "tags": review_tags, "found": None, "error": None,
        }  # fmt: skip
        try:
            wanted = review.parse_filter(
                request.query_params, clock.today(), int(review_settings["max_days"]), int(review_settings["page_size"])
            )
        except ReviewRefused as refused:
            context["error"] = refusal(request, refused.code)
            return render(request, "review.html", 400, q=dict(request.query_params), **context)
        now_utc, idle = review_clock()
        found = await run_in_threadpool(
            review.list_sessions, deps.uow_factory, wanted, settings.bank_timezone, now_utc, idle
        )
        context["found"] = found
        return render(request, "review.html", q=wanted.params(), **context)

    async def review_session_page(
        request: Request, who: tuple[Staff, str] | None = None, key: str | None = None, error: str | None = None
    ) -> Response:
        """Supervisors: one session as stored (masked), its tags, and a mark for each customer message."""
        if who is None:
            guarded = await guard(request, supervisor=True)
            if isinstance(guarded, Response):
                return guarded
            who = guarded
        key = key if key is not None else request.query_params.get("key", "")
        now_utc, idle = review_clock()
        try:
            found = await run_in_threadpool(
                review.session_detail, deps.uow_factory, key, settings.bank_timezone, now_utc, idle
            )
        except ReviewRefused as refused:
            return render(request, "message.html", 404, me=who[0], csrf=who[1], message=refusal(request, refused.code))
        done = request.query_params.get("m") if error is None else None
        return render(
            request, "review_session.html", 400 if error else 200, me=who[0], csrf=who[1], s=found.summary,
            turns=found.turns, intents=known_intents(), tags=review_tags, error=error,
            done=done if done in ("tagged", "untagged", "marked", "unmarked") else None,
        )  # fmt: skip

    async def review_session(request: Request) -> Response:
        return await review_session_page(request)

    def back_to(key: str, done: str, anchor: str = "") -> Response:
        return RedirectResponse(f"/review/session?{urlencode({'key': key, 'm': done})}{anchor}", status_code=303)

    async def review_action(request: Request) -> Response:
        """Tag, untag, mark or unmark (the path says which); a refusal shows the session again with why."""
        who = await guard(request, supervisor=True)
        if isinstance(who, Response):
            return who
        action = request.path_params["action"]
        if action not in ("tag", "untag", "mark", "unmark"):
            return JSONResponse({"error": "no such review action"}, status_code=404)
        form = await request.form()
        key, event_key = str(form.get("key") or ""), str(form.get("event_key") or "")
        anchor = f"#e-{event_key}" if re.fullmatch(r"[0-9a-f]{64}", event_key) else ""  # an event key, nothing else
        now = clock.now()
        try:
            if action == "tag":
                review.tag_session(deps.uow_factory, who[0], key, str(form.get("tag") or ""), now)
                return back_to(key, "tagged")
            if action == "untag":
                review.untag_session(deps.uow_factory, who[0], key, str(form.get("tag") or ""), now)
                return back_to(key, "untagged")
            if action == "mark":
                intent = str(form.get("intent") or "")
                review.mark_message(deps.uow_factory, who[0], key, event_key, intent, known_intents(), now)
                return back_to(key, "marked", anchor)
            review.unmark_message(deps.uow_factory, who[0], key, event_key, now)
            return back_to(key, "unmarked", anchor)
        except ReviewRefused as refused:
            return await review_session_page(request, who, key, refusal(request, refused.code))

    async def review_export(request: Request) -> Response:
        """Supervisors: the messages marked on some bank-local days as Rasa NLU training data (a download)."""
        who = await guard(request, supervisor=True)
        if isinstance(who, Response):
            return who
        form = await request.form()
        try:
            since, until = (
                dt.date.fromisoformat(str(form.get(name))) if form.get(name) else None for name in ("since", "until")
            )
        except ValueError:
            return render(request, "message.html", 400, me=who[0], csrf=who[1], message=refusal(request, "bad_date"))
        if since and until and until < since:
            return render(
                request, "message.html", 400, me=who[0], csrf=who[1], message=refusal(request, "dates_reversed")
            )
        exported = await run_in_threadpool(
            review.export_training_data, deps.uow_factory, known_intents(), since, until, who[0].username, clock.now()
        )
        name = f"review-nlu-{clock.today():%Y%m%d}.yml"
        return Response(
            exported.yaml,
            media_type="application/x-yaml; charset=utf-8",
            headers={**_headers(), "Content-Disposition": f'attachment; filename="{name}"'},
        )

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return JSONResponse({"error": "no such file"}, status_code=404)
        return Response((HERE / "static" / name).read_bytes(), media_type=ASSETS[name], headers=_headers())

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes = [
        Route("/health", health),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", queue_page),
        Route("/api/queue", queue_api),
        Route("/tickets/{ticket_id}", ticket_page),
        Route("/tickets/{ticket_id}/claim", claim, methods=["POST"]),
        Route("/api/tickets/{ticket_id}/lines", lines_api),
        Route("/tickets/{ticket_id}/reply", reply, methods=["POST"]),
        Route("/tickets/{ticket_id}/typing", typing, methods=["POST"]),
        Route("/tickets/{ticket_id}/note", note, methods=["POST"]),
        Route("/tickets/{ticket_id}/transfer", transfer, methods=["POST"]),
        Route("/tickets/{ticket_id}/resolve", resolve, methods=["POST"]),
        Route("/audit", audit_page),
        Route("/dashboard", dashboard),
        Route("/decisions", decisions_page),
        Route("/decisions/extensions/{reference}/{verdict}", decide_extension, methods=["POST"]),
        Route("/decisions/cases/{reference}", decide_case, methods=["POST"]),
        Route("/review", review_page),
        Route("/review/session", review_session),
        Route("/review/export", review_export, methods=["POST"]),
        Route("/review/{action:str}", review_action, methods=["POST"]),
        Route("/static/{name}", asset),
    ]

    async def unavailable(request: Request, _exc: Exception) -> Response:
        # The records database is down: say so; nothing was half-done (each action is one transaction).
        if request.url.path.startswith("/api/") or request.method != "GET":
            return JSONResponse({"error": "the records are unavailable; try again shortly"}, status_code=503)
        return render(request, "message.html", 503, message=_words(_language(request))["unavailable"])

    app = Starlette(routes=routes, exception_handlers={Outage: unavailable})
    app.state.deps = deps
    return app


def serve(host: str, port: int) -> None:
    import uvicorn

    # No WebSocket protocol: the console needs none, and Rasa pins a websockets release uvicorn cannot use.
    uvicorn.run(create_app(), host=host, port=port, log_level="warning", proxy_headers=False, ws="none")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
