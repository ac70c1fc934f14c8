"""The agent console's guard: what an agent may not say to a customer, and the near misses it must let through."""

import dataclasses
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest

from bot.domain.agent_guard import REASONS, Violation, check_agent_message, quiet_hours_block
from bot.domain.notices import NoticePolicy, load_templates, render_notice
from bot.domain.sms_check import BankChannels

CONFIG = Path(__file__).resolve().parents[2] / "config"
POLICY = NoticePolicy.from_file(CONFIG / "notice_policy.yml")
TEMPLATES = load_templates(CONFIG / "notice_templates.yml")
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def codes(text: str, *, anonymous: bool = False) -> list[str]:
    return [v.code for v in check_agent_message(text, anonymous=anonymous)]


BLOCKED = {
    "threat": [
        "我们会起诉你",
        "你再不还，我们就起诉你",
        "你不还钱就等着坐牢吧",
        "警察会来抓你",
        "银行将派人上门催收",
        "我们会把你的欠款曝光到网上",
        "逾期不还将被列入黑名单",
        "你会被拘留",
        "否则将依法追究您的法律责任",
        "我们已派专人前往您的工作单位",
        "逾期不还，后果自负",
        "你想坐牢吗？",
        "我们会没收你的房子",
        "我們將依法起訴您",  # Traditional
        "起 诉 你",  # spaces typed between the characters
        "You will be arrested if you don't pay.",
        "We will sue you.",
        "If you don't pay we will take you to court",
        "We will send someone to your home.",
        "Pay now or face legal action.",
        "You could go to jail for this.",
        "We will put you on the blacklist.",
        "The police will come to your house.",
        "I'm afraid we will have to take legal action.",
        "ＷＥ ＷＩＬＬ ＳＵＥ ＹＯＵ",  # full-width
        "We know where you live.",
    ],
    "third_party": [
        "我们会联系你家人",
        "我们会打给你单位",
        "我们会通知你的同事",
        "你的家人都会知道",
        "再不还款，我们会通知你所有的亲戚朋友",
        "您的欠款我们会告诉您单位领导",
        "我们会联系你的通讯录",
        "我們會聯繫您的父母",  # Traditional
        "We will contact your employer.",
        "We'll call your family.",
        "I will tell your boss.",
        "Your colleagues will hear about this.",
        "Everyone in your contact list will get a call.",
        "We will call everyone, including your family, tomorrow.",
    ],
    "link": [
        "请点击 http://qinghe-pay.top/repay 还款",
        "Repay at bit.ly/3xYz",
        "登录www.qinghebank.com.cn.verify.top完成还款",
        "http://192.168.1.5/pay",
        "联系微信客服 kefu.cc",
        "请访问 ｑｉｎｇｈｅ－ｂａｎｋ．ｃｏｍ",  # full-width look-alike
    ],
    "asks_secret": [
        "请提供您的验证码",
        "告诉我你收到的短信码",
        "您的支付密码是多少",
        "把验证码发给我",
        "请提供完整的银行卡号",
        "请提供您的身份证号码",
        "请把卡背面后三位数字告诉我",
        "請提供您的驗證碼",  # Traditional
        "Please send me the code.",
        "What is your password?",
        "Tell me your full card number.",
        "Can you read me the CVV on the back?",
        "I need your OTP to continue.",
        "Type your password here.",
        "Could you give me your ID number?",
    ],
    "secret_in_text": [
        "你的验证码是482913",
        "卡号6222 0200 0000 0007",
        "Your password is hunter22",
        "ID 11010519491231002X on file",
        "验证码：４８２９１３",  # full-width digits
    ],
}
ANONYMOUS_BLOCKED = [
    "您的借款L1001第4期1,080.00元已逾期12天",
    "您欠款1080元",
    "Your instalment of 1,080.00 CNY is 12 days overdue.",
    "尊敬的张*，您好",
    "您的手机号138****1001",
    "loan L1001 instalment 4",
    "本期应还一千零八十元",
    "The amount is ¥1080.",
    "You are overdue by 12 days.",
]


@pytest.mark.parametrize(
    ("code", "text"), [(code, text) for code, texts in BLOCKED.items() for text in texts], ids=lambda v: str(v)[:40]
)
def test_a_message_that_breaks_a_collection_rule_is_held_back_with_that_rules_code(code, text):
    assert code in codes(text)


@pytest.mark.parametrize("text", ANONYMOUS_BLOCKED)
def test_nothing_about_a_debt_may_be_said_to_an_unverified_visitor(text):
    assert codes(text, anonymous=True) == ["account_detail_to_anonymous"]


