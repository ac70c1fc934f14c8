"""The notice channels end to end on SQLite and PostgreSQL: SMS, in-app messages into the customer's
own chat, and call tasks handed to a dialer over HTTP (a fake one on 127.0.0.1), with one set of caps,
the customer's contact preferences, corrections on the wrong notice's channel, and migration 0017."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, select

from bot import db
from bot.clock import FixedClock
from bot.domain.model import Instalment, NoticeHold, SmsNotice
from bot.domain.notices import NoticePolicy
from bot.migrate import alembic_config
from bot.notice_senders import FileSender, HttpDialer, OutgoingCall
from bot.services import chat_log
from bot.services.corrections import correct_proven_errors
from bot.services.notices import default_policy, deliver_calls, deliver_in_app, run_notices
from bot.services.preferences import set_contact_preferences
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.conftest import TODAY  # a Saturday

MONDAY = TODAY + dt.timedelta(days=2)
#: The demo notice log already holds six notices for the long-overdue instalments; lift that cap only.
GENEROUS = NoticePolicy(**{**default_policy().__dict__, "max_notices_per_instalment": 50})


def at(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute))


def uow(url):
    return lambda: SqlAlchemyUnitOfWork(url)


def notices_of(url, customer: str, since: dt.datetime) -> list[SmsNotice]:
    with db.session_factory(url)() as session:
        stmt = select(SmsNotice).where(SmsNotice.customer_id == customer, SmsNotice.sent_at >= since)
        return list(session.execute(stmt.order_by(SmsNotice.id)).scalars())


def holds_of(url, customer: str) -> set[tuple[dt.date, str]]:
    with db.session_factory(url)() as session:
        stmt = select(NoticeHold.day, NoticeHold.reason).where(NoticeHold.customer_id == customer)
        return {(d, r) for d, r in session.execute(stmt)}


class ListDialer:
    def __init__(self) -> None:
        self.calls: list[OutgoingCall] = []

    def place(self, call: OutgoingCall) -> None:
        self.calls.append(call)


@pytest.fixture
def outbox(tmp_path) -> FileSender:
    return FileSender(tmp_path / "sms.jsonl")


def sms_to(outbox: FileSender) -> list[str]:
    if not outbox.path.exists():
        return []
    return [json.loads(line)["to"] for line in outbox.path.read_text(encoding="utf-8").splitlines()]


class FakeDialer:
    """A dialer on 127.0.0.1: records every POST; ``down`` answers 503; ``lose_first_reply`` accepts a
    call but answers 500 the first time (the reply got lost), as a real dialer behind a flaky proxy."""

    def __init__(self) -> None:
        self.down = False
        self.lose_first_reply = False
        self.posts: list[tuple[str, dict]] = []
        self.accepted: Counter[str] = Counter()  # calls the dialer queued, by Idempotency-Key
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers["Idempotency-Key"]
                fake.posts.append((key, body))
                if fake.down:
                    self.send_response(503)
                else:
                    first = key not in fake.accepted
                    if first:
                        fake.accepted[key] += 1  # a repeat of the same key is dropped, as a dialer does
                    self.send_response(500 if fake.lose_first_reply and first else 202)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/calls"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def dialer() -> Iterator[FakeDialer]:
    fake = FakeDialer()
    yield fake
    fake.close()


def test_a_long_overdue_borrower_gets_an_sms_and_a_call_task_with_a_bilingual_script_on_a_working_day(
    database_url, outbox
) -> None:
    calls = ListDialer()
    report = run_notices(uow(database_url), outbox, at(MONDAY), policy=GENEROUS, dialer=calls)
    mine = notices_of(database_url, "C1004", at(MONDAY))
    assert sorted(n.channel for n in mine) == ["call", "sms"]
    call = next(n for n in mine if n.channel == "call")
    assert call.template == "call_overdue" and call.segment == "long_overdue" and call.status == "sent"
    assert call.phone == "13800001004" and "陈*" in call.text and "陈磊" not in call.text
    script = json.loads(call.call_script)["script"]
    assert "请问是陈*本人吗" in script["zh"] and "Am I speaking with" in script["en"]
    (placed,) = [c for c in calls.calls if c.to == "13800001004"]
    assert placed.reference == call.idempotency_key and placed.language == "zh" and placed.script == script
    assert report.by_channel["call"] == len(calls.calls) and "13800001004" in sms_to(outbox)
    # A second run the same day places no second call and sends no second text.
    placed_before = len(calls.calls)
    run_notices(uow(database_url), outbox, at(MONDAY, 15), policy=GENEROUS, dialer=calls)
    assert len(notices_of(database_url, "C1004", at(MONDAY))) == 2 and len(calls.calls) == placed_before
    assert sms_to(outbox).count("13800001004") == 1


def test_no_call_is_placed_at_the_weekend_or_after_hours_and_the_hold_is_recorded(database_url, outbox) -> None:
    calls = ListDialer()
    run_notices(uow(database_url), outbox, at(TODAY), policy=GENEROUS, dialer=calls)  # Saturday 10:00
    assert calls.calls == [] and [n.channel for n in notices_of(database_url, "C1004", at(TODAY))] == ["sms"]
    assert (TODAY, "call_outside_working_hours") in holds_of(database_url, "C1004")
    run_notices(uow(database_url), outbox, at(MONDAY, 19), policy=GENEROUS, dialer=calls)  # after 18:00
    assert calls.calls == [] and (MONDAY, "call_outside_working_hours") in holds_of(database_url, "C1004")
    run_notices(uow(database_url), outbox, at(MONDAY, 22, 30), policy=GENEROUS, dialer=calls)
    assert calls.calls == []  # the quiet hours hold every channel


def test_a_call_task_is_neither_lost_nor_placed_twice_when_the_dialer_is_down_then_back(database_url, outbox, dialer):
    http = HttpDialer(dialer.url, "dialer-token", timeout=2.0, attempts=2, backoff=0.01)
    dialer.down = True
    first = run_notices(uow(database_url), outbox, at(MONDAY), policy=GENEROUS, dialer=http)
    recorded = [n for n in notices_of(database_url, "C1004", at(MONDAY)) if n.channel == "call"]
    assert len(recorded) == 1 and recorded[0].status == "failed" and first.failed >= 1
    assert dialer.accepted == Counter() and len(dialer.posts) >= 2  # retried with backoff, then given up
    # Back, but the first reply is lost: the outbox hands it over again with the same key, the dialer
    # drops the repeat, and the task is recorded as accepted.
    dialer.down, dialer.lose_first_reply = False, True
    later = FixedClock(at(MONDAY, 11))
    deliver_calls(uow(database_url), http, later)
    deliver_calls(uow(database_url), http, later)  # nothing is left to hand over
    (call,) = [n for n in notices_of(database_url, "C1004", at(MONDAY)) if n.channel == "call"]
    assert call.status == "sent" and call.delivered_at == later.now()
    assert dialer.accepted[call.idempotency_key] == 1
    assert {key for key, _ in dialer.posts} == set(dialer.accepted)  # every post carried a known task's key
    body = next(b for k, b in dialer.posts if k == call.idempotency_key)
    assert body["to"] == "13800001004" and set(body["script"]) == {"zh", "en"}
    # The next run the same day records no new call task.
    run_notices(uow(database_url), outbox, at(MONDAY, 14), policy=GENEROUS, dialer=http)
    assert len([n for n in notices_of(database_url, "C1004", at(MONDAY)) if n.channel == "call"]) == 1
    assert sum(dialer.accepted.values()) == len(dialer.accepted)


def test_an_in_app_notice_appears_once_in_the_customers_own_chat_history_and_reaches_no_number(
    database_url, outbox
) -> None:
    set_contact_preferences(uow(database_url), "C1001", at(TODAY), prefer="in_app")
    run_notices(uow(database_url), outbox, at(MONDAY), dialer=ListDialer())
    (notice,) = notices_of(database_url, "C1001", at(MONDAY))
    assert notice.channel == "in_app" and notice.status == "sent" and notice.reason.endswith("days overdue")
    assert "preferred_in_app" in notice.reason and "13800001001" not in sms_to(outbox)
    history = chat_log.history(uow(database_url), "customer:C1001")
    (line,) = [line for line in history.lines if line.kind == "notice"]
    assert line.text == notice.text and "张*" in line.text and "1,080.00" in line.text
    assert line.payload()["kind"] == "notice"
    # The live stream sends the lines after the last one the page saw: the notice is among them.
    assert [x.seq for x in chat_log.lines_after(uow(database_url), "customer:C1001", 0)] == [line.seq]
    # Delivering again adds nothing; no visitor's conversation gets it.
    deliver_in_app(uow(database_url), FixedClock(at(MONDAY, 12)))
    run_notices(uow(database_url), outbox, at(MONDAY, 16))
    assert len([x for x in chat_log.history(uow(database_url), "customer:C1001").lines if x.kind == "notice"]) == 1
    assert chat_log.history(uow(database_url), "visitor:C1001abcd").lines == []


def test_a_customer_who_asked_for_no_calls_is_not_called_and_the_hold_says_why(
    database_url, outbox, capsys, monkeypatch
):
    from bot.__main__ import main
    from bot.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("BOT_TODAY", TODAY.isoformat())
    get_settings.cache_clear()
    try:
        assert main(["notices", "preferences", "C1004", "--no-calls", "--prefer", "in_app"]) == 0
        assert "C1004: calls no, written notices in_app" in capsys.readouterr().out
        assert main(["notices", "preferences", "C9999", "--no-calls"]) == 1
        assert "no customer C9999" in capsys.readouterr().err
        assert main(["notices", "preferences"]) == 2
        assert "needs a customer id" in capsys.readouterr().err
        with pytest.raises(SystemExit) as bad:
            main(["notices", "preferences", "C1004", "--prefer", "fax"])
        assert bad.value.code == 2 and "invalid choice: 'fax'" in capsys.readouterr().err
        with pytest.raises(SystemExit):
            main(["notices", "preferences", "C1004", "--no-calls", "--calls"])
        capsys.readouterr()
    finally:
        get_settings.cache_clear()
    calls = ListDialer()
    run_notices(uow(database_url), outbox, at(MONDAY), policy=GENEROUS, dialer=calls)
    assert [c.to for c in calls.calls if c.to == "13800001004"] == []
    assert (MONDAY, "call_customer_asked_no_calls") in holds_of(database_url, "C1004")
    # The credit-bureau notice stays an SMS to the registered number, whatever the preference.
    assert [n.channel for n in notices_of(database_url, "C1004", at(MONDAY))] == ["sms"]
    # Another borrower, without the preference, is still called.
    assert "13800001002" in [c.to for c in calls.calls]


def test_the_caps_are_shared_across_channels_in_a_run(database_url, outbox) -> None:
    # C1004 got notices this week already: with one slot left, the SMS takes it and the call is held.
    tight = NoticePolicy(**{**GENEROUS.__dict__, "max_notices_per_customer_per_week": 1})
    calls = ListDialer()
    run_notices(uow(database_url), outbox, at(MONDAY), policy=tight, dialer=calls)
    mine = notices_of(database_url, "C1004", at(MONDAY))
    assert [n.channel for n in mine] == ["sms"] and not [c for c in calls.calls if c.to == "13800001004"]
    assert (MONDAY, "call_cap_per_customer") in holds_of(database_url, "C1004")


def test_a_wrong_in_app_notice_is_corrected_in_the_chat_and_a_wrong_call_by_sms(database_url) -> None:
    with db.session_factory(database_url)() as session:
        paid = (
            session.execute(select(Instalment).where(Instalment.loan_id == "L1003", Instalment.paid_at.is_not(None)))
            .scalars()
            .all()[-1]
        )
        for channel, template in (("in_app", "overdue_reminder"), ("call", "call_overdue")):
            session.add(
                SmsNotice(
                    customer_id="C1003",
                    loan_id="L1003",
                    instalment_id=paid.id,
                    phone="13800001003",
                    template=template,
                    reason="test: after the payment posted",
                    channel=channel,
                    sent_at=at(TODAY, 11),
                    status="sent",
                    attempts=1,
                    text="...",
                    idempotency_key=f"wrong-{channel}",
                )  # fmt: skip
            )
        session.commit()
    found = correct_proven_errors(uow(database_url), "C1003", "customer:C1003", at(TODAY, 14))
    assert sorted(c.channel for c in found) == ["in_app", "sms"]
    corrections = [n for n in notices_of(database_url, "C1003", at(TODAY, 14)) if n.corrects_notice_id]
    by_channel = {n.channel: n for n in corrections}
    assert set(by_channel) == {"in_app", "sms"} and by_channel["sms"].template == "correction_call"
    assert "our call to you on 2026-11-28" in by_channel["sms"].text  # Li Na reads English
    deliver_in_app(uow(database_url), FixedClock(at(TODAY, 14, 5)))
    lines = [x for x in chat_log.history(uow(database_url), "customer:C1003").lines if x.kind == "notice"]
    assert [x.text for x in lines] == [by_channel["in_app"].text]


def test_migration_0017_goes_down_and_up_again(database_url) -> None:
    cfg = alembic_config(database_url)
    command.downgrade(cfg, "0016")
    engine = create_engine(database_url, future=True)
    try:
        assert "channel" not in {c["name"] for c in inspect(engine).get_columns("sms_notices")}
        assert "contact_preferences" not in inspect(engine).get_table_names()
        command.upgrade(cfg, "head")
        columns = {c["name"] for c in inspect(engine).get_columns("sms_notices")}
        assert {"channel", "call_script"} <= columns and "contact_preferences" in inspect(engine).get_table_names()
        with engine.connect() as conn:  # the notices recorded before channels are SMS
            from sqlalchemy import text

            assert set(conn.execute(text("SELECT DISTINCT channel FROM sms_notices")).scalars()) == {"sms"}
    finally:
        engine.dispose()
        db.dispose_all()
