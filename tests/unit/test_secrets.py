import pytest

from bot.domain.secrets import cn_id_valid, luhn_valid, mask_secrets


def test_luhn_and_id_checksums():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert cn_id_valid("11010519491231002X") and not cn_id_valid("110105194912310021")


@pytest.mark.parametrize(
    ("text", "hidden", "kept"),
    [
        ("我的验证码是 482913", "482913", "验证码"),
        ("the code is 5521 ok", "5521", "code"),
        ("卡号 4111 1111 1111 1111 请帮我查", "4111 1111 1111 1111", "1111 请帮我查"),
        ("身份证11010519491231002X", "11010519491231002X", "110***********002X"),
        ("my password is 778899", "778899", "password"),
    ],
)
def test_volunteered_secrets_are_masked(text, hidden, kept):
    masked = mask_secrets(text)
    assert hidden not in masked and kept in masked


def test_ordinary_numbers_stay():
    text = "我欠1,080.00元，借款L1001，电话13800001001，订单 4111111111111112"
    assert mask_secrets(text) == text


def test_english_keywords_must_be_whole_words():
    assert mask_secrets("Stopping worker [12345]") == "Stopping worker [12345]"
    assert mask_secrets("my PIN: 4821") == "my PIN: ****"
