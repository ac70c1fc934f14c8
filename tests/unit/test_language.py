"""The language of a message counts only when the customer clearly wrote in it; normalisation."""

from pathlib import Path

import pytest
import yaml

from bot.language import detect_language, is_acknowledgement, looks_pasted, normalise

ROOT = Path(__file__).resolve().parents[2]
# The notice that switched an English visitor to Chinese when pasted (tests/sms_corpus, g001).
PASTED_ZH_NOTICE = "【XX银行】尊敬的张*，您的借款L1001第4期1,080.00元已逾期12天，请尽快还款。"
PASTED_EN_NOTICE = (
    "[Qinghe Bank] Dear Z* W*, instalment 4 of loan L1001 (CNY 1,080.00) is 12 days overdue. "
    "Please repay in the Qinghe Bank app: Me > Loans > Repay now. Questions? Call 400-888-0000."
)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("为什么一直收到逾期短信", "zh"),
        ("為什麼一直收到逾期簡訊", "zh"),
        ("你好", "zh"),
        ("好的谢谢", "zh"),
        ("我的loan逾期了吗", "zh"),
        ("为啥一直收到overdue的短信提醒", "zh"),
        ("请问 overdue 是什么意思", "zh"),
        ("我的借款L1001逾期了多少钱", "zh"),  # a loan id in the customer's own question is no pasted notice
        ("我欠了1080元吗", "zh"),
        ("pay.top 还款", "zh"),  # a link is no English
        ("why do i keep getting 逾期 texts", "en"),
        ("What does 逾期 mean?", "en"),
        ("How much do I owe?", "en"),
        ("How much is overdue on L1001?", "en"),
        ("ＨＥＬＬＯ", "en"),
        ("hello", "en"),
        ("hi", "en"),
        ("ok how can i pay it", "en"),  # starts with an acknowledgement, goes on in English
        ("I'm a Qinghe Bank customer, why do you keep texting me?", "en"),
    ],
)
def test_a_message_clearly_in_one_language_is_in_that_language(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize(
    "text",
    [
        # acknowledgements: people type them whatever language they speak
        "ok",
        "OK!",
        "okay",
        "Yes",
        "yes.",
        "no",
        "好",
        "好的👌",
        "嗯",
        "嗯嗯",
        "是的",
        "對",
        # no words
        "13900009999",
        "L1001",
        "😡😡",
        "👍",
        "???",
        "。。。",
        "",
        "   ",
        # too little to tell
        "滚",
        "a",
        # button payloads
        "/request_human",
        '/inform{"language": "en"}',
        # a near-even mix (observed: switched an English customer to Chinese)
        "是不是有违约金 early repayment fee?",
        "Hi 你好",
        "我已经还了 but still overdue",
        # pasted text messages (observed: an English visitor was answered in Chinese), both directions
        PASTED_ZH_NOTICE,
        PASTED_EN_NOTICE,
        "这条短信是你们发的吗：【青禾银行】您的贷款已逾期，请尽快还款。",
        "【Qinghe Bank】Your loan is overdue. Please repay. 这是官方的吗",
        "fake or not? 青禾银行提醒您: 您的借款已逾期2天, 请及时还款",
        "青禾银行提醒：谢*，您的借款L1020第2期2,000.00元已逾期15天。请打开青禾银行App，我的 > 借款 > 立即还款。",
        "Qinghe Bank: Dear C* H*, instalment 7 of loan L1005 (CNY 2,315.00) is 31 days overdue.",
    ],
)
def test_a_message_that_does_not_say_which_language_the_customer_speaks_has_no_language(text: str) -> None:
    assert detect_language(text) is None


@pytest.mark.parametrize(
    ("text", "acknowledgement"),
    [
        ("ok", True),
        ("Ok ok 👍", True),
        ("好的好的", True),
        ("嗯。", True),
        ("Yes!", True),
        ("yes please", False),
        ("好的谢谢", False),
        ("okay so how do I repay", False),
        ("😀", False),
    ],
)
def test_an_acknowledgement_is_a_short_yes_no_or_ok_and_nothing_else(text: str, acknowledgement: bool) -> None:
    assert is_acknowledgement(text) is acknowledgement


def _corpus() -> list[dict[str, str]]:
    return yaml.safe_load((ROOT / "tests" / "sms_corpus" / "corpus.yml").read_text(encoding="utf-8"))["messages"]


def test_every_genuine_notice_in_the_sms_corpus_is_taken_for_a_pasted_text_in_either_language() -> None:
    genuine = [m for m in _corpus() if m["label"] == "genuine"]
    assert {m["lang"] for m in genuine} == {"zh", "en"}
    assert [m["id"] for m in genuine if not looks_pasted(m["text"]) or detect_language(m["text"])] == []


def test_nearly_every_scam_text_in_the_sms_corpus_is_taken_for_a_pasted_text() -> None:
    # Some scams read like anyone's sentence ("FINAL WARNING!! ur Qinghe Bank debt is now a criminal case...").
    scams = [m for m in _corpus() if m["label"] == "scam"]
    assert sum(looks_pasted(m["text"]) for m in scams) / len(scams) >= 0.9


def test_no_customer_message_in_the_nlu_data_is_taken_for_a_pasted_text_unless_it_quotes_one() -> None:
    # Only examples of verify_sms quote a text message; anything else flagged would lose its language.
    flagged = []
    for path in [*(ROOT / "data" / "nlu").glob("*.yml"), *(ROOT / "tests").glob("nlu_*/*.yml")]:
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            examples = [line.strip()[2:] for line in block["examples"].splitlines() if line.strip().startswith("- ")]
            flagged += [
                (path.name, text) for text in examples if block["intent"] != "verify_sms" and looks_pasted(text)
            ]
    assert flagged == []


def test_normalising_folds_traditional_chinese_regional_words_full_width_and_case() -> None:
    assert normalise("為什麼一直收到逾期簡訊") == "为什么一直收到逾期短信"
    assert normalise("這個連結是官方的嗎") == "这个链接是官方的吗"
    assert normalise("ＨＥＬＬＯ，我要轉人工") == "hello,我要转人工"
    assert normalise("怎麼還款") == "怎么还款"  # not 怎幺, a known pitfall of phrase-level converters


def test_normalising_keeps_the_length_of_common_messages_so_token_offsets_stay_valid() -> None:
    for text in ["為什麼一直收到逾期簡訊", "我的LOAN逾期了吗", "Why do I keep getting texts?"]:
        assert len(normalise(text)) == len(text)
