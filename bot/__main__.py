"""Command line: ``python -m bot {migrate,seed,token,chat,cases,notices,tickets,conversations,agents,console,
report,analytics,review}``."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from typing import Any

from bot.settings import SettingsError, get_settings


def _cmd_migrate(_: argparse.Namespace) -> int:
    from bot.migrate import upgrade

    upgrade(get_settings().database_url)
    print("database schema is up to date")
    return 0


def _cmd_seed(args: argparse.Namespace) -> int:
    from bot import db, seed

    settings = get_settings()
    today = settings.clock().today()
    with db.session_factory(settings.database_url)() as session:
        if args.demo:
            inserted = seed.load_demo(session, today)
            session.commit()
            print(f"demo data {'loaded' if inserted else 'already present'} (today = {today.isoformat()})")
        if args.synthetic:
            count = seed.load_synthetic(session, args.synthetic, today)
            print(f"{count} synthetic customers loaded")
    if not (args.demo or args.synthetic):
        print("nothing to do: pass --demo and/or --synthetic N", file=sys.stderr)
        return 2
    return 0


def _cmd_token(args: argparse.Namespace) -> int:
    from bot.tokens import mint

    try:
        token = mint(args.customer_id, get_settings().jwt_secret, ttl=dt.timedelta(minutes=args.minutes))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


def _cmd_chat(args: argparse.Namespace) -> int:
    from bot.chat import run_chat

    return run_chat(get_settings(), customer_id=args.as_customer, url=args.url)


def _cmd_cases(args: argparse.Namespace) -> int:
    from bot.domain.privacy import mask_phone
    from bot.services.cases import get_case, list_cases
    from bot.unit_of_work import SqlAlchemyUnitOfWork

    url = get_settings().database_url
    factory = lambda: SqlAlchemyUnitOfWork(url)  # noqa: E731
    if args.action == "show":
        case = get_case(factory, args.reference or "")
        if case is None:
            print(f"no case {args.reference!r}", file=sys.stderr)
            return 1
        for field in (
            "reference",
            "type",
            "status",
            "urgent",
            "customer_id",
            "loan_id",
            "phone",
            "details",
            "created_at",
            "updated_at",
        ):
            print(f"{field:12} {getattr(case, field)}")
        return 0
    for case in list_cases(factory, args.type):
        phone = mask_phone(case.phone) if case.phone else "-"
        flag = "URGENT" if case.urgent else ""
        print(
            f"{case.reference:16} {case.type:16} {case.status:13} {case.customer_id or '-':8} {case.loan_id or '-':8} {phone:12} {case.created_at:%Y-%m-%d %H:%M} {flag}"
        )
    return 0


def _explain_notices(uow_factory: Callable[[], Any], customer_id: str | None, at: dt.datetime) -> int:
    from bot.services.notices import default_segments, explain
    from bot.services.preferences import get_contact_preferences

    if not customer_id:
        print("error: notices explain needs a customer id, e.g. python -m bot notices explain C1006", file=sys.stderr)
        return 2
    found = explain(uow_factory, customer_id, at)
    if found is None:
        print(f"error: no customer {customer_id}", file=sys.stderr)
        return 1
    segments = {s.name: s for s in default_segments().segments}
    prefs = get_contact_preferences(uow_factory, customer_id)
    print(f"{customer_id} at {at:%Y-%m-%d %H:%M} (bank time)")
    print(
        f"  contact preferences: {'no calls' if prefs.no_calls else 'calls allowed'}, "
        f"prefers {prefs.prefer or 'no channel in particular'}"
    )
    if not found.now:
        print("  nothing overdue: no notice is due")
    for j in found.now:
        d = j.decision
        if d.send:
            verdict = f"send {d.template} by {d.channel} ({d.reason})"
        else:
            verdict = f"hold: {d.reason}" + (f" ({d.channel})" if d.reason not in ("quiet_hours",) else "")
        if d.channel_note:
            verdict += f" [{d.channel_note}]"
        print(f"  {j.loan_id} instalment {j.seq} due {j.due_date}: segment {j.segment.name} -> {verdict}")
        if j.call is not None:
            call = "place a call task" if j.call.send else f"hold: {j.call.reason}"
            print(f"    call: {call}")
        print(f"    channels of the segment: {j.segment.channels()}")
        print(f"    facts: {j.facts.days_overdue} days overdue, {j.facts.overdue_instalments} overdue now, "
              f"{j.facts.paid_late_before} paid late before, on plan {j.facts.on_plan}, hardship {j.facts.hardship}")  # fmt: skip
        print(f"    why: {j.segment.why(j.facts, 'en')} / {j.segment.why(j.facts, 'zh')}")
    print("notices in the last 90 days:" if found.history else "no notice in the last 90 days")
    for sent_at, status, template, segment, facts, channel in found.history:
        why = segments[segment].why(facts, "en") if segment in segments and facts else "recorded before segments"
        print(f"  {sent_at:%Y-%m-%d %H:%M} {channel:6} {status:8} {template:18} {segment or '-'}: {why}")
    if found.held:
        print("held back in the last 30 days: " + ", ".join(f"{d} {r}" for d, r in found.held))
    return 0


def _notice_preferences(args: argparse.Namespace, uow_factory: Callable[[], Any], now: dt.datetime) -> int:
    from bot.domain.errors import ChannelNotOffered, CustomerNotFound
    from bot.services.preferences import get_contact_preferences, set_contact_preferences

    if not args.customer:
        print(
            "error: notices preferences needs a customer id, e.g. "
            "python -m bot notices preferences C1004 --no-calls --prefer in_app",
            file=sys.stderr,
        )
        return 2
    try:
        if args.no_calls is None and args.prefer is None:
            view = get_contact_preferences(uow_factory, args.customer)
        else:
            view = set_contact_preferences(uow_factory, args.customer, now, args.no_calls, args.prefer)
    except CustomerNotFound:
        print(f"error: no customer {args.customer}", file=sys.stderr)
        return 1
    except ChannelNotOffered as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    when = f"set {view.updated_at:%Y-%m-%d %H:%M}" if view.updated_at else "never set"
    print(
        f"{view.customer_id}: calls {'no' if view.no_calls else 'allowed'}, "
        f"written notices {view.prefer or 'as the segment chooses'} ({when})"
    )
    return 0


def _simulate_notices(args: argparse.Namespace, start: dt.date) -> int:
    import json
    from pathlib import Path

    from bot.simulate import plot, render, simulate

    if not 1 <= args.customers <= 200_000 or not 1 <= args.days <= 366:
        print("error: --customers must be 1-200000 and --days 1-366", file=sys.stderr)
        return 2
    policies = [Path(args.policy) if args.policy else get_settings().config_file("notice_policy.yml")]
    if args.compare:
        policies.append(Path(args.compare))
    missing = [str(p) for p in policies if not p.is_file()]
    if missing:
        print(f"error: no policy file {', '.join(missing)}", file=sys.stderr)
        return 2
    outcomes = [simulate(p, args.customers, args.days, start) for p in policies]
    command = "python -m bot notices simulate " + " ".join(sys.argv[3:] if len(sys.argv) > 3 else [])
    report = render(outcomes, command.strip())
    print(report)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "notice_simulation.md").write_text(report, encoding="utf-8")
        (out / "notice_simulation.json").write_text(
            json.dumps([o.as_dict() for o in outcomes], indent=2, ensure_ascii=False), encoding="utf-8"
        )
        plot(outcomes, out / "notice_simulation.png")
    return 0


def _cmd_notices(args: argparse.Namespace) -> int:
    from bot.notice_senders import CallDialer, FileDialer, FileSender, HttpDialer, HttpGatewaySender, NoticeSender
    from bot.services.notices import deliver_calls, deliver_in_app, deliver_pending, run_notices
    from bot.settings import REPO_ROOT
    from bot.unit_of_work import SqlAlchemyUnitOfWork

    settings = get_settings()
    clock = settings.clock()
    try:
        day = dt.date.fromisoformat(args.date) if args.date else clock.today()
        at = dt.datetime.combine(day, dt.time.fromisoformat(args.time) if args.time else clock.now().time())
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sender: NoticeSender
    if settings.sms_gateway_url:
        sender = HttpGatewaySender(settings.sms_gateway_url, settings.sms_gateway_token or "")
        where = settings.sms_gateway_url
    else:
        sender = FileSender(REPO_ROOT / "var" / "sms_outbox.jsonl")
        where = "var/sms_outbox.jsonl (set SMS_GATEWAY_URL to use a gateway)"
    dialer: CallDialer
    if settings.dialer_url:
        dialer = HttpDialer(settings.dialer_url, settings.dialer_token or "")
        dial_where = settings.dialer_url
    else:
        dialer = FileDialer(REPO_ROOT / "var" / "call_outbox.jsonl")
        dial_where = "var/call_outbox.jsonl (set DIALER_URL to use a dialer)"
    url = settings.database_url
    if args.action == "preferences":
        return _notice_preferences(args, lambda: SqlAlchemyUnitOfWork(url), clock.now())
    if args.action == "simulate":
        return _simulate_notices(args, day)
    if args.action == "explain":
        return _explain_notices(lambda: SqlAlchemyUnitOfWork(url), args.customer, at)
    if args.action == "send":
        factory = lambda: SqlAlchemyUnitOfWork(url)  # noqa: E731
        sent = deliver_pending(factory, sender, clock)
        deliver_in_app(factory, clock, sent)
        deliver_calls(factory, dialer, clock, sent)
        print(
            f"sent {sent.sent}, failed {sent.failed}: {_by_channel(sent.delivered)}; SMS -> {where}; calls -> {dial_where}"
        )
        return 0
    clock_for_run = None if args.date or args.time else clock  # a run judged at another moment is stamped then
    report = run_notices(
        lambda: SqlAlchemyUnitOfWork(url), sender, at, dry_run=args.dry_run, clock=clock_for_run, dialer=dialer
    )
    verb = "would send" if args.dry_run else "recorded"
    print(
        f"{at:%Y-%m-%d %H:%M}: {verb} {len(report.recorded)} notice(s) ({_by_channel(report.by_channel)}); "
        f"sent {report.sent}, failed {report.failed}; SMS -> {where}; calls -> {dial_where}"
    )
    for customer_id, loan_id, reason in report.recorded:
        print(f"  {customer_id} {loan_id} {reason}")
    for reason, count in sorted(report.skipped.items()):
        print(f"  skipped {count:5} {reason}")
    return 0


def _by_channel(counts: Any) -> str:
    return ", ".join(f"{channel} {counts.get(channel, 0)}" for channel in ("sms", "in_app", "call"))


def _cmd_tickets(args: argparse.Namespace) -> int:
    import json
    import time

    from bot.services.handoff import deliver_due, get_ticket, list_tickets, retry_now
    from bot.unit_of_work import SqlAlchemyUnitOfWork

    settings = get_settings()
    url = settings.database_url
    factory = lambda: SqlAlchemyUnitOfWork(url)  # noqa: E731
    if args.action == "list":
        for t in list_tickets(factory):
            print(
                f"{t.ticket_id:16} {t.status:10} {t.priority:7} {t.reason:19} {t.customer_id or '-':8} attempts={t.attempts} {t.last_error or ''}"
            )
        return 0
    if args.action == "show":
        ticket = get_ticket(factory, args.ticket_id or "")
        if ticket is None:
            print(f"no ticket {args.ticket_id!r}", file=sys.stderr)
            return 1
        print(
            json.dumps(
                {
                    **ticket.payload(),
                    "status": ticket.status,
                    "attempts": ticket.attempts,
                    "last_error": ticket.last_error,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    if args.action == "retry":
        print(f"{retry_now(factory, args.ticket_id, settings.clock().now())} ticket(s) due now")
        return 0
    # worker: deliver due tickets until stopped (or once)
    if not settings.handoff_webhook_url:
        print("HANDOFF_WEBHOOK_URL is not set: tickets wait in the database", file=sys.stderr)
        return 0 if args.once else 2
    while True:
        report = deliver_due(
            factory,
            settings.handoff_webhook_url,
            settings.clock(),
            timeout=args.timeout,
            lease_seconds=args.lease_seconds,
        )
        if report.delivered or report.failed:
            print(f"delivered {report.delivered}, failed {report.failed}", flush=True)
        if args.once:
            return 0
        time.sleep(args.interval)


def _cmd_conversations(args: argparse.Namespace) -> int:

    from bot.clock import system_utc_now
    from bot.conversations import prune

    url = args.url or get_settings().tracker_store_url
    if not url:
        print("give --url or set TRACKER_STORE_URL (an SQL tracker store)", file=sys.stderr)
        return 2
    if args.days < 1:
        print("--days must be at least 1", file=sys.stderr)
        return 2
    # Rasa stamps events with the real time, so retention counts from the real time too.
    cutoff = system_utc_now() - dt.timedelta(days=args.days)
    count = prune(url, cutoff, dry_run=args.dry_run)
    print(f"{'would remove' if args.dry_run else 'removed'} {count} event(s) older than {cutoff:%Y-%m-%d %H:%M} UTC")
    return 0


def _cmd_agents(args: argparse.Namespace) -> int:
    """Create a console account, or change an existing one's password and role (password on stdin)."""
    from bot.services.staff import StaffError, add_or_change
    from bot.settings import get_settings
    from bot.unit_of_work import SqlAlchemyUnitOfWork

    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"password for {args.username}: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        created = add_or_change(SqlAlchemyUnitOfWork, args.username, args.role, password, get_settings().clock().now())
    except StaffError as exc:
        print(f"not saved: {exc}", file=sys.stderr)
        return 2
    print(f"{'created' if created else 'updated'} {args.role} {args.username}")
    return 0


