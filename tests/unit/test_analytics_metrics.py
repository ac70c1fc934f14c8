"""The metrics of docs/analytics.md on known event streams: each figure exactly as defined."""

from __future__ import annotations

import datetime as dt

from bot.analytics.metrics import conversation_figures, form_funnels, percentile, sessions_of, top_unrecognised

T0 = dt.datetime(2026, 11, 28, 2, 0)  # UTC
NOW = T0 + dt.timedelta(hours=3)
IDLE = dt.timedelta(minutes=60)


class Stream:
    """Builds stored-event rows for one conversation, a second apart."""

    def __init__(self, conversation: str, start: dt.datetime = T0) -> None:
        self.conversation, self.at, self.rows = conversation, start, []

    def add(
        self, event_type: str, name: str | None = None, value: str | None = None, text: str | None = None
    ) -> Stream:
        self.at += dt.timedelta(seconds=1)
        self.rows.append(
            {
                "conversation_id": self.conversation,
                "verified": self.conversation.startswith("customer:"),
                "event_type": event_type,
                "name": name,
                "value": value,
                "text": text,
                "at": self.at,
            }
        )
        return self

    def user(self, intent: str, text: str = "") -> Stream:
        return self.add("user", intent, text=text or intent).add("action", "action_listen")

    def language(self, code: str) -> Stream:
        return self.add("slot", "language", value=f'"{code}"')


def streams() -> list[dict]:
    contained = Stream("customer:C1").add("session_started").user("greet").user("ask_amount_due").user("goodbye")
    asked = Stream("visitor:aaaaaaaa1").add("session_started").language("en").user("request_human").add("pause")
    lost = (
        Stream("customer:C2")
        .add("session_started")
        .language("en")
        .user("nlu_fallback", "blah")
        .user("nlu_fallback", "Blah ")
    )
    decided = Stream("customer:C3").add("session_started").user("complain").user("affirm").add("pause")
    open_form = (
        Stream("customer:C4").add("session_started").user("request_extension").add("active_loop", "extension_form")
    )
    done_form = (
        Stream("customer:C5")
        .add("session_started")
        .user("request_extension")
        .add("active_loop", "extension_form")
        .user("inform")
        .add("active_loop", None)
    )
    ignored = (
        Stream("visitor:bbbbbbbb2")
        .add("session_started")
        .user("request_human")
        .user("deny")
        .user("greet")
        .user("bot_challenge")
    )
    silent = Stream("visitor:cccccccc3").add("session_started")
    recent = Stream("customer:C6", NOW - dt.timedelta(minutes=5)).add("session_started").user("nlu_fallback", "??")
    return [r for s in (contained, asked, lost, decided, open_form, done_form, ignored, silent, recent) for r in s.rows]


def figures() -> dict[tuple[str, str], float]:
    return {(f.metric, f.split): f.value for f in conversation_figures(sessions_of(streams()), NOW, IDLE)}


def test_sessions_are_counted_only_when_the_customer_wrote() -> None:
    values = figures()
    assert values[("engaged_sessions", "all")] == 8  # the silent visitor only opened a session
    assert values[("engaged_sessions", "verified")] == 6 and values[("engaged_sessions", "anonymous")] == 2
    assert values[("engaged_sessions", "language=en")] == 2 and values[("engaged_sessions", "language=zh")] == 6


def test_containment_and_escalation_split_by_who_asked_for_the_person() -> None:
    values = figures()
    assert values[("escalation_rate", "all")] == round(2 / 8, 4)
    assert values[("containment_rate", "all")] == round(6 / 8, 4)
    assert values[("escalation_asked_rate", "all")] == round(1 / 8, 4)  # the visitor's own request
    assert values[("escalation_bot_rate", "all")] == round(1 / 8, 4)  # the complaint the bot passed on
    assert values[("escalation_rate", "anonymous")] == 0.5 and values[("escalation_rate", "language=en")] == 0.5


def test_fallbacks_abandonment_and_doom_loops() -> None:
    values = figures()
    users = 3 + 1 + 2 + 2 + 1 + 2 + 4 + 1
    assert values[("user_messages", "all")] == users
    assert values[("fallback_rate", "all")] == round(3 / users, 4)
    # Idle past the expiry, no outcome, and left misunderstood or in the middle of a form: C2 and C4.
    # C6 is misunderstood too but still within the hour; the ignored visitor ended on an answered message.
    assert values[("abandonment_rate", "all")] == round(2 / 8, 4)
    # Two fallbacks in a row (C2) and a request for a person not honoured within two turns (the ignored visitor).
    assert values[("doom_loop_rate", "all")] == round(2 / 8, 4)
    assert values[("form_completion_rate", "all")] == 0.5


def test_form_funnels_and_the_misunderstood_messages_grouped() -> None:
    sessions = sessions_of(streams())
    funnels = {(f.metric, f.split): f.value for f in form_funnels(sessions)}
    assert funnels == {("form_started", "form=extension_form"): 2, ("form_submitted", "form=extension_form"): 1}
    assert top_unrecognised(sessions) == [("blah", 2), ("??", 1)]


def asks(stream: Stream, *slots: str | None) -> Stream:
    for slot in slots:
        stream.add("slot", "requested_slot", value="null" if slot is None else f'"{slot}"')
        if slot is not None:
            stream.user("inform")
    return stream


def test_each_form_step_counts_the_runs_that_reached_it_in_the_order_customers_meet_them() -> None:
    steps = ("ext_loan_id", "ext_reason", "ext_option", "ext_confirmed")
    rows = []
    for n, reached in enumerate((4, 4, 2, 1)):  # one run reaches all four steps, one stops after two, ...
        stream = Stream(f"customer:S{n}").add("session_started").user("request_extension")
        stream.add("active_loop", "extension_form")
        asks(stream, *steps[:reached])
        if reached == 4:
            asks(stream, "ext_confirmed", None)  # asked twice (a re-prompt): still one run at that step
            stream.add("active_loop", None)
        rows += stream.rows
    # The same slot outside any form is no step.
    rows += (
        Stream("customer:S9").add("session_started").user("greet").add("slot", "requested_slot", '"ext_reason"').rows
    )
    funnel = [(f.metric, f.split, f.value) for f in form_funnels(sessions_of(rows))]
    assert funnel == [
        ("form_started", "form=extension_form", 4),
        ("form_step", "form=extension_form,step=ext_loan_id", 4),
        ("form_step", "form=extension_form,step=ext_reason", 3),
        ("form_step", "form=extension_form,step=ext_option", 2),
        ("form_step", "form=extension_form,step=ext_confirmed", 2),
        ("form_submitted", "form=extension_form", 2),
    ]


def test_a_replayed_stream_gives_the_same_figures() -> None:
    rows = streams()
    assert conversation_figures(sessions_of(rows + []), NOW, IDLE) == conversation_figures(
        sessions_of(list(reversed(rows))), NOW, IDLE
    )


def test_percentiles() -> None:
    assert percentile([], 50) == 0.0 and percentile([7], 90) == 7.0
    assert percentile([10, 20, 30, 40, 50], 50) == 30.0
    assert percentile(list(range(1, 101)), 90) == 90.1
