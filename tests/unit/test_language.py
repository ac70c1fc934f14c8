import pytest

from bot.language import detect_language, normalise


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("为什么一直收到逾期短信", "zh"),
        ("為什麼一直收到逾期簡訊", "zh"),
        ("我的loan逾期了吗", "zh"),
        ("why do i keep getting 逾期 texts", "en"),
        ("How much do I owe?", "en"),
        ("ＨＥＬＬＯ", "en"),
        ("13900009999", None),
        ("😡😡", None),
        ("L1001", None),
    ],
)
def test_the_language_of_a_message_is_the_one_most_of_its_words_are_in(text, language):
    assert detect_language(text) == language


def test_normalising_folds_traditional_chinese_regional_words_full_width_and_case():
    assert normalise("為什麼一直收到逾期簡訊") == "为什么一直收到逾期短信"
    assert normalise("這個連結是官方的嗎") == "这个链接是官方的吗"
    assert normalise("ＨＥＬＬＯ，我要轉人工") == "hello,我要转人工"
    assert normalise("怎麼還款") == "怎么还款"  # not 怎幺, a known pitfall of phrase-level converters


def test_normalising_keeps_the_length_of_common_messages_so_token_offsets_stay_valid():
    for text in ["為什麼一直收到逾期簡訊", "我的LOAN逾期了吗", "Why do I keep getting texts?"]:
        assert len(normalise(text)) == len(text)