def _cmd_console(args: argparse.Namespace) -> int:
    from bot.console.app import serve
    from bot.settings import get_settings

    settings = get_settings()
    port = args.port or settings.console_port
    if not settings.agent_api_token:
        print("warning: AGENT_API_TOKEN is not set: the console cannot write to customers", file=sys.stderr)
    print(f"agent console on http://{args.host}:{port}/", flush=True)
    serve(args.host, port)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    """The period's figures as DIR/metrics.csv and DIR/report.html (CONTRACTS section 9)."""
    from pathlib import Path

    from bot.analytics.report import figures, parse_period, write
    from bot.services.chat_log import idle_minutes
    from bot.settings import get_settings
    from bot.unit_of_work import SqlAlchemyUnitOfWork

    settings = get_settings()
    clock = settings.clock()
    try:
        period = parse_period(args.since, args.until, clock.today())
    except ValueError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    now = clock.utc_now().replace(tzinfo=None)
    current = figures(SqlAlchemyUnitOfWork, period, settings.bank_timezone, now, idle_minutes())
    previous = figures(SqlAlchemyUnitOfWork, period.previous(), settings.bank_timezone, now, idle_minutes())
    csv_path, html_path = write(Path(args.out), current, previous)
    print(f"wrote {html_path} and {csv_path} ({len(current.figures)} figures)")
    return 0


