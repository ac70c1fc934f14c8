"""The notice engine end to end over the demo records, with a real HTTP gateway on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from bot import db
from bot.clock import FixedClock
from bot.domain.model import NoticeHold, SmsNotice
from bot.domain.notices import NoticePolicy
from bot.notice_senders import FileSender, HttpGatewaySender
from bot.services.care import clear_vulnerability, record_vulnerability
from bot.services.cases import open_identity_misuse_case, open_wrong_number_case
from bot.services.extensions import submit_extension
from bot.services.notices import default_policy, deliver_pending, explain, run_notices
from bot.unit_of_work import SqlAlchemyUnitOfWork

TODAY = dt.date(2026, 11, 28)


def at(days: int, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(TODAY + dt.timedelta(days=days), dt.time(hour))


def uow(url):
    return lambda: SqlAlchemyUnitOfWork(url)


def notices(url, since: dt.datetime) -> list[SmsNotice]:
    with db.session_factory(url)() as session:
        return list(
            session.execute(select(SmsNotice).where(SmsNotice.sent_at >= since).order_by(SmsNotice.id)).scalars()
        )


@pytest.fixture
def outbox(tmp_path):
    return FileSender(tmp_path / "sms.jsonl")


def sent_lines(sender: FileSender) -> list[dict]:
    return (
        [json.loads(line) for line in sender.path.read_text(encoding="utf-8").splitlines()]
        if sender.path.exists()
        else []
    )


def test_today_c1006_gets_a_reminder_on_his_current_number_only(database_url, outbox):
    report = run_notices(uow(database_url), outbox, at(0))
    assert [(c, loan, r) for c, loan, r in report.recorded] == [("C1006", "L1006", "reminder")]
    (notice,) = notices(database_url, at(0))
    assert notice.phone == "13800001006" and notice.status == "sent" and notice.attempts == 1
    assert "赵*" in notice.text and "赵强" not in notice.text and "2,600.00" in notice.text
    assert [line["to"] for line in sent_lines(outbox)] == ["13800001006"]


def test_running_the_same_day_twice_sends_nothing_twice(database_url, outbox):
    run_notices(uow(database_url), outbox, at(0))
    again = run_notices(uow(database_url), outbox, at(0, 15))
    assert again.recorded == [] and again.skipped["already_recorded_today"] == 1
    assert len(sent_lines(outbox)) == 1 and len(notices(database_url, at(0))) == 1


def test_a_dry_run_writes_and_sends_nothing(database_url, outbox):
    report = run_notices(uow(database_url), outbox, at(0), dry_run=True)
    assert report.recorded and notices(database_url, at(0)) == [] and sent_lines(outbox) == []


def test_nothing_is_sent_in_quiet_hours(database_url, outbox):
    assert run_notices(uow(database_url), outbox, at(0, 23)).recorded == []
    assert run_notices(uow(database_url), outbox, at(1, 7)).recorded == []


def holds(url) -> list[tuple[str, dt.date, str]]:
    with db.session_factory(url)() as session:
        rows = session.execute(select(NoticeHold).order_by(NoticeHold.day, NoticeHold.customer_id, NoticeHold.reason))
        return [(h.customer_id, h.day, h.reason) for h in rows.scalars()]


def test_what_the_rules_held_back_is_stored_once_per_instalment_day_and_reason(database_url, outbox):
    # 23:00 and 07:00 are quiet: both runs hold C1006's reminder back, each on its own bank day.
    late = run_notices(uow(database_url), outbox, at(0, 23))
    assert late.skipped["quiet_hours"] >= 1 and ("C1006", TODAY, "quiet_hours") in holds(database_url)
    run_notices(uow(database_url), outbox, at(0, 23))  # a rerun the same day stores no second hold
    assert holds(database_url).count(("C1006", TODAY, "quiet_hours")) == 1
    run_notices(uow(database_url), outbox, at(1, 7))
    assert ("C1006", TODAY + dt.timedelta(days=1), "quiet_hours") in holds(database_url)
    # Sent at 10:00 the next day; the day after, the cadence holds the next reminder back.
    sent = run_notices(uow(database_url), outbox, at(1))
    assert ("C1006", "L1006", "reminder") in sent.recorded
    run_notices(uow(database_url), outbox, at(2))
    assert ("C1006", TODAY + dt.timedelta(days=2), "cadence") in holds(database_url)
    # Every hold the runs reported is stored, none more.
    stored = Counter(reason for _c, _d, reason in holds(database_url))
    assert sum(stored.values()) == len(set(holds(database_url)))


def test_each_notice_records_the_borrowers_segment_its_facts_and_the_penalty_formula(database_url, outbox):
    run_notices(uow(database_url), outbox, at(0))
    (notice,) = notices(database_url, at(0))
    assert notice.segment == "first_time_late" and notice.template == "overdue_reminder"
    assert json.loads(notice.segment_facts) == {
        "days_overdue": 20, "paid_late_before": 0, "on_plan": False, "hardship": False, "overdue_instalments": 1
    }  # fmt: skip
    # 2,600.00 x 0.05% x 20 days = 26.00, spelt out, and every way to repay.
    assert "2,600.00元×0.05%×20天=26.00元" in notice.text and "自动扣款" in notice.text and "转账" in notice.text


def test_past_thirty_days_the_long_overdue_text_goes_out_and_hardship_comes_before_it(database_url, outbox):
    for day in (0, 7, 14):
        run_notices(uow(database_url), outbox, at(day))
    late = [n for n in notices(database_url, at(14)) if n.customer_id == "C1006" and n.segment == "long_overdue"]
    assert late and late[0].template == "overdue_long" and "征信" in late[0].text
    record_vulnerability(uow(database_url), "C1006", "customer:C1006", "job_loss", at(14, 12))
    run_notices(uow(database_url), outbox, at(28))
    cared = [n for n in notices(database_url, at(28)) if n.customer_id == "C1006"]
    assert cared and {(n.segment, n.template) for n in cared} == {("hardship", "overdue_care")}


def test_explain_shows_each_overdue_instalment_its_segment_the_decision_and_the_history(database_url, outbox):
    run_notices(uow(database_url), outbox, at(0))
    found = explain(uow(database_url), "C1006", at(0, 23))
    (judged,) = [j for j in found.now if j.loan_id == "L1006"]
    assert judged.segment.name == "first_time_late" and judged.decision.reason == "already_recorded_today"
    assert "first time you are late" in judged.segment.why(judged.facts, "en")
    assert "第一次逾期" in judged.segment.why(judged.facts, "zh")
    assert found.history[-1][3:] == ("first_time_late", judged.facts, "sms")
    tomorrow_night = explain(uow(database_url), "C1006", at(1, 23))
    assert {j.decision.reason for j in tomorrow_night.now} == {"quiet_hours"}
    assert notices(database_url, at(1)) == []  # explaining writes nothing
    assert explain(uow(database_url), "C9999", at(0)) is None


def test_a_dry_run_stores_no_hold(database_url, outbox):
    report = run_notices(uow(database_url), outbox, at(0, 23), dry_run=True)
    assert report.skipped["quiet_hours"] >= 1 and holds(database_url) == []


def test_a_repaid_instalment_gets_no_further_notice(database_url, outbox):
    # C1003 paid this morning: across the next weeks she gets nothing.
    for day in range(1, 22):
        report = run_notices(uow(database_url), outbox, at(day))
        assert "C1003" not in [c for c, _, _ in report.recorded]


def test_c1002_disputed_loan_gets_no_notice_after_the_case_is_opened(database_url, outbox):
    generous = NoticePolicy(**{**default_policy().__dict__, "max_notices_per_instalment": 50})
    before = run_notices(uow(database_url), outbox, at(5), dry_run=True, policy=generous)
    assert ("C1002", "L1002", "reminder") in before.recorded
    open_identity_misuse_case(uow(database_url), "C1002", "L1002", "customer:C1002", "not mine", at(0))
    after = run_notices(uow(database_url), outbox, at(5), policy=generous)
    assert "C1002" not in [c for c, _, _ in after.recorded] and after.skipped["disputed"] >= 1


def test_the_recycled_number_never_gets_another_notice_and_a_number_under_review_gets_none(database_url, outbox):
    open_wrong_number_case(uow(database_url), "13900009999", "visitor:abcdefgh", "", at(0))
    for day in (0, 7, 14):
        run_notices(uow(database_url), outbox, at(day))
    assert "13900009999" not in [line["to"] for line in sent_lines(outbox)]
    # If the borrower's current number itself is under review, notices to it stop too.
    open_wrong_number_case(uow(database_url), "13800001006", "visitor:zyxwvuts", "", at(0))
    report = run_notices(uow(database_url), outbox, at(21))
    assert "C1006" not in [c for c, _, _ in report.recorded] and report.skipped["number_under_review"] >= 1


def test_an_approved_extension_moves_the_first_notice_date(database_url, outbox):
    submit_extension(uow(database_url), "C1001", "L1001", "job_loss", "", "defer_7", "conv-1", TODAY, at(0))
    # The deferred instalment is due on day 7: no notice until the day after.
    for day in range(0, 8):
        assert "C1001" not in [c for c, _, _ in run_notices(uow(database_url), outbox, at(day)).recorded]
    report = run_notices(uow(database_url), outbox, at(8))
    assert ("C1001", "L1001", "first_notice") in report.recorded


def test_c1006_who_asked_us_to_note_his_hardship_gets_the_care_text_and_then_the_usual_one(database_url, outbox):
    record_vulnerability(uow(database_url), "C1006", "customer:C1006", "hardship", at(-1))
    report = run_notices(uow(database_url), outbox, at(0))
    assert report.recorded == [("C1006", "L1006", "care_reminder")]
    (notice,) = notices(database_url, at(0))
    assert notice.template == "overdue_care" and notice.reason.startswith("care_reminder: instalment 2 of L1006")
    assert "延期或分期" in notice.text and "2,600.00" in notice.text and "赵*" in notice.text
    assert [line["to"] for line in sent_lines(outbox)] == ["13800001006"]
    # Consent withdrawn: the next reminder is the ordinary one again.
    clear_vulnerability(uow(database_url), "C1006", at(3))
    assert ("C1006", "L1006", "reminder") in run_notices(uow(database_url), outbox, at(7)).recorded
    assert [n.template for n in notices(database_url, at(7)) if n.customer_id == "C1006"] == ["overdue_reminder"]


def test_a_flagged_customer_gets_no_second_notice_within_seven_days_whatever_the_cadence(database_url, outbox):
    record_vulnerability(uow(database_url), "C1001", "customer:C1001", "distress", at(-1))
    daily = NoticePolicy(**{**default_policy().__dict__, "reminder_every_days": 1, "max_notices_per_instalment": 50})
    runs = {d: run_notices(uow(database_url), outbox, at(d), policy=daily) for d in range(0, 15)}
    # His last notice went out 5 days ago at 10:00: the next one 7 days after it, then weekly.
    assert [d for d, report in runs.items() if "C1001" in [c for c, _, _ in report.recorded]] == [2, 9]
    assert runs[0].skipped["care_cap_per_week"] >= 1 and runs[1].skipped["care_cap_per_week"] >= 1
    assert [n.template for n in notices(database_url, at(0)) if n.customer_id == "C1001"] == ["overdue_care"] * 2
    # Others, on the same daily policy, are written to more often.
    assert len([n for n in notices(database_url, at(0)) if n.customer_id == "C1006"]) > 2


class Gateway:
    """A real HTTP SMS gateway on 127.0.0.1 that fails the first ``failures`` requests."""

    def __init__(self, failures: int = 0) -> None:
        self.failures, self.requests, self.delivered = failures, 0, Counter()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                gateway.requests += 1
                ok = gateway.requests > gateway.failures and self.headers["Authorization"] == "Bearer gw-token"
                if ok:
                    gateway.delivered[self.headers["Idempotency-Key"]] += 1
                    assert body["reference"] == self.headers["Idempotency-Key"]
                self.send_response(200 if ok else 500)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_gateway_errors_are_retried_with_the_same_idempotency_key_and_delivered_once(sqlite_url):
    gateway = Gateway(failures=2)
    try:
        report = run_notices(uow(sqlite_url), HttpGatewaySender(gateway.url, "gw-token", backoff=0.01), at(0))
        assert report.sent == 1 and report.failed == 0 and gateway.requests == 3
        assert list(gateway.delivered.values()) == [1]
    finally:
        gateway.close()


def test_a_gateway_that_is_down_loses_nothing_and_the_notice_goes_out_once_it_is_back(sqlite_url):
    gateway = Gateway()
    down_url = gateway.url.rsplit(":", 1)[0] + ":1/sms"  # nothing listens on port 1
    try:
        first = run_notices(uow(sqlite_url), HttpGatewaySender(down_url, "gw-token", timeout=0.5, backoff=0.01), at(0))
        assert first.failed == 1
        (notice,) = notices(sqlite_url, at(0))
        assert notice.status == "failed" and notice.attempts == 1 and "Connection" in (notice.last_error or "")
        # Later: the gateway is back; pending notices go out exactly once; a rerun sends nothing more.
        later = deliver_pending(
            uow(sqlite_url), HttpGatewaySender(gateway.url, "gw-token", backoff=0.01), FixedClock(at(0, 15))
        )
        assert later.sent == 1
        run_notices(uow(sqlite_url), HttpGatewaySender(gateway.url, "gw-token", backoff=0.01), at(0, 16))
        assert list(gateway.delivered.values()) == [1]
        (notice,) = notices(sqlite_url, at(0))
        assert notice.status == "sent" and notice.attempts == 2
    finally:
        gateway.close()


def test_the_explain_command_prints_segments_decisions_and_reasons_and_refuses_bad_input(
    sqlite_url, outbox, monkeypatch, capsys
):
    from bot.__main__ import main
    from bot.settings import get_settings

    run_notices(uow(sqlite_url), outbox, at(0))
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("BOT_TODAY", TODAY.isoformat())
    get_settings.cache_clear()  # read the environment just set
    assert main(["notices", "explain", "C1006", "--time", "23:00"]) == 0
    out = capsys.readouterr().out
    assert "L1006 instalment 2" in out and "segment first_time_late -> hold: already_recorded_today" in out
    assert "this is the first time you are late" in out and "第一次逾期" in out
    assert "sms    sent     overdue_reminder   first_time_late" in out
    assert main(["notices", "explain"]) == 2 and "needs a customer id" in capsys.readouterr().err
    assert main(["notices", "explain", "C9999"]) == 1 and "no customer C9999" in capsys.readouterr().err
