"""Conversation review over SQLite and PostgreSQL: sessions of the stored event stream listed by outcome
(the metrics' own definitions, so the counts are the report's), intent, confidence, language, verified
or anonymous, tag and bank-local day, paged; one session read masked; tags and intent marks with their
validation and audit; and the marks exported as Rasa NLU training data that Rasa's reader loads."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest

from bot.analytics.metrics import conversation_figures, sessions_of
from bot.domain.review import ReviewRefused
from bot.services import review, staff
from bot.services.analytics_store import store_batch
from bot.services.staff import Staff, StaffError
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.conftest import TODAY
from tests.services.test_no_orm_escapes import orm_objects

ZONE = "Asia/Shanghai"
DAY = TODAY - dt.timedelta(days=1)
UTC = dt.timezone.utc
NOW_UTC = dt.datetime.combine(TODAY, dt.time(2, 0))  # a day later: every session of DAY is idle
IDLE = dt.timedelta(minutes=60)
NOW = dt.datetime.combine(TODAY, dt.time(10, 0))  # bank time, for what staff do
SUE = Staff("sue", "supervisor")
MAY = Staff("may", "supervisor")
ALICE = Staff("alice", "agent")
INTENTS = review.domain_intents(Path(__file__).resolve().parents[2] / "domain")


def bank(day: dt.date, hh: int, mm: int) -> dt.datetime:
    """A bank-local time as the naive UTC instant events are stored at (Asia/Shanghai is UTC+8)."""
    return dt.datetime.combine(day, dt.time(hh, mm)) - dt.timedelta(hours=8)


class Chat:
    """Rasa events of one conversation session, as the event broker publishes them, a second apart."""

    def __init__(self, sender: str, start: dt.datetime) -> None:
        self.sender, self.t, self.events = sender, start.replace(tzinfo=UTC).timestamp(), []
        self.add("action", name="action_session_start").add("session_started").add("action", name="action_listen")

    def add(self, event: str, **fields: Any) -> Chat:
        self.t += 1
        self.events.append({"sender_id": self.sender, "event": event, "timestamp": self.t, **fields})
        return self

    def user(self, text: str, intent: str, confidence: float = 0.9) -> Chat:
        parse = {"intent": {"name": intent, "confidence": confidence}, "text": text}
        return self.add("user", text=text, parse_data=parse).add("action", name="action_listen")

    def bot(self, text: str) -> Chat:
        return self.add("bot", text=text)


def conversations() -> dict[str, Chat]:
    return {
        "thanked": Chat("customer:C1001", bank(DAY, 10, 0))
        .user("你好", "greet", 0.99)
        .bot("您好")
        .user("我欠多少钱", "ask_amount_due", 0.93)
        .bot("逾期 1,080.00 元")
        .user("谢谢", "thank", 0.97),
        "handed": Chat("customer:C1005", bank(DAY, 10, 10))
        .add("slot", name="language", value="en")
        .user("I want a real person", "request_human", 0.95)
        .bot("A colleague will reply.")
        .add("pause"),
        "lost": Chat("visitor:review_visitor_01", bank(DAY, 10, 20))
        .user("blah blah", "nlu_fallback", 0.21)
        .bot("Sorry?")
        .user("我的号码是13900009999 验证码是123456", "nlu_fallback", 0.30),
        "form": Chat("customer:C1004", bank(DAY, 10, 30))
        .user("我想延期", "request_extension", 0.35)
        .add("active_loop", name="extension_form")
        .bot("哪一笔贷款？"),
        "button": Chat("visitor:review_visitor_02", bank(DAY, 11, 0))
        .user("/affirm", "affirm", 1.0)
        .user("can i open a savings account", "ask_how_to_repay", 0.41),
        "again": Chat("customer:C1001", bank(DAY, 15, 0))
        .user("我想申请延期", "request_extension", 0.88)
        .user("can i open a savings account", "ask_how_to_repay", 0.45)
        .user("好的再见", "goodbye", 0.9),
        "silent": Chat("visitor:review_visitor_03", bank(DAY, 12, 0)),  # opened the chat, said nothing
        "late": Chat("visitor:review_visitor_04", bank(DAY, 23, 30)).user("hello?", "greet", 0.8),
        "midnight": Chat("visitor:review_visitor_05", bank(TODAY, 0, 10)).user("hi", "greet", 0.8),
        "earlier": Chat("customer:C1002", bank(TODAY - dt.timedelta(days=10), 9, 0)).user(
            "这笔贷款不是我借的", "never_borrowed", 0.9
        ),
    }


CHATS = conversations()


@pytest.fixture
def uow(database_url):  # type: ignore[no-untyped-def]
    factory = lambda: SqlAlchemyUnitOfWork(database_url)  # noqa: E731
    events = [e for chat in CHATS.values() for e in chat.events]
    assert store_batch(factory, events, "sql", NOW).inserted == len(events)
    return factory


def day_filter(**given: Any) -> review.ReviewFilter:
    return review.ReviewFilter(since=given.pop("since", DAY), until=given.pop("until", DAY), **given)


def listed(uow, **given: Any) -> list[str]:  # type: ignore[no-untyped-def]
    """Which of CHATS the filter lists, in the order listed."""
    starts = {review.parse_key(key_of(name)): name for name in CHATS}
    page = review.list_sessions(uow, day_filter(per_page=100, **given), ZONE, NOW_UTC, IDLE)
    return [starts[review.parse_key(s.key)] for s in page.items]


def key_of(name: str) -> str:
    """The session's key: its conversation and the instant of its ``session_started`` event."""
    chat = CHATS[name]
    started = next(e for e in chat.events if e["event"] == "session_started")
    return review.session_key(chat.sender, dt.datetime.fromtimestamp(started["timestamp"], UTC).replace(tzinfo=None))