def _cmd_analytics(args: argparse.Namespace) -> int:
    """The analytics event pipeline: consume the broker (RabbitMQ or Rasa's SQL table), or reconcile."""
    import logging
    from zoneinfo import ZoneInfo

    from bot.analytics.consumer import ConsumerOptions, consume_rabbitmq, consume_table
    from bot.analytics.reconcile import reconcile
    from bot.analytics.sources import sqlite_path_exists
    from bot.unit_of_work import SqlAlchemyUnitOfWork

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # pika logs every connection step, and each failed reconnect with a traceback; the consumer says what matters.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    settings = get_settings()
    url = args.database_url or settings.database_url
    factory = lambda: SqlAlchemyUnitOfWork(url)  # noqa: E731
    clock = settings.clock()
    if args.action == "consume":
        options = ConsumerOptions(batch_size=args.batch_size, max_wait=args.max_wait, max_backoff=args.max_backoff,
                                  prefetch=2 * args.batch_size)  # fmt: skip
        if args.from_sql:
            report = consume_table(factory, clock, args.from_sql, options, once=args.once)
        else:
            queue, exchange = args.queue or settings.analytics_queue, args.exchange or settings.analytics_exchange
            report = consume_rabbitmq(
                factory, clock, args.rabbitmq_url or settings.rabbitmq_url, queue, exchange, options
            )
        print(f"analytics consume: {report.summary()}", flush=True)
        return 0
    source = args.tracker_store_url or settings.tracker_store_url or settings.redis_url
    if not source:
        print("give --tracker-store-url, or set TRACKER_STORE_URL or REDIS_URL", file=sys.stderr)
        return 2
    if not sqlite_path_exists(source):
        print(f"no tracker store at {source}", file=sys.stderr)
        return 2
    since = None
    if args.since:
        try:
            moment = dt.datetime.fromisoformat(args.since)
        except ValueError:
            print(f"--since must be an ISO date or time, got {args.since!r}", file=sys.stderr)
            return 2
        if moment.tzinfo is None:  # a bank-local time, as everywhere in the CLI
            moment = moment.replace(tzinfo=ZoneInfo(settings.bank_timezone))
        since = moment.timestamp()
    report = reconcile(factory, clock, source, since, key_prefix=args.key_prefix)
    print(f"analytics reconcile: {report.summary()}", flush=True)
    return 0