@pytest.mark.parametrize("text", ANONYMOUS_BLOCKED)
def test_the_same_account_details_may_be_given_to_the_verified_customer(text):
    assert codes(text, anonymous=False) == []


PASSES = [
    # Lawful facts, said neutrally.
    "逾期记录会按规定报送征信",
    "overdue records are reported to the credit bureau as the rules require",
    "逾期会产生罚息，并可能影响您的征信记录",
    "征信不是黑名单，逾期记录还清后会更新",
    "There is no blacklist; overdue records are reported to the credit bureau as required.",
    "We will report the overdue record to the credit bureau as required by the regulations.",
    # Scam warnings and help with fraud.
    "如果您收到自称警察的电话，请拨打110核实",
    "if someone claiming to be the police calls, hang up and call 110",
    "如果有人说要抓您，那是诈骗，请挂断",
    '冒充银行的人常说"不还就起诉你"，请不要相信',
    "我们可以协助您向公安机关报案",
    "建议您向当地派出所报案",
    "If you were scammed, please report it to the police.",
    "We can help you report the scam to the police.",
    # Reassurance.
    "我们不会上门，也不会起诉您",
    "您放心，我们绝不会派人上门",
    "别担心，没有人会去您家里",
    "您担心会被起诉吗？请放心，逾期不涉及刑事责任",
    "We will never sue you or send anyone to your home.",
    "No one from the bank will visit your home.",
    "Nobody, including us, will visit your home.",
    "You will not be arrested for an overdue loan.",
    "If you are worried about being sued, please know we will help you find a plan.",
    "我们不会联系您的家人或单位",
    "我們不會聯繫您的家人或單位",  # Traditional
    "我们只会联系您本人，不会联系您的家人、朋友或同事",
    "请您放心，我们不会因为逾期起诉您，您的家人也不会接到电话",
    "我们会联系你的家人吗？不会。",
    "we will never contact your family or employer",
    "We will call you, not your family.",
    "Call your family? No, we would never do that.",
    # Advice the customer may take themselves.
    "您可以和家人商量一下还款计划",
    "You may want to talk to your family about a repayment plan.",
    "您可以向公司HR开具收入证明用于申请分期",
    # Words that only look like threats.
    "请联系人工客服",
    "我会派人工客服联系您",
    "我们会抓紧处理您的申请",
    "不客气，祝您生活愉快",
    "We will publish the new interest rates next week.",
    "If you cannot pay, we can help with an extension.",
    # Official links.
    "请访问 https://www.qinghebank.com.cn/repay",
    "Log in at m.qinghebank.com.cn to repay.",
    "Contact support@qinghebank.com.cn",
    "请访问ＷＷＷ．ＱＩＮＧＨＥＢＡＮＫ．ＣＯＭ．ＣＮ",
    # Warnings about secrets, and how to verify in the app.
    "请勿向任何人透露验证码，包括我们",
    "请勿向任何人（包括我们）透露验证码",
    "我们不会向您索要验证码或密码",
    "请在App内输入验证码完成验证",
    "您是否收到验证码了？",
    "验证码的有效期是多少",
    "请提供卡号后四位",
    "Never share your verification code with anyone, including us.",
    "We will never ask for your password or PIN.",
    "Please enter the code in the app.",
    "Please tell me the last four digits of your card.",
    "The verification code will arrive within a minute.",
    # Amounts and references to the verified customer.
    "您的借款L1001第4期1,080.00元已逾期12天，可在App申请延期",
    "Instalment 4 of loan L1001 (1,080.00 CNY) is 12 days overdue; you can ask for an extension in the app.",
]


@pytest.mark.parametrize("text", PASSES)
def test_a_near_miss_may_be_sent_to_a_verified_customer(text):
    assert check_agent_message(text, anonymous=False) == ()


ANONYMOUS_PASSES = [
    "请先登录青禾银行App验证身份，我们才能查询您的借款",
    "逾期超过90天的记录会按规定报送征信",
    "客服热线400-888-0000，服务时间08:00-22:00",
    "Please log in to the app to verify first; then I can look at your loan.",
    "Records more than 90 days overdue are reported to the credit bureau.",
    "我们的利率是年化3.50%",
    "2026.11.28 起生效",
    "You have an instalment plan option.",
]


@pytest.mark.parametrize("text", ANONYMOUS_PASSES)
def test_general_rules_and_how_to_verify_may_be_told_to_an_unverified_visitor(text):
    assert check_agent_message(text, anonymous=True) == ()