def user_turns(uow, name: str) -> list[review.Turn]:  # type: ignore[no-untyped-def]
    return [t for t in review.session_detail(uow, key_of(name), ZONE, NOW_UTC, IDLE).turns if t.kind == "user"]


def audit(uow, action: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e.detail | {"by": e.username} for e in staff.audit_log(uow, 100, action)]


# --- listing ----------------------------------------------------------------------------------------------


def test_the_engaged_sessions_that_started_on_the_bank_day_are_listed_newest_first(uow) -> None:
    # Not the chat opened without a word, not the session after bank midnight (UTC's same day), not last week's.
    assert listed(uow) == ["late", "again", "button", "form", "lost", "handed", "thanked"]
    assert listed(uow, since=TODAY, until=TODAY) == ["midnight"]
    assert listed(uow, since=TODAY - dt.timedelta(days=10), until=TODAY - dt.timedelta(days=10)) == ["earlier"]
    page = review.list_sessions(uow, day_filter(), ZONE, NOW_UTC, IDLE)
    first = page.items[-1]  # the thanked session, C1001's first of the day
    assert first.started_at == dt.datetime.combine(DAY, dt.time(10, 0, 2))  # its session_started, in bank time
    assert (first.conversation_id, first.verified, first.language) == ("customer:C1001", True, "zh")
    assert (first.user_messages, first.lowest_confidence, first.preview) == (3, 0.93, "你好")
    assert first.intents == ("greet", "ask_amount_due", "thank")
    assert [s.language for s in page.items if s.conversation_id == "customer:C1005"] == ["en"]
    assert orm_objects(page) == []


def test_outcomes_are_the_metrics_own_so_the_counts_are_the_reports(uow) -> None:
    outcomes = {name: s for name, s in zip(listed(uow), review.list_sessions(uow, day_filter(), ZONE, NOW_UTC,
                                                                                 IDLE).items, strict=True)}  # fmt: skip
    assert outcomes["handed"].outcomes == ("escalated",)
    assert outcomes["thanked"].outcomes == ("contained",)
    assert outcomes["lost"].outcomes == ("contained", "abandoned", "fallback_ended")
    assert outcomes["form"].outcomes == ("contained", "abandoned")  # left with the form open
    assert outcomes["button"].outcomes == ("contained",)
    # The same figures the report computes from the same stored events.
    with uow() as u:
        rows = u.reports.events_between(bank(DAY, 0, 0), bank(TODAY, 0, 0))
    figures = {f.metric: f.value for f in conversation_figures(sessions_of(rows), NOW_UTC, IDLE) if f.split == "all"}
    engaged = figures["engaged_sessions"]
    assert engaged == len(listed(uow)) == 7
    for outcome, metric in [("escalated", "escalation_rate"), ("contained", "containment_rate"),
                            ("abandoned", "abandonment_rate")]:  # fmt: skip
        assert len(listed(uow, outcome=outcome)) == round(figures[metric] * engaged), outcome
    assert listed(uow, outcome="fallback_ended") == ["lost"]
    # Abandonment needs the session's idle time to have passed: an hour after it, nothing was abandoned yet.
    soon = bank(DAY, 10, 50)
    lost = review.list_sessions(uow, day_filter(outcome="fallback_ended"), ZONE, soon, IDLE).items[0]
    assert lost.outcomes == ("contained", "fallback_ended")


