"""The chat as the customer sees it, on SQLite and PostgreSQL: numbered lines, sessions, ratings,
hand-over status lines, and numbering that survives concurrent writers."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from bot.services import chat_log, handoff
from bot.services.chat_log import Line
from bot.unit_of_work import SqlAlchemyUnitOfWork

NOW = dt.datetime(2026, 11, 28, 10, 0)
CONVERSATION = "customer:C1001"


@pytest.fixture
def uow(database_url):  # type: ignore[no-untyped-def]
    return lambda: SqlAlchemyUnitOfWork(database_url)


def test_lines_are_numbered_in_order_and_read_back_after_a_number(uow) -> None:
    first = chat_log.append(uow, CONVERSATION, [Line("user", "我欠多少钱")], NOW)
    replies = chat_log.append(
        uow,
        CONVERSATION,
        [
            Line("bot", "您应还 1,086.48 元。"),
            Line("bot", "需要延期吗？", ({"title": "延期", "payload": "/request_extension"},)),
        ],
        NOW,
    )
    assert [line.seq for line in first + replies] == [1, 2, 3]
    assert [line.seq for line in chat_log.lines_after(uow, CONVERSATION, 1)] == [2, 3]
    assert chat_log.lines_after(uow, CONVERSATION, 3) == []
    (asked,) = chat_log.lines_after(uow, CONVERSATION, 2)
    assert asked.payload() == {
        "seq": 3,
        "session": 1,
        "kind": "bot",
        "text": "需要延期吗？",
        "at": "2026-11-28T10:00:00",
        "time": "10:00",
        "buttons": [{"title": "延期", "payload": "/request_extension"}],
    }
    # Another conversation is numbered on its own and sees none of these.
    assert chat_log.append(uow, "visitor:someone_else", [Line("user", "hi")], NOW)[0].seq == 1
    assert [line.seq for line in chat_log.lines_after(uow, "visitor:someone_else", 0)] == [1]


def test_a_button_choice_is_shown_as_its_title_and_typed_slash_text_as_typed(uow) -> None:
    chat_log.append(
        uow,
        CONVERSATION,
        [Line("bot", "需要延期吗？", ({"title": "申请延期", "payload": "/request_extension"},))],
        NOW,
    )
    (chosen,) = chat_log.append(uow, CONVERSATION, [Line("user", "/request_extension")], NOW)
    assert chosen.text == "申请延期"
    # The buttons were answered: the same payload typed later is shown as typed.
    (typed,) = chat_log.append(uow, CONVERSATION, [Line("user", "/request_extension")], NOW)
    assert typed.text == "/request_extension"


def test_history_is_the_current_session_a_new_one_starts_after_idle_time_or_an_ended_chat(uow) -> None:
    chat_log.append(uow, CONVERSATION, [Line("user", "你好"), Line("bot", "您好")], NOW)
    later = NOW + dt.timedelta(minutes=chat_log.idle_minutes() + 1)
    # A reply from a person the next morning still belongs to the chat that asked for it.
    chat_log.append(uow, CONVERSATION, [Line("agent", "您好，我是客服")], later)
    found = chat_log.history(uow, CONVERSATION)
    assert (found.chat_session, found.last_seq, [line.text for line in found.lines]) == (
        1,
        3,
        ["你好", "您好", "您好，我是客服"],
    )

    much_later = later + dt.timedelta(hours=2)
    chat_log.append(uow, CONVERSATION, [Line("user", "我又来了")], much_later)
    found = chat_log.history(uow, CONVERSATION)
    assert (found.chat_session, [line.text for line in found.lines]) == (2, ["我又来了"])

    ended = chat_log.end_chat(uow, CONVERSATION, "C1001", "zh", 4, much_later)
    assert ended is not None and ended.status == "ended" and ended.chat_session == 2
    found = chat_log.history(uow, CONVERSATION)
    assert found.ended and found.lines == [] and found.last_seq == ended.seq
    (next_chat,) = chat_log.append(uow, CONVERSATION, [Line("user", "还有一个问题")], much_later)
    assert next_chat.chat_session == 3


def test_a_rating_counts_once_per_chat_and_ending_twice_adds_nothing(uow) -> None:
    chat_log.append(uow, CONVERSATION, [Line("user", "thanks")], NOW)
    assert chat_log.end_chat(uow, CONVERSATION, "C1001", "en", None, NOW) is not None
    assert chat_log.end_chat(uow, CONVERSATION, "C1001", "en", None, NOW) is None
    assert chat_log.end_chat(uow, CONVERSATION, "C1001", "en", 5, NOW) is None  # rated after ending: kept
    with pytest.raises(chat_log.AlreadyRated):
        chat_log.end_chat(uow, CONVERSATION, "C1001", "en", 2, NOW)
    with pytest.raises(ValueError):
        chat_log.end_chat(uow, CONVERSATION, "C1001", "en", 6, NOW)
    with uow() as u:
        rating = u.chat.rating_of(CONVERSATION, 1)
        assert rating is not None and (rating.rating, rating.customer_id, rating.language) == (5, "C1001", "en")
    assert [line.status for line in chat_log.lines_after(uow, CONVERSATION, 0)] == [None, "ended"]
    assert chat_log.end_chat(uow, "visitor:never_wrote_anything", None, "zh", 3, NOW) is None


def test_rating_without_ending_keeps_the_chat_open_and_counts_once(uow) -> None:
    assert chat_log.rate_chat(uow, CONVERSATION, "C1001", "en", 4, NOW) is None  # nothing to rate yet
    chat_log.append(uow, CONVERSATION, [Line("user", "thanks")], NOW)
    assert chat_log.rate_chat(uow, CONVERSATION, "C1001", "en", 4, NOW) == 1
    assert chat_log.history(uow, CONVERSATION).ended is False  # she goes on chatting
    with pytest.raises(chat_log.AlreadyRated):
        chat_log.rate_chat(uow, CONVERSATION, "C1001", "en", 1, NOW)
    with pytest.raises(ValueError):
        chat_log.rate_chat(uow, CONVERSATION, "C1001", "en", 0, NOW)
    # Ending afterwards with another rating is refused and changes nothing; without one it ends.
    with pytest.raises(chat_log.AlreadyRated):
        chat_log.end_chat(uow, CONVERSATION, "C1001", "en", 2, NOW)
    assert chat_log.history(uow, CONVERSATION).ended is False
    assert chat_log.end_chat(uow, CONVERSATION, "C1001", "en", None, NOW) is not None
    with uow() as u:
        rating = u.chat.rating_of(CONVERSATION, 1)
        assert rating is not None and (rating.rating, rating.customer_id, rating.language) == (4, "C1001", "en")


def test_handoff_lines_queued_agent_joined_and_back_to_the_assistant(uow) -> None:
    chat_log.append(uow, CONVERSATION, [Line("user", "转人工")], NOW)
    ticket = handoff.create_ticket(uow, CONVERSATION, "C1001", "request_human", "zh", "summary", [], NOW)
    handoff.post_agent_message(uow, CONVERSATION, "您好，我是客服小王", "agent", NOW)
    handoff.post_agent_message(uow, CONVERSATION, "请问还有什么可以帮您？", "agent", NOW)
    handoff.post_agent_message(uow, CONVERSATION, "已回到智能助手", "bot", NOW)
    lines = chat_log.lines_after(uow, CONVERSATION, 0)
    assert [(line.kind, line.status, line.text) for line in lines] == [
        ("user", None, "转人工"),
        ("status", "queued", ticket.ticket_id),
        ("status", "agent_joined", ""),
        ("agent", None, "您好，我是客服小王"),
        ("agent", None, "请问还有什么可以帮您？"),
        ("status", "bot_back", ""),
        ("bot", None, "已回到智能助手"),
    ]
    # The app's inbox carries each message's line number, so a page that streamed it skips it.
    inbox = handoff.fetch_agent_messages(uow, CONVERSATION, NOW)
    assert [(m["sender"], m["seq"]) for m in inbox] == [("agent", 4), ("agent", 5), ("bot", 7)]


def test_a_ticket_that_does_not_pause_the_chat_adds_no_queued_line(uow) -> None:
    chat_log.append(uow, CONVERSATION, [Line("user", "我想延期")], NOW)
    handoff.create_ticket(
        uow, CONVERSATION, "C1001", "extension_referral", "zh", "summary", [], NOW, waits_for_person=False
    )
    assert [line.kind for line in chat_log.lines_after(uow, CONVERSATION, 0)] == ["user"]
    with uow() as u:
        assert not chat_log.waiting_for_person(u, CONVERSATION)


def test_concurrent_writers_never_share_or_skip_a_number(uow) -> None:
    """Eight threads add lines to one conversation at once: numbers 1..n, each once, in commit order."""
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            for j in range(5):
                chat_log.append(uow, CONVERSATION, [Line("bot", f"{i}-{j}"), Line("bot", f"{i}-{j}b")], NOW)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    lines = chat_log.lines_after(uow, CONVERSATION, 0, limit=1000)
    assert [line.seq for line in lines] == list(range(1, 81))
    # The two lines of one call are adjacent: a call's lines are numbered in one transaction.
    by_text = {line.text: line.seq for line in lines}
    assert all(by_text[f"{i}-{j}b"] == by_text[f"{i}-{j}"] + 1 for i in range(8) for j in range(5))


def test_a_line_kind_or_status_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValueError):
        Line("robot", "hi")
    with pytest.raises(ValueError):
        Line("status", "x")
    with pytest.raises(ValueError):
        Line("bot", "x", status="queued")