@pytest.mark.parametrize(("name", "lang"), [(name, lang) for name in TEMPLATES for lang in ("zh", "en")])
def test_the_banks_own_notices_pass_for_the_customer_and_are_held_back_from_a_visitor(name, lang):
    text = render_notice(TEMPLATES, name, lang, "张伟" if lang == "zh" else "Li Na", "L1001", 4, Decimal("1080.00"), 12)
    assert codes(text) == []
    assert codes(text, anonymous=True) == ["account_detail_to_anonymous"]


def test_a_message_breaking_several_rules_gets_each_code_once_in_a_fixed_order():
    text = "不还我们就起诉你，还会通知你的家人。请把验证码发给我，或到 http://pay-now.top 还款，欠款1,080.00元"
    assert codes(text, anonymous=True) == [
        "threat",
        "third_party",
        "link",
        "asks_secret",
        "account_detail_to_anonymous",
    ]


def test_links_are_judged_against_the_channels_given():
    other = BankChannels(frozenset(), frozenset(), ("example-bank.cn",))
    assert check_agent_message("https://www.example-bank.cn/repay", anonymous=False, channels=other) == ()
    (violation,) = check_agent_message("https://www.qinghebank.com.cn/repay", anonymous=False, channels=other)
    assert violation.code == "link" and "example-bank.cn" in violation.reason["zh"] + violation.reason["en"]


QUIET_START, QUIET_END = POLICY.quiet_hours_start, POLICY.quiet_hours_end
DAY = dt.date(2026, 11, 28)


def at(hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute))


def test_the_quiet_hours_come_from_the_notice_policy():
    assert (QUIET_START, QUIET_END) == (dt.time(22, 0), dt.time(8, 0))


@pytest.mark.parametrize(
    ("now", "last_customer_message", "blocked"),
    [
        (at(23), None, True),
        (at(23), at(22, 30), False),  # the customer wrote half an hour ago: replying is not contacting
        (at(23), at(21, 30), True),  # ninety minutes ago is not recent
        (at(23), at(22), False),  # exactly an hour ago still counts
        (at(0, 30, DAY + dt.timedelta(days=1)), at(23, 45), False),  # across midnight
        (at(7, 59), None, True),
        (at(7, 59), at(7, 59, DAY - dt.timedelta(days=1)), True),  # yesterday morning is not recent
        (at(8), None, False),
        (at(21, 59), None, False),
        (at(22), None, True),
        (at(23), at(23, 30), True),  # a message stamped in the future is not trusted
    ],
)
def test_agents_may_not_contact_customers_in_quiet_hours_unless_the_customer_wrote_in_the_last_hour(
    now, last_customer_message, blocked
):
    reason = quiet_hours_block(now, last_customer_message, QUIET_START, QUIET_END)
    assert (reason is not None) is blocked


def test_the_quiet_hours_reason_names_the_hours():
    reason = quiet_hours_block(at(23), None, QUIET_START, QUIET_END)
    assert reason is not None and "22:00" in reason["zh"] and "08:00" in reason["en"]


def test_quiet_hours_that_do_not_span_midnight_work_too():
    assert quiet_hours_block(at(13), None, dt.time(12), dt.time(14)) is not None
    assert quiet_hours_block(at(14), None, dt.time(12), dt.time(14)) is None


TRIGGERS = {
    "threat": ("我们会起诉你", False),
    "third_party": ("We will contact your employer.", False),
    "link": ("http://pay-now.top", False),
    "asks_secret": ("请提供您的验证码", False),
    "secret_in_text": ("你的验证码是482913", False),
    "account_detail_to_anonymous": ("您欠款1080元", True),
}


def test_every_code_has_a_trigger_here():
    assert set(TRIGGERS) == set(REASONS)


@pytest.mark.parametrize("code", sorted(TRIGGERS))
def test_every_reason_is_a_sentence_in_chinese_and_one_in_english(code):
    text, anonymous = TRIGGERS[code]
    (violation,) = [v for v in check_agent_message(text, anonymous=anonymous) if v.code == code]
    _bilingual(violation.reason)


def test_the_quiet_hours_reason_is_in_both_languages():
    reason = quiet_hours_block(at(23), None, QUIET_START, QUIET_END)
    assert reason is not None
    _bilingual(reason)


def _bilingual(reason: dict[str, str]) -> None:
    assert set(reason) == {"zh", "en"}
    assert reason["zh"].strip() and HAN.search(reason["zh"])
    assert reason["en"].strip() and not HAN.search(reason["en"])
    assert "{" not in reason["zh"] + reason["en"]  # every placeholder filled


def test_a_violation_cannot_be_altered_once_made():
    violation = Violation("threat", {"zh": "威胁", "en": "threat"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        violation.code = "none"  # type: ignore[misc]