def test_each_filter_narrows_the_list_and_they_combine(uow) -> None:
    assert listed(uow, intent="request_extension") == ["again", "form"]
    assert listed(uow, intent="nlu_fallback") == ["lost"]
    assert listed(uow, intent="report_scam") == []
    assert listed(uow, below=0.5) == ["again", "button", "form", "lost"]  # some message under 0.5
    assert listed(uow, below=0.3) == ["lost"]  # 0.21 (0.30 is not below 0.3)
    assert listed(uow, language="en") == ["handed"]
    assert listed(uow, verified=True) == ["again", "form", "handed", "thanked"]
    assert listed(uow, verified=False) == ["late", "button", "lost"]
    assert listed(uow, verified=False, below=0.5, intent="ask_how_to_repay") == ["button"]
    assert listed(uow, outcome="abandoned", verified=True) == ["form"]
    week = {"since": TODAY - dt.timedelta(days=10), "until": TODAY}
    assert listed(uow, intent="never_borrowed", **week) == ["earlier"]
    assert len(listed(uow, **week)) == 9


def test_the_list_is_paged(uow) -> None:
    pages = [review.list_sessions(uow, day_filter(per_page=3, page=n), ZONE, NOW_UTC, IDLE) for n in (1, 2, 3, 9)]
    assert [(p.total, p.page, p.pages, len(p.items)) for p in pages] == [(7, 1, 3, 3), (7, 2, 3, 3), (7, 3, 3, 1),
                                                                          (7, 3, 3, 1)]  # fmt: skip
    keys = [s.key for p in pages[:3] for s in p.items]
    assert keys == [s.key for s in review.list_sessions(uow, day_filter(), ZONE, NOW_UTC, IDLE).items]


def test_the_filter_form_is_read_strictly_and_defaults_to_the_last_seven_days() -> None:
    default = review.parse_filter({}, TODAY, 92, 25)
    assert (default.since, default.until, default.page, default.per_page) == (
        TODAY - dt.timedelta(days=6),
        TODAY,
        1,
        25,
    )
    full = {"since": "2026-11-01", "until": "2026-11-27", "outcome": "abandoned", "intent": "nlu_fallback",
            "below": "0.5", "language": "en", "who": "anonymous", "tag": "Wrong Intent", "page": "2"}  # fmt: skip
    parsed = review.parse_filter(full, TODAY, 92, 25)
    assert parsed == review.ReviewFilter(dt.date(2026, 11, 1), dt.date(2026, 11, 27), "abandoned", "nlu_fallback",
                                         0.5, "en", False, "wrong_intent", 2, 25)  # fmt: skip
    assert review.parse_filter(parsed.params(), TODAY, 92, 25) == parsed  # the pager's links read back the same
    assert review.parse_filter({"who": "verified", "below": "1"}, TODAY, 92, 25).verified is True
    for bad, code in [
        ({"since": "28/11/2026"}, "bad_date"),
        ({"since": "2026-11-28", "until": "2026-11-01"}, "dates_reversed"),
        ({"since": "2026-01-01", "until": "2026-11-28"}, "range_too_long"),
        ({"outcome": "happy"}, "bad_outcome"),
        ({"intent": "greet; drop table"}, "bad_intent"),
        ({"below": "0"}, "bad_threshold"),
        ({"below": "1.5"}, "bad_threshold"),
        ({"below": "nan"}, "bad_threshold"),
        ({"below": "low"}, "bad_threshold"),
        ({"language": "fr"}, "bad_language"),
        ({"who": "everyone"}, "bad_who"),
        ({"tag": "<b>"}, "tag_charset"),
        ({"page": "-1"}, "bad_page"),
        ({"page": "two"}, "bad_page"),
    ]:
        with pytest.raises(ReviewRefused) as refused:
            review.parse_filter(bad, TODAY, 92, 25)
        assert refused.value.code == code, bad


