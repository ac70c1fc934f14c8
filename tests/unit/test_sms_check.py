"""The SMS checker as a table, plus its corpus guarantee: no scam is ever called genuine."""

from pathlib import Path

import pytest
import yaml

from bot.domain.sms_check import check_sms, default_channels

CHANNELS = default_channels()
CORPUS = Path(__file__).resolve().parents[1] / "sms_corpus" / "corpus.yml"


@pytest.mark.parametrize(
    ("text", "sender", "verdict", "flag"),
    [
        (
            "【青禾银行】尊敬的张*，您的借款L1001第4期1,080.00元已逾期12天，请打开青禾银行App还款。咨询400-888-0000",
            "95888",
            "no_red_flags",
            None,
        ),
        ("【青禾银行】您的借款已逾期，请在App内还款。请勿向任何人透露验证码。", "95888", "no_red_flags", None),
        ("Qinghe Bank: never share your verification code with anyone. Repay in the app.", "", "no_red_flags", None),
        ("【青禾银行】您的贷款已逾期，请将收到的验证码告诉客服以便核实", "95888", "likely_scam", "asks_for_code"),
        (
            "Please join our Zoom meeting and share your screen so we can fix your loan",
            "",
            "likely_scam",
            "screen_sharing",
        ),
        ("您的资金存在风险，请立即转入安全账户", "", "likely_scam", "safe_account"),
        ("您在大学期间开通的校园贷账户需要注销，否则影响征信", "", "likely_scam", "student_loan_cancellation"),
        ("专业征信修复，消除逾期记录，费用面议", "", "likely_scam", "credit_repair"),
        ("你的贷款已审批，需缴纳解冻费500元", "", "likely_scam", "unfreeze_fee"),
        ("您涉嫌洗钱，公安局已立案，请配合调查", "", "likely_scam", "threat_of_arrest"),
        ("Your loan is overdue, add our agent on WeChat to settle", "", "likely_scam", "chat_app_contact"),
        ("请将欠款转账到以下账户 户名：王某 卡号6222000011112222", "", "likely_scam", "transfer_to_account"),
        ("Repay now at http://qinghebank-repay.com", "", "suspicious", None),
        ("Repay now at https://qinghebank.com.cn.verify-login.net/pay", "", "suspicious", None),
        ("Repay in the app or at https://m.qinghebank.com.cn/app", "95888", "no_red_flags", None),
        ("你的借款逾期了，尽快处理", "13912345678", "suspicious", None),
        ("这是真的吗", "", "nothing_to_check", None),
    ],
)
def test_verdicts_and_reasons(text, sender, verdict, flag):
    result = check_sms(text, CHANNELS, sender)
    assert result.verdict == verdict
    if flag:
        assert flag in result.red_flags


def test_a_hard_red_flag_wins_even_from_the_official_sender_with_an_official_link():
    text = "【青禾银行】您已逾期，请登录 https://m.qinghebank.com.cn 并提供短信验证码完成核实"
    assert check_sms(text, CHANNELS, "95888").verdict == "likely_scam"


def test_on_the_labelled_corpus_no_scam_is_ever_left_without_a_warning():
    messages = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))["messages"]
    assert len(messages) >= 120
    missed = [
        m["id"]
        for m in messages
        if m["label"] == "scam" and check_sms(m["text"], CHANNELS, m.get("sender", "")).verdict == "no_red_flags"
    ]
    assert missed == []
