"""The chat page's server side over real HTTP: the page and its assets, history, the live stream,
ending a chat with a rating, and who may read what."""

from __future__ import annotations

import datetime as dt
import json
import queue
import threading
import time

import pytest
import requests

from bot.identity import customer_conversation, visitor_conversation
from bot.tokens import mint
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.integration.conftest import AGENT_TOKEN

pytestmark = pytest.mark.servers


def inapp(bot, path: str) -> str:
    return f"{bot.base}/webhooks/inapp/{path}"


def auth(bot, customer: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(customer, bot.secret)}"}


def history(bot, headers: dict[str, str]) -> dict:
    reply = requests.get(inapp(bot, "history"), headers=headers, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


class Stream:
    """Reads a server-sent event stream in a thread; events land in a queue as (event, id, data)."""

    def __init__(self, bot, headers: dict[str, str], after: int = 0) -> None:
        self.events: queue.Queue[tuple[str, str | None, dict]] = queue.Queue()
        self.response = requests.get(inapp(bot, f"stream?after={after}"), headers=headers, stream=True, timeout=30)
        assert self.response.status_code == 200, self.response.text
        assert self.response.headers["content-type"].startswith("text/event-stream")
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        name, event_id, data = "message", None, []
        try:
            for raw in self.response.iter_lines(decode_unicode=True):
                if raw == "":
                    if data:
                        self.events.put((name, event_id, json.loads("\n".join(data))))
                    name, event_id, data = "message", None, []
                elif raw.startswith("event: "):
                    name = raw[7:]
                elif raw.startswith("id: "):
                    event_id = raw[4:]
                elif raw.startswith("data: "):
                    data.append(raw[6:])
        except (requests.RequestException, AttributeError):
            pass  # closed by the test

    def next(self, timeout: float = 5.0) -> tuple[str, str | None, dict]:
        return self.events.get(timeout=timeout)

    def lines(self, count: int, timeout: float = 5.0) -> list[dict]:
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            name, _, data = self.next(max(0.01, deadline - time.monotonic()))
            if name == "line":
                out.append(data)
        return out

    def close(self) -> None:
        self.response.close()


def test_the_page_and_its_assets_come_from_the_channel_with_a_strict_policy(bot) -> None:
    page = requests.get(inapp(bot, "chat"), timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert 'role="log"' in page.text and "消息" in page.text and "发送" in page.text and "验证码" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing from elsewhere
    english = requests.get(inapp(bot, "chat?lang=en"), timeout=10).text
    assert 'lang="en"' in english and ">Send<" in english and "verification code" in english
    assert ">Message<" in requests.get(inapp(bot, "chat"), headers={"Accept-Language": "en-GB"}, timeout=10).text
    for name, kind in [("chat.js", "javascript"), ("chat.css", "text/css"), ("icon.svg", "image/svg")]:
        asset = requests.get(inapp(bot, f"chat/static/{name}"), timeout=10)
        assert asset.status_code == 200 and kind in asset.headers["content-type"]
    assert requests.get(inapp(bot, "chat/static/..%2Fchannel.py"), timeout=10).status_code == 404
    assert requests.get(inapp(bot, "chat/static/chat.html"), timeout=10).status_code == 404


def test_a_reply_is_numbered_and_the_history_shows_the_session_as_the_customer_saw_it(bot) -> None:
    reply = requests.post(bot.url, json={"message": "我欠多少钱"}, headers=auth(bot, "C1001"), timeout=30)
    assert reply.status_code == 200
    user_seq = int(reply.headers["X-Chat-Seq"])
    assert reply.headers["X-Chat-Language"] == "zh"
    messages = reply.json()
    assert [m["seq"] for m in messages] == list(range(user_seq + 1, user_seq + 1 + len(messages)))
    assert all(len(m["time"]) == 5 for m in messages)
    shown = history(bot, auth(bot, "C1001"))
    assert shown["verified"] is True and shown["language"] == "zh" and shown["ended"] is False
    assert shown["last_seq"] == messages[-1]["seq"]
    assert [line["kind"] for line in shown["lines"]][-len(messages) - 1 :] == ["user"] + ["bot"] * len(messages)
    assert shown["lines"][-len(messages) - 1]["text"] == "我欠多少钱"
    assert "1,080.00" in " ".join(line["text"] for line in shown["lines"])
    # Another customer's token reads only their own conversation.
    assert history(bot, auth(bot, "C1005"))["lines"] == []
    # The customer's language from the records before they wrote anything.
    assert history(bot, auth(bot, "C1003"))["language"] == "en"


def test_a_secret_typed_into_the_chat_is_never_stored_in_its_history(bot) -> None:
    requests.post(bot.url, json={"message": "我的验证码是 482913"}, headers=auth(bot, "C1004"), timeout=30)
    texts = " ".join(line["text"] for line in history(bot, auth(bot, "C1004"))["lines"])
    assert "482913" not in texts and "验证码" in texts


def test_reading_the_chat_needs_the_same_identity_as_writing_to_it(bot) -> None:
    for path in ("history", "stream"):
        assert requests.get(inapp(bot, path), timeout=10).status_code == 400  # neither token nor visitor id
        bad = requests.get(inapp(bot, path), headers={"Authorization": "Bearer nope"}, timeout=10)
        assert bad.status_code == 401
        expired = requests.get(
            inapp(bot, path),
            headers={"Authorization": f"Bearer {mint('C1001', bot.secret, ttl=dt.timedelta(seconds=-60))}"},
            timeout=10,
        )
        assert expired.status_code == 401
        odd = requests.get(inapp(bot, path), headers={"X-Chat-Sender": "customer:C1001"}, timeout=10)
        assert odd.status_code == 400  # a visitor id can never name a customer's conversation
    bad_after = requests.get(inapp(bot, "stream?after=-1"), headers=auth(bot, "C1001"), timeout=10)
    assert bad_after.status_code == 400 and "after" in bad_after.json()["error"]


def test_an_anonymous_visitor_reads_back_their_own_chat_by_their_id(bot) -> None:
    me, other = "visitor_chat_http_a1", "visitor_chat_http_b2"
    bot.say("is this text from your bank?", sender=me)
    mine = history(bot, {"X-Chat-Sender": me})
    assert mine["verified"] is False and mine["lines"][0]["text"] == "is this text from your bank?"
    assert history(bot, {"X-Chat-Sender": other})["lines"] == []


def test_the_stream_replays_after_a_number_then_delivers_an_agent_message_live(bot) -> None:
    headers = auth(bot, "C1006")
    bot.say("转人工", customer="C1006")
    shown = history(bot, headers)
    assert "queued" in [line.get("status") for line in shown["lines"]]
    stream = Stream(bot, headers, after=0)
    try:
        replayed = stream.lines(len(shown["lines"]))
        assert [line["seq"] for line in replayed] == [line["seq"] for line in shown["lines"]]
        conversation = customer_conversation("C1006")
        started = time.monotonic()
        posted = requests.post(
            inapp(bot, "agent/messages"),
            json={"conversation_id": conversation, "text": "您好，我是客服小林。"},
            headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
            timeout=10,
        )
        assert posted.status_code == 200
        joined, message = stream.lines(2, timeout=3)
        assert time.monotonic() - started < 1.0
        assert joined["status"] == "agent_joined" and message["kind"] == "agent"
        assert message["text"] == "您好，我是客服小林。" and message["seq"] == joined["seq"] + 1

        typing = requests.post(
            inapp(bot, "agent/typing"),
            json={"conversation_id": conversation},
            headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
            timeout=10,
        )
        assert typing.status_code == 200
        name, event_id, data = stream.next(timeout=3)
        assert (name, event_id, data) == ("typing", None, {"who": "agent", "on": True})
        assert (
            requests.post(
                inapp(bot, "agent/typing"), json={"conversation_id": conversation}, headers={}, timeout=10
            ).status_code
            == 401
        )
    finally:
        stream.close()
    # Resuming from the last number seen: only what came after, nothing twice.
    resumed = Stream(bot, headers, after=message["seq"])
    try:
        requests.post(
            inapp(bot, "agent/resume"),
            json={"conversation_id": conversation},
            headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
            timeout=10,
        )
        back, handback = resumed.lines(2, timeout=3)
        assert back["status"] == "bot_back" and back["seq"] == message["seq"] + 1 and handback["kind"] == "bot"
    finally:
        resumed.close()
    # The app's inbox (for apps that poll) carries the same numbers, so a page skips what it streamed.
    inbox = requests.post(inapp(bot, "inbox"), json={}, headers=headers, timeout=10).json()
    assert [m["seq"] for m in inbox] == [message["seq"], handback["seq"]]


def test_rating_a_chat_without_ending_it_keeps_the_session_and_counts_once(bot) -> None:
    # A visitor who has not written yet has no chat to rate.
    fresh = {"rating": 5, "sender": "visitor_rate_never_wrote"}
    assert requests.post(inapp(bot, "rate"), json=fresh, timeout=10).status_code == 409
    headers = auth(bot, "C1004")
    bot.say("hello", customer="C1004")
    before = history(bot, headers)
    for bad in ({}, {"rating": 0}, {"rating": "5"}, {"rating": True}):
        refused = requests.post(inapp(bot, "rate"), json=bad, headers=headers, timeout=10)
        assert refused.status_code == 400 and "rating" in refused.json()["error"]
    rated = requests.post(inapp(bot, "rate"), json={"rating": 5, "language": "en"}, headers=headers, timeout=10)
    assert rated.status_code == 200 and rated.json()["session"] == before["session"]
    assert requests.post(inapp(bot, "rate"), json={"rating": 1}, headers=headers, timeout=10).status_code == 409
    assert requests.post(inapp(bot, "rate"), json={"rating": 3}, timeout=10).status_code in (400, 401)  # no identity
    after = history(bot, headers)
    assert after["ended"] is False and after["session"] == before["session"] and after["lines"] == before["lines"]
    with SqlAlchemyUnitOfWork(bot.database_url) as u:
        rating = u.chat.rating_of(customer_conversation("C1004"), before["session"])
        assert rating is not None and (rating.rating, rating.language, rating.customer_id) == (5, "en", "C1004")


def test_ending_a_chat_stores_one_rating_and_the_next_message_starts_a_new_session(bot) -> None:
    headers = auth(bot, "C1005")
    bot.say("hello", customer="C1005")
    before = history(bot, headers)
    for bad in ({"rating": 0}, {"rating": 6}, {"rating": "5"}, {"rating": 4.5}, {"rating": True}):
        refused = requests.post(inapp(bot, "end"), json=bad, headers=headers, timeout=10)
        assert refused.status_code == 400 and "rating" in refused.json()["error"]
    assert history(bot, headers)["ended"] is False  # a refused request changed nothing
    ended = requests.post(inapp(bot, "end"), json={"rating": 4, "language": "en"}, headers=headers, timeout=10)
    assert ended.status_code == 200 and ended.json()["line"]["status"] == "ended"
    again = requests.post(inapp(bot, "end"), json={"rating": 1}, headers=headers, timeout=10)
    assert again.status_code == 409
    with SqlAlchemyUnitOfWork(bot.database_url) as u:
        rating = u.chat.rating_of(customer_conversation("C1005"), before["session"])
        assert rating is not None and (rating.rating, rating.language, rating.customer_id) == (4, "en", "C1005")
    assert history(bot, headers)["ended"] is True and history(bot, headers)["lines"] == []
    bot.say("one more question", customer="C1005")
    after = history(bot, headers)
    assert after["session"] == before["session"] + 1 and after["lines"][0]["text"] == "one more question"
    # An anonymous visitor ends their own chat with their id in the body.
    visitor = "visitor_chat_http_end"
    bot.say("hi", sender=visitor)
    assert requests.post(inapp(bot, "end"), json={"sender": visitor}, timeout=10).status_code == 200
    with SqlAlchemyUnitOfWork(bot.database_url) as u:
        assert u.chat.last(visitor_conversation(visitor)).status == "ended"


def test_a_customer_waiting_for_a_person_learns_their_place_in_the_queue(bot) -> None:
    visitor = "visitor_chat_http_queue"
    assert requests.get(inapp(bot, "queue"), headers={"X-Chat-Sender": visitor}, timeout=10).json() == {
        "position": None
    }
    bot.say("转人工", sender=visitor)
    position = requests.get(inapp(bot, "queue"), headers={"X-Chat-Sender": visitor}, timeout=10).json()["position"]
    assert isinstance(position, int) and position >= 1
    assert requests.get(inapp(bot, "queue"), timeout=10).status_code == 400  # whose place? no identity, no answer