# --- one session -----------------------------------------------------------------------------------------


def test_a_session_reads_as_stored_with_secrets_and_phone_numbers_masked(uow) -> None:
    detail = review.session_detail(uow, key_of("thanked"), ZONE, NOW_UTC, IDLE)
    assert [(t.kind, t.text, t.name, t.confidence) for t in detail.turns] == [
        ("user", "你好", "greet", 0.99),
        ("bot", "您好", None, None),
        ("user", "我欠多少钱", "ask_amount_due", 0.93),
        ("bot", "逾期 1,080.00 元", None, None),
        ("user", "谢谢", "thank", 0.97),
    ]
    assert detail.turns[0].at == dt.datetime.combine(DAY, dt.time(10, 0, 4))  # bank time
    assert detail.summary.key == key_of("thanked") and detail.summary.outcomes == ("contained",)
    lost = user_turns(uow, "lost")[1].text
    assert "13900009999" not in lost and "123456" not in lost and "139****9999" in lost and "验证码是" in lost
    kinds = [t.kind for t in review.session_detail(uow, key_of("handed"), ZONE, NOW_UTC, IDLE).turns]
    assert kinds == ["user", "bot", "pause"]
    form = review.session_detail(uow, key_of("form"), ZONE, NOW_UTC, IDLE).turns
    assert [(t.kind, t.name) for t in form] == [("user", "request_extension"), ("form_start", "extension_form"),
                                                ("bot", None)]  # fmt: skip
    button, typed = user_turns(uow, "button")
    assert (button.button, typed.button) == (True, False)
    assert orm_objects(detail) == []


def test_a_key_that_names_no_session_is_refused(uow) -> None:
    real = key_of("thanked")
    conversation, start = review.parse_key(real)
    for key in ("", "nonsense", "customer:C1001@yesterday", review.session_key("customer:C9999", start),
                review.session_key(conversation, start - dt.timedelta(days=3))):  # fmt: skip
        with pytest.raises(ReviewRefused) as refused:
            review.session_detail(uow, key, ZONE, NOW_UTC, IDLE)
        assert refused.value.code == "no_such_session", key


# --- tags ------------------------------------------------------------------------------------------------


def test_a_supervisor_tags_a_session_and_the_tag_filters_the_list(uow) -> None:
    key = key_of("lost")
    assert review.tag_session(uow, SUE, key, "wrong_intent", NOW) == "wrong_intent"
    assert review.tag_session(uow, MAY, key, "  New   Topic ", NOW) == "new_topic"  # free text, normalised
    assert review.tag_session(uow, SUE, key, "回答太慢", NOW) == "回答太慢"
    assert review.tag_session(uow, SUE, key_of("form"), "wrong_intent", NOW) == "wrong_intent"
    tags = review.session_detail(uow, key, ZONE, NOW_UTC, IDLE).summary.tags
    assert [(t.tag, t.created_by, t.created_at) for t in tags] == [
        ("new_topic", "may", NOW), ("wrong_intent", "sue", NOW), ("回答太慢", "sue", NOW),
    ]  # fmt: skip
    assert listed(uow, tag="wrong_intent") == ["form", "lost"]
    assert listed(uow, tag="wrong_intent", verified=False) == ["lost"]
    assert listed(uow, tag="follow_up") == []
    entries = audit(uow, "review_tag")
    assert len(entries) == 4 and {"session": key, "tag": "new_topic", "by": "may"} in entries


def test_a_bad_tag_gets_its_reason_and_changes_nothing(uow) -> None:
    key = key_of("lost")
    review.tag_session(uow, SUE, key, "wrong_intent", NOW)
    cases = [
        ("", "tag_empty"),
        ("   ", "tag_empty"),
        ("x" * 25, "tag_too_long"),
        ("<script>", "tag_charset"),
        ("a/b", "tag_charset"),
        ("wrong!", "tag_charset"),
        ("13900009999", "tag_number"),  # a phone number is customer data
        ("card_6222020200112233", "tag_number"),
        ("code_1234", "tag_number"),  # a verification code, as the secret masking reads it
        ("Wrong Intent", "tag_exists"),  # the same tag once normalised
    ]
    for text, code in cases:
        with pytest.raises(ReviewRefused) as refused:
            review.tag_session(uow, SUE, key, text, NOW)
        assert refused.value.code == code, text
    for bad_key in (key + "0", "nonsense", review.session_key("customer:C1001", dt.datetime(2026, 1, 1))):
        with pytest.raises(ReviewRefused) as refused:
            review.tag_session(uow, SUE, bad_key, "follow_up", NOW)
        assert refused.value.code == "no_such_session"
    with pytest.raises(StaffError):
        review.tag_session(uow, ALICE, key, "follow_up", NOW)
    assert [t.tag for t in review.session_detail(uow, key, ZONE, NOW_UTC, IDLE).summary.tags] == ["wrong_intent"]
    assert len(audit(uow, "review_tag")) == 1