def _cmd_review(args: argparse.Namespace) -> int:
    """Conversation review: the messages supervisors marked with their correct intent, as Rasa NLU training data."""
    import os
    from pathlib import Path

    from bot.services.review import domain_intents, export_training_data, resolve_domain
    from bot.unit_of_work import SqlAlchemyUnitOfWork

    settings = get_settings()
    try:
        since = dt.date.fromisoformat(args.since) if args.since else None
        until = dt.date.fromisoformat(args.until) if args.until else None
    except ValueError:
        print("review export: dates must be ISO dates like 2026-11-28", file=sys.stderr)
        return 2
    if since and until and until < since:
        print("review export: --until is before --since", file=sys.stderr)
        return 2
    url = settings.database_url
    intents = domain_intents(resolve_domain(settings.domain_path))
    exported = export_training_data(
        lambda: SqlAlchemyUnitOfWork(url), intents, since, until, "cli", settings.clock().now()
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_text(exported.yaml, encoding="utf-8")
    os.replace(partial, out)  # a reader never sees half a file
    for text in exported.conflicts:
        print(f"review export: marked with different intents, the latest mark kept: {text}", file=sys.stderr)
    if exported.unknown_intents:
        print(
            f"review export: left out marks with intents the domain no longer has: {', '.join(exported.unknown_intents)}",
            file=sys.stderr,
        )
    if exported.not_examples:
        print(f"review export: left out {exported.not_examples} mark(s) whose text is no example", file=sys.stderr)
    counts = f"{exported.examples} example(s) of {exported.intents} intent(s) from {exported.marks} mark(s)"
    print(f"wrote {counts} to {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand and option of ``python -m bot`` (the deployment files are checked against it)."""
    parser = argparse.ArgumentParser(prog="python -m bot", description="Overdue-notice support assistant tools.")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="create or upgrade the database schema").set_defaults(func=_cmd_migrate)

    p = sub.add_parser("seed", help="load demo or synthetic data")
    p.add_argument("--demo", action="store_true", help="the demo customers of CONTRACTS section 5 (idempotent)")
    p.add_argument("--synthetic", type=int, metavar="N", default=0, help="N synthetic customers for benchmarks")
    p.set_defaults(func=_cmd_seed)

    p = sub.add_parser("token", help="print a signed in-app token for a customer (development aid)")
    p.add_argument("customer_id")
    p.add_argument("--minutes", type=int, default=720, help="validity (default 720)")
    p.set_defaults(func=_cmd_token)

    p = sub.add_parser("chat", help="chat with the running bot over the in-app channel")
    p.add_argument("--as", dest="as_customer", metavar="CUSTOMER_ID", help="chat as this customer (default: anonymous)")
    p.add_argument("--url", help="channel URL (default: http://127.0.0.1:$RASA_PORT/webhooks/inapp/webhook)")
    p.set_defaults(func=_cmd_chat)

    p = sub.add_parser("cases", help="list or show fraud cases (identity misuse, wrong number, scam report)")
    p.add_argument("action", choices=["list", "show"])
    p.add_argument("reference", nargs="?", help="case reference, for show")
    p.add_argument("--type", choices=["identity_misuse", "wrong_number", "scam_report"])
    p.set_defaults(func=_cmd_cases)

    p = sub.add_parser("notices", help="the overdue-notice engine")
    p.add_argument(
        "action",
        choices=["run", "send", "explain", "simulate", "preferences"],
        help="run: record what is due and deliver it (SMS, in-app, call tasks); send: deliver what is recorded; "
        "explain CUSTOMER: why that customer gets the notices they get; "
        "simulate: the rules day by day over a synthetic book, with an assumed behaviour model; "
        "preferences CUSTOMER [--no-calls|--calls] [--prefer in_app|sms|none]: show or set how they want to be contacted",
    )
    p.add_argument("customer", nargs="?", help="explain, preferences: the customer id (e.g. C1006)")
    calls = p.add_mutually_exclusive_group()
    calls.add_argument(
        "--no-calls", dest="no_calls", action="store_const", const=True, help="preferences: never call this customer"
    )
    calls.add_argument(
        "--calls", dest="no_calls", action="store_const", const=False, help="preferences: calls allowed again"
    )
    p.add_argument(
        "--prefer",
        choices=["in_app", "sms", "none"],
        help="preferences: the channel for written notices (none: as the segment chooses)",
    )
    p.add_argument("--date", help="the day to run for (ISO date; default today)")
    p.add_argument("--time", help="local time of the run, HH:MM (default now); nothing is sent 22:00-08:00")
    p.add_argument("--dry-run", action="store_true", help="decide and report; record and send nothing")
    p.add_argument("--customers", type=int, default=1000, help="simulate: synthetic customers (default 1000)")
    p.add_argument("--days", type=int, default=60, help="simulate: days to run (default 60)")
    p.add_argument("--policy", help="simulate: a notice policy file (default config/notice_policy.yml)")
    p.add_argument("--compare", help="simulate: an alternative policy file, run on the same book and draws")
    p.add_argument("--out", help="simulate: a folder for notice_simulation.md, .json and .png")
    p.set_defaults(func=_cmd_notices)

    p = sub.add_parser("tickets", help="handoff tickets: list, show, retry, or run the delivery worker")
    p.add_argument("action", choices=["list", "show", "retry", "worker"])
    p.add_argument("ticket_id", nargs="?", help="for show and retry (retry without an id: all pending)")
    p.add_argument("--once", action="store_true", help="worker: one delivery pass, then exit")
    p.add_argument("--interval", type=float, default=2.0, help="worker: seconds between passes")
    p.add_argument("--timeout", type=float, default=5.0, help="worker: seconds to wait for the helpdesk")
    p.add_argument(
        "--lease-seconds",
        type=float,
        default=None,
        help="worker: how long a claimed batch is held before another worker may send it (default: enough for a batch)",
    )
    p.set_defaults(func=_cmd_tickets)

    p = sub.add_parser("conversations", help="retention for conversations in an SQL tracker store")
    p.add_argument("action", choices=["prune"])
    p.add_argument("--days", type=int, required=True, help="keep what the bot still sees and the last N days")
    p.add_argument("--url", help="SQLAlchemy URL of the tracker store (default: $TRACKER_STORE_URL)")
    p.add_argument("--dry-run", action="store_true", help="count only")
    p.set_defaults(func=_cmd_conversations)

    p = sub.add_parser("agents", help="agent console accounts")
    p.add_argument("action", choices=["add"])
    p.add_argument("username")
    p.add_argument("--role", choices=["agent", "supervisor"], required=True)
    p.set_defaults(func=_cmd_agents)

    p = sub.add_parser("report", help="analytics report of a period: DIR/report.html and DIR/metrics.csv")
    p.add_argument("--since", required=True, help="first day, ISO date (bank time)")
    p.add_argument("--until", help="last day, ISO date (default today)")
    p.add_argument("--out", required=True, help="directory to write to")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("console", help="serve the agent console (default 127.0.0.1:$CONSOLE_PORT)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(func=_cmd_console)

    p = sub.add_parser("analytics", help="the analytics event pipeline: consume Rasa's events, or reconcile")
    p.add_argument("action", choices=["consume", "reconcile"])
    p.add_argument("--database-url", help="where analytics_events live (default: $DATABASE_URL)")
    p.add_argument(
        "--from-sql", metavar="URL", help="consume: Rasa's SQL event broker table at URL instead of RabbitMQ"
    )
    p.add_argument("--once", action="store_true", help="consume --from-sql: stop when the table is read")
    p.add_argument("--rabbitmq-url", help="consume: default $RABBITMQ_URL (amqp://guest:guest@127.0.0.1:5672/)")
    p.add_argument("--queue", help="consume: durable queue (default $ANALYTICS_QUEUE, rasa_events)")
    p.add_argument("--exchange", help="consume: Rasa's fanout exchange (default $ANALYTICS_EXCHANGE, rasa-exchange)")
    p.add_argument("--batch-size", type=int, default=200, help="consume: events per transaction (default 200)")
    p.add_argument("--max-wait", type=float, default=0.5, help="consume: seconds a batch waits to fill (default 0.5)")
    p.add_argument("--max-backoff", type=float, default=10.0, help="consume: longest wait while the database is down")
    p.add_argument(
        "--tracker-store-url",
        help="reconcile: SQL or redis:// tracker store (default $TRACKER_STORE_URL, then $REDIS_URL)",
    )
    p.add_argument("--key-prefix", default="bot", help="reconcile: the Redis tracker store's key_prefix (default bot)")
    p.add_argument(
        "--since", help="reconcile: only events from this ISO date or time on (bank time unless it has an offset)"
    )
    p.set_defaults(func=_cmd_analytics)

    p = sub.add_parser("review", help="conversation review: export the marked messages as NLU training data")
    p.add_argument("action", choices=["export"])
    p.add_argument("--out", required=True, help="the YAML file to write (Rasa NLU training data)")
    p.add_argument("--since", help="first bank-local day the marks were made on (ISO date; default: all)")
    p.add_argument("--until", help="last bank-local day the marks were made on (ISO date; default: all)")
    p.set_defaults(func=_cmd_review)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
