"""Handoff over HTTP: the customer is told what happens, the bot pauses, an agent replies and hands back."""

import re

import pytest
import requests

from bot.identity import customer_conversation
from bot.services.handoff import list_tickets
from bot.tokens import mint
from bot.unit_of_work import SqlAlchemyUnitOfWork
from tests.integration.conftest import AGENT_TOKEN

pytestmark = pytest.mark.servers


def agent(bot, path, body, token=AGENT_TOKEN):
    return requests.post(
        f"{bot.url.rsplit('/', 1)[0]}/agent/{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def inbox(bot, customer):
    reply = requests.post(
        f"{bot.url.rsplit('/', 1)[0]}/inbox",
        json={},
        headers={"Authorization": f"Bearer {mint(customer, bot.secret)}"},
        timeout=10,
    )
    assert reply.status_code == 200
    return reply.json()


def test_request_human_pauses_the_bot_and_an_agent_replies_and_hands_back_in_english(bot):
    text = bot.text(bot.say("I want to talk to a real person", customer="C1005"))
    ticket_id = re.search(r"HO-2026-\d{6}", text).group(0)
    assert "agent" in text
    (ticket,) = [t for t in list_tickets(lambda: SqlAlchemyUnitOfWork(bot.database_url)) if t.ticket_id == ticket_id]
    assert ticket.customer_id == "C1005" and ticket.reason == "request_human" and ticket.status == "pending"
    assert (
        ticket.transcript[-1]["sender"] == "user" and ticket.transcript[-1]["text"] == "I want to talk to a real person"
    )

    # Paused: the bot does not answer the question, but the customer is never left in silence.
    (waiting,) = bot.say("hello? anyone there?", customer="C1005")
    assert ticket_id in waiting["text"] and "back to bot" in waiting["text"]

    conversation = customer_conversation("C1005")
    assert (
        agent(
            bot, "messages", {"conversation_id": conversation, "text": "Hi, this is Lin from support."}, token="wrong"
        ).status_code
        == 401
    )
    assert agent(bot, "messages", {"conversation_id": "customer:C9999", "text": "hi"}).status_code == 404
    assert (
        agent(bot, "messages", {"conversation_id": conversation, "text": "Hi, this is Lin from support."}).status_code
        == 200
    )
    (message,) = inbox(bot, "C1005")
    assert {k: message[k] for k in ("recipient_id", "text", "from")} == {
        "recipient_id": conversation,
        "text": "Hi, this is Lin from support.",
        "from": "agent",
    }
    assert isinstance(message["seq"], int)  # its line in the chat page, so a page that streamed it skips it
    assert inbox(bot, "C1005") == []  # delivered once

    assert agent(bot, "resume", {"conversation_id": conversation}).json() == {"status": "resumed"}
    (handback,) = inbox(bot, "C1005")
    assert handback["from"] == "bot" and "virtual assistant" in handback["text"]
    assert "nothing overdue" in bot.text(bot.say("how much do I owe?", customer="C1005"))


def test_a_complaint_is_recorded_escalated_with_priority_and_handed_back_in_chinese(bot):
    offer = bot.text(bot.say("你们催收天天打电话到我单位，太过分了，我要投诉", customer="C1001"))
    assert "登记为正式投诉" in offer and "CMP-2026-" not in offer  # asked first, nothing recorded yet
    text = bot.text(bot.say("登记投诉", customer="C1001"))
    assert "CMP-2026-" in text and "22:00" in text and "HO-2026-" in text
    ticket = next(t for t in list_tickets(lambda: SqlAlchemyUnitOfWork(bot.database_url)) if t.customer_id == "C1001")
    assert ticket.reason == "complaint" and ticket.priority == "high" and "CMP-2026-" in ticket.summary
    assert agent(bot, "resume", {"conversation_id": customer_conversation("C1001")}).status_code == 200
    (handback,) = inbox(bot, "C1001")
    assert "智能助手" in handback["text"]


def test_keyboard_mash_sql_and_emoji_get_one_short_reply_each_and_never_a_ticket(bot):
    for message in ("qwxz plmk vbnr", "zzxq wwpl kkmr", "'; DROP TABLE loans; --", "🙃🙃", "%%%"):
        reply = bot.say(message, sender="anon_lowconf_1")
        assert len(reply) == 1, reply  # one message, not a pile of apologies
        assert not re.search(r"HO-2026-\d{6}", reply[0]["text"])
    assert not [
        t
        for t in list_tickets(lambda: SqlAlchemyUnitOfWork(bot.database_url))
        if t.conversation_id == "visitor:anon_lowconf_1"
    ]
    assert "how much do I owe" in bot.text(bot.say("qwxz plmk", sender="anon_lowconf_1"))  # examples given


def test_a_complaint_the_customer_does_not_want_recorded_creates_nothing(bot):
    from bot.services.cases import list_cases

    before = len(list_cases(lambda: SqlAlchemyUnitOfWork(bot.database_url), "complaint"))
    bot.say("your collectors keep calling me at night, this is harassment", customer="C1003")
    text = bot.text(bot.say("no, thanks", customer="C1003"))
    assert "no complaint is recorded" in text and "22:00" in text and "HO-2026-" not in text
    assert len(list_cases(lambda: SqlAlchemyUnitOfWork(bot.database_url), "complaint")) == before
    assert "nothing overdue" in bot.text(bot.say("how much do I owe?", customer="C1003"))  # not paused


def test_a_scam_report_is_recorded_only_when_the_reporter_agrees(bot):
    from bot.services.cases import list_cases

    def scam_cases():  # type: ignore[no-untyped-def]
        return [c for c in list_cases(lambda: SqlAlchemyUnitOfWork(bot.database_url), "scam_report", limit=500)]

    before = len(scam_cases())
    first = bot.text(bot.say("有人冒充青禾银行客服让我转到安全账户，我已经转了8000", sender="anon_scam_http_1"))
    assert "110" in first and "96110" in first and "登记为诈骗举报" in first and "SCM-" not in first
    assert len(scam_cases()) == before
    done = bot.text(bot.say("登记举报", sender="anon_scam_http_1"))
    assert "SCM-2026-" in done and "紧急" in done and re.search(r"HO-2026-\d{6}", done)
    assert len(scam_cases()) == before + 1

    bot.say("someone claiming to be your staff told me to install a screen sharing app", sender="anon_scam_http_2")
    bot.say("no", sender="anon_scam_http_2")
    declined = bot.text(bot.say("no, thanks", sender="anon_scam_http_2"))
    assert "nothing is recorded" in declined and "SCM-" not in declined
    assert len(scam_cases()) == before + 1


def test_a_question_in_the_middle_of_a_form_is_answered_and_the_form_asks_again(bot):
    asked = bot.text(bot.say("这笔贷款不是我借的", customer="C1002"))
    assert "同意开立吗" in asked
    digression = bot.text(bot.say("罚息是怎么算的", customer="C1002"))
    assert "0.05%" in digression and "同意开立吗" in digression  # answered, then the same question
    left = bot.text(bot.say("算了", customer="C1002"))
    assert "同意开立吗" not in left and "IDM-" not in left


def test_a_worried_question_about_collection_is_answered_and_nothing_is_recorded(bot):
    from bot.services.cases import list_cases

    before = len(list_cases(lambda: SqlAlchemyUnitOfWork(bot.database_url), "complaint", limit=500))
    text = bot.text(bot.say("如果我不还，你们会不会打电话给我家里人？", customer="C1006"))
    assert "不会打电话给您的家人" in text and "登记为正式投诉" not in text
    assert "CMP-" not in text and not re.search(r"HO-2026-\d{6}", text)
    assert len(list_cases(lambda: SqlAlchemyUnitOfWork(bot.database_url), "complaint", limit=500)) == before


def test_a_disputed_loan_is_not_chased_when_the_customer_asks_what_she_owes(bot):
    bot.say("这笔贷款不是我借的", customer="C1002")
    opened = bot.text(bot.say("同意", customer="C1002"))
    assert "IDM-2026-" in opened
    owed = bot.text(bot.say("現在我還欠多少錢", customer="C1002"))
    assert "正在进行“身份被冒用”调查" in owed and "3,0" not in owed and "越早还越少" not in owed


def test_a_victim_who_clicked_a_link_and_typed_a_code_gets_the_urgent_steps_at_once(bot):
    text = bot.text(bot.say("我已经点了链接 还输了验证码 怎么办啊", sender="anon_victim_now_1"))
    assert "110" in text and "96110" in text and "修改相关账户密码" in text
    assert "登录" not in text and "SCM-" not in text  # no login wall, nothing recorded unasked