def test_a_session_holds_at_most_twelve_tags(uow) -> None:
    key = key_of("thanked")
    for k in range(review.MAX_TAGS_PER_SESSION):
        review.tag_session(uow, SUE, key, f"tag_{k}", NOW)
    with pytest.raises(ReviewRefused) as refused:
        review.tag_session(uow, SUE, key, "one_more", NOW)
    assert refused.value.code == "too_many_tags"
    review.tag_session(uow, SUE, key_of("again"), "one_more", NOW)  # another session of the same customer is apart


def test_a_tag_is_removed_once_and_the_removal_is_audited(uow) -> None:
    key = key_of("handed")
    review.tag_session(uow, SUE, key, "should_escalate", NOW)
    with pytest.raises(StaffError):
        review.untag_session(uow, ALICE, key, "should_escalate", NOW)
    review.untag_session(uow, MAY, key, "should_escalate", NOW)
    assert review.session_detail(uow, key, ZONE, NOW_UTC, IDLE).summary.tags == ()
    with pytest.raises(ReviewRefused) as refused:
        review.untag_session(uow, MAY, key, "should_escalate", NOW)
    assert refused.value.code == "no_such_tag"
    assert audit(uow, "review_untag") == [{"session": key, "tag": "should_escalate", "by": "may"}]


def test_a_tag_stays_with_its_session_when_an_earlier_event_of_it_arrives_later(database_url) -> None:
    factory = lambda: SqlAlchemyUnitOfWork(database_url)  # noqa: E731
    chat = Chat("visitor:review_visitor_09", bank(DAY, 9, 0)).user("where is my money", "already_repaid", 0.6)
    store_batch(factory, chat.events[2:], "pika", NOW)  # the broker lost the session's first events
    key = review.list_sessions(factory, day_filter(), ZONE, NOW_UTC, IDLE).items[0].key
    review.tag_session(factory, SUE, key, "follow_up", NOW)
    store_batch(factory, chat.events[:2], "reconcile", NOW)  # reconcile brings them back: it starts earlier
    page = review.list_sessions(factory, day_filter(tag="follow_up"), ZONE, NOW_UTC, IDLE)
    assert len(page.items) == 1 and page.items[0].key != key and [t.key for t in page.items[0].tags] == [key]
    review.untag_session(factory, SUE, key, "follow_up", NOW)  # removed under the key it was given under
    assert review.session_detail(factory, page.items[0].key, ZONE, NOW_UTC, IDLE).summary.tags == ()


# --- marks ------------------------------------------------------------------------------------------------


def test_a_supervisor_marks_a_message_with_its_correct_intent_and_can_change_or_clear_it(uow) -> None:
    key = key_of("button")
    savings = user_turns(uow, "button")[1]
    assert savings.mark is None
    mark = review.mark_message(uow, SUE, key, savings.event_key, "out_of_scope", INTENTS, NOW)
    assert (mark.intent, mark.marked_by, mark.marked_at) == ("out_of_scope", "sue", NOW)
    assert user_turns(uow, "button")[1].mark == mark
    assert [s.marks for s in review.list_sessions(uow, day_filter(intent="affirm"), ZONE, NOW_UTC, IDLE).items] == [1]
    later = NOW + dt.timedelta(minutes=5)
    review.mark_message(uow, MAY, key, savings.event_key, "ask_how_to_repay", INTENTS, later)  # changes it
    assert user_turns(uow, "button")[1].mark == review.MarkView("ask_how_to_repay", "may", later)
    review.mark_message(uow, MAY, key, savings.event_key, "ask_how_to_repay", INTENTS, later)  # the same: nothing
    assert audit(uow, "review_mark") == [
        {"session": key, "event_key": savings.event_key, "intent": "ask_how_to_repay", "previous": "out_of_scope",
         "predicted": "ask_how_to_repay", "by": "may"},
        {"session": key, "event_key": savings.event_key, "intent": "out_of_scope", "previous": None,
         "predicted": "ask_how_to_repay", "by": "sue"},
    ]  # fmt: skip
    assert review.unmark_message(uow, SUE, key, savings.event_key, NOW) == "ask_how_to_repay"
    assert user_turns(uow, "button")[1].mark is None
    with pytest.raises(ReviewRefused) as refused:
        review.unmark_message(uow, SUE, key, savings.event_key, NOW)
    assert refused.value.code == "not_marked"
    assert audit(uow, "review_unmark") == [
        {"session": key, "event_key": savings.event_key, "previous": "ask_how_to_repay", "by": "sue"}
    ]


