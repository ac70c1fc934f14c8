import pytest

from bot.domain.secrets import cn_id_valid, luhn_valid, mask_secrets, only_a_secret


def test_luhn_and_id_checksums() -> None:
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
def test_volunteered_secrets_are_masked(text: str, hidden: str, kept: str) -> None:
    masked = mask_secrets(text)
    assert hidden not in masked and kept in masked


def test_ordinary_numbers_stay() -> None:
    text = "我欠1,080.00元，借款L1001，电话13800001001，订单 4111111111111112"
    assert mask_secrets(text) == text


def test_english_keywords_must_be_whole_words() -> None:
    assert mask_secrets("Stopping worker [12345]") == "Stopping worker [12345]"
    assert mask_secrets("my PIN: 4821") == "my PIN: ****"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("验证码 4 8 2 9 1 3", "验证码 ***********"),
        ("验证码是７７８８９９", "验证码是******"),
        ("code ７７８８９９ thanks", "code ****** thanks"),
        ("验证码 is 482913", "验证码 is ******"),
        ("我的验\u200b证码是 778899", "我的验\u200b证码是 ******"),
        ("验证码是四八二九一三", "验证码是******"),
        ("验证码 四 八 二 九 一 三", "验证码 ***********"),
        ("动态码两幺零九", "动态码****"),
        ("短信码：4829-1355", "短信码：*********"),
        ("验证码 4\u200b8\u200b2\u200b9\u200b1\u200b3。", "验证码 ***********。"),
        ("驗證碼是 482913", "驗證碼是 ******"),
        ("ＯＴＰ: 482913", "ＯＴＰ: ******"),
        ("PIN码 4821", "PIN码 ****"),
        ("otp482913", "otp******"),
    ],
)
def test_a_code_after_a_keyword_is_starred_however_it_was_typed(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("482913 是验证码", "****** 是验证码"),
        ("482913 is the code", "****** is the code"),
        ("四八二九一三是我的验证码", "******是我的验证码"),
    ],
)
def test_a_code_followed_by_a_linking_word_and_a_keyword_is_starred(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "L1001 is the code",  # a loan id, not a code
        "您尾号0815的借款，请勿泄露验证码",  # a genuine notice: no linking word before the keyword
        "本行不会索要您的验证码。客服400-888-0000。",  # the hotline after the keyword is not a code
        "验证码一直收不到，已经三次了",  # Chinese numerals in ordinary words
        "我的验证码是 123456789",  # nine digits are not a code
    ],
)
def test_numbers_near_a_keyword_that_are_not_codes_stay(text: str) -> None:
    assert mask_secrets(text) == text


def test_a_stray_chinese_numeral_in_the_gap_does_not_hide_the_code() -> None:
    assert mask_secrets("验证码一直是 482913") == "验证码一直是 ******"


def test_after_a_keyword_the_first_group_of_a_longer_run_is_the_code() -> None:
    assert mask_secrets("验证码 4829 13800001111") == "验证码 **** 13800001111"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("卡号４１１１ １１１１ １１１１ １１１１", "卡号***************１１１１"),
        ("卡号 4111-1111-1111-1111。", "卡号 ***************1111。"),
        ("4111\u200b1111 1111 1111", "***************1111"),
        ("4111.1111.1111.1111", "***************1111"),
        ("订单 123 4111111111111111", "订单 123 ************1111"),
        ("6222 0212 3456 7890 128", "******************0 128"),
    ],
)
def test_a_luhn_valid_card_keeps_only_its_last_four_digits(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


def test_a_dotted_number_that_is_not_laid_out_like_a_card_stays() -> None:
    body = "173278080012345"  # a log timestamp's digits, made Luhn-valid below
    check = next(d for d in "0123456789" if luhn_valid(body + d))
    text = f"timestamp {body[:10]}.{body[10:]}{check}"
    assert mask_secrets(text) == text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("身份证 １１０１０５１９４９１２３１００２Ｘ", "身份证 １１０***********００２Ｘ"),
        ("110105 19491231 002X", "110*************002X"),
        ("身份证1101\u200b0519491231002X", "身份证110************002X"),
    ],
)
def test_a_valid_id_number_keeps_its_first_three_and_last_four_characters(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


def test_an_id_number_touching_a_letter_stays() -> None:
    assert mask_secrets("A11010519491231002X") == "A11010519491231002X"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("密码是hunter2x", "密码是********"),
        ("密\u200b码是hunter2x", "密\u200b码是********"),
        ("ｐａｓｓｗｏｒｄ： hunter2x", "ｐａｓｓｗｏｒｄ： ********"),
    ],
)
def test_a_password_after_its_keyword_is_starred(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


@pytest.mark.parametrize(
    ("text", "only"),
    [
        ("我的验证码是 482913，卡号 6222021234567890128", True),
        ("my card number is 6222021234567890128", True),
        ("我的验证码是 482913 帮我延期", False),  # a request besides the secret
        ("卡号 6222021234567890128 怎么还款", False),
        ("验证码 482913 是你们发的吗", False),
        ("我的验证码是多少", False),  # nothing starred
    ],
)
def test_a_message_that_is_only_a_secret_once_starred(text: str, only: bool) -> None:
    assert only_a_secret(mask_secrets(text)) is only