def test_only_a_known_intent_on_a_typed_message_of_the_session_can_be_marked(uow) -> None:
    key = key_of("button")
    button, typed = user_turns(uow, "button")
    other = user_turns(uow, "thanked")[0]
    with uow() as u:
        bot_reply = next(
            r["event_key"] for r in u.review.events_between(bank(DAY, 0, 0), bank(TODAY, 0, 0), None, None)
            if r["event_type"] == "bot"
        )  # fmt: skip
    assert "out_of_scope" in INTENTS and "nlu_fallback" not in INTENTS
    for event_key, intent, code in [
        (typed.event_key, "savings_account", "unknown_intent"),
        (typed.event_key, "nlu_fallback", "unknown_intent"),  # the fallback is no intent to learn
        (typed.event_key, "", "unknown_intent"),
        (button.event_key, "affirm", "not_words"),  # a button press
        (other.event_key, "greet", "no_such_message"),  # another conversation's message
        (bot_reply, "greet", "no_such_message"),
        ("0" * 64, "greet", "no_such_message"),
    ]:
        with pytest.raises(ReviewRefused) as refused:
            review.mark_message(uow, SUE, key, event_key, intent, INTENTS, NOW)
        assert refused.value.code == code, (event_key, intent)
    with pytest.raises(StaffError):
        review.mark_message(uow, ALICE, key, typed.event_key, "out_of_scope", INTENTS, NOW)
    with pytest.raises(StaffError):
        review.unmark_message(uow, ALICE, key, typed.event_key, NOW)
    assert all(t.mark is None for t in user_turns(uow, "button")) and audit(uow, "review_mark") == []


def test_two_supervisors_marking_one_message_at_once_leave_one_mark(uow) -> None:
    key, typed = key_of("button"), user_turns(uow, "button")[1]
    start, failures = threading.Barrier(4), []

    def mark(k: int) -> None:
        start.wait()
        try:
            review.mark_message(
                uow, Staff(f"boss{k}", "supervisor"), key, typed.event_key, "out_of_scope", INTENTS, NOW
            )
        except Exception as exc:  # noqa: BLE001 - the test reports any
            failures.append(exc)

    threads = [threading.Thread(target=mark, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with uow() as u:
        assert len(u.review.marks_of([typed.event_key])) == 1
    assert len(audit(uow, "review_mark")) == 1  # the others found it already so


# --- export ------------------------------------------------------------------------------------------------


def test_the_marks_export_as_rasa_training_data_deduplicated_latest_mark_winning(uow, tmp_path) -> None:
    from rasa.shared.nlu.training_data.loading import load_data

    lost, button, again = user_turns(uow, "lost"), user_turns(uow, "button"), user_turns(uow, "again")
    t = NOW
    review.mark_message(uow, SUE, key_of("lost"), lost[1].event_key, "inform", INTENTS, t)
    review.mark_message(uow, SUE, key_of("button"), button[1].event_key, "out_of_scope", INTENTS, t)
    review.mark_message(uow, SUE, key_of("again"), again[1].event_key, "out_of_scope", INTENTS, t)  # the same text
    review.mark_message(uow, SUE, key_of("lost"), lost[0].event_key, "out_of_scope", INTENTS, t)
    exported = review.export_training_data(uow, INTENTS, None, None, "sue", NOW)
    assert (exported.examples, exported.intents, exported.marks, exported.conflicts) == (3, 2, 4, ())
    path = tmp_path / "marked.yml"
    path.write_text(exported.yaml, encoding="utf-8")
    loaded = {(m.get("text"), m.get("intent")) for m in load_data(str(path)).intent_examples}
    assert loaded == {
        ("我的号码是139****9999 验证码是******", "inform"),
        ("blah blah", "out_of_scope"),
        ("can i open a savings account", "out_of_scope"),
    }
    assert "13900009999" not in exported.yaml and "123456" not in exported.yaml
    lines = exported.yaml.splitlines()
    assert lines[2:5] == ['version: "3.1"', "nlu:", "- intent: inform"] and lines[0].startswith("# ")
    assert lines.index("    - blah blah") < lines.index("    - can i open a savings account")  # sorted
    # A later mark of the same text with another intent wins, and the export says so.
    review.mark_message(
        uow, MAY, key_of("again"), again[1].event_key, "ask_how_to_repay", INTENTS, t + dt.timedelta(minutes=1)
    )
    exported = review.export_training_data(uow, INTENTS, None, None, "sue", NOW)
    assert exported.conflicts == ("can i open a savings account",)
    path.write_text(exported.yaml, encoding="utf-8")
    loaded = {(m.get("text"), m.get("intent")) for m in load_data(str(path)).intent_examples}
    assert ("can i open a savings account", "ask_how_to_repay") in loaded and len(loaded) == 3
    details = audit(uow, "review_export")
    assert len(details) == 2 and details[0] | {"by": "sue"} == {
        "since": None, "until": None, "marks": 4, "examples": 3, "conflicts": 1, "unknown": [], "by": "sue"
    }  # fmt: skip


def test_the_export_takes_the_marks_of_the_bank_days_asked_and_leaves_out_unknown_intents(uow) -> None:
    lost, button = user_turns(uow, "lost"), user_turns(uow, "button")
    review.mark_message(
        uow, SUE, key_of("lost"), lost[0].event_key, "out_of_scope", INTENTS, dt.datetime(2026, 11, 26, 23, 59)
    )
    review.mark_message(
        uow, SUE, key_of("button"), button[1].event_key, "inform", INTENTS, dt.datetime(2026, 11, 27, 0, 0)
    )
    day = dt.date(2026, 11, 27)
    only = review.export_training_data(uow, INTENTS, day, day, "cli", NOW)
    assert (only.examples, only.by_intent) == (1, {"inform": 1})
    assert review.export_training_data(uow, INTENTS, None, dt.date(2026, 11, 26), "cli", NOW).by_intent == {
        "out_of_scope": 1
    }
    assert review.export_training_data(uow, INTENTS, dt.date(2026, 11, 28), None, "cli", NOW).examples == 0
    without = review.export_training_data(uow, [i for i in INTENTS if i != "inform"], None, None, "cli", NOW)
    assert (without.examples, without.unknown_intents) == (1, ("inform",))
    assert "- intent: inform" not in without.yaml
    empty = review.export_training_data(uow, INTENTS, dt.date(2026, 12, 1), None, "cli", NOW)
    assert empty.yaml.splitlines()[-2:] == ['version: "3.1"', "nlu: []"]


def test_every_review_use_case_returns_plain_data(uow) -> None:
    key, typed = key_of("button"), user_turns(uow, "button")[1]
    results = [
        review.list_sessions(uow, day_filter(), ZONE, NOW_UTC, IDLE),
        review.session_detail(uow, key, ZONE, NOW_UTC, IDLE),
        review.tag_session(uow, SUE, key, "follow_up", NOW),
        review.untag_session(uow, SUE, key, "follow_up", NOW),
        review.mark_message(uow, SUE, key, typed.event_key, "out_of_scope", INTENTS, NOW),
        review.unmark_message(uow, SUE, key, typed.event_key, NOW),
        review.export_training_data(uow, INTENTS, None, None, "sue", NOW),
    ]
    assert [orm_objects(r) for r in results] == [[]] * len(results)
    assert all(dataclasses.is_dataclass(r) or isinstance(r, str | None) for r in results)


def test_the_intents_offered_are_the_domains() -> None:
    assert "out_of_scope" in INTENTS and "ask_amount_due" in INTENTS and "request_human" in INTENTS
    assert list(INTENTS) == sorted(set(INTENTS)) and len(INTENTS) >= 29
