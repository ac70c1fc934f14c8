"""Property-based tests of mask_secrets: secrets hidden however typed, everything else left alone."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.secrets import luhn_valid, mask_secrets

# Fixed examples per test, reproducible on every machine (no example database written to the work tree).
PROPERTIES = settings(max_examples=200, derandomize=True, database=None, deadline=None)

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
FULL_WIDTH = {d: chr(0xFF10 + int(d)) for d in "0123456789"}
CN_NUMERALS = {
    "0": "零〇",
    "1": "一幺",
    "2": "二两",
    "3": "三",
    "4": "四",
    "5": "五",
    "6": "六",
    "7": "七",
    "8": "八",
    "9": "九",
}
CN_VALUES = str.maketrans("零〇一二三四五六七八九两幺", "0012345678921")
# What may stand between two digits of a code or card; NFKC makes each a single space or hyphen.
SEPARATORS = [" ", "-", "\u3000", "\u00a0", "－"]

KEYWORDS = ["验证码", "校验码", "动态码", "短信码", "密码", "code", "otp", "pin", "password"]
# Between a keyword and the code: at most 12 characters and no Arabic digits (一/六 are allowed).
CONNECTORS = [
    "",
    " ",
    "是",
    "是 ",
    "：",
    ": ",
    " is ",
    " is: ",
    "为",
    " = ",
    "是：",
    "一直是 ",
    "（六位）",
    " 我刚收到的是 ",  # not after 密码 directly: "密码 是…" starts a password
]
# Between a code written first and its keyword.
LINKS = ["是", " 是", "就是", " is the ", "是我的", " is my ", "为"]
# Surrounding text: no digits, no numerals next to the secret, no keyword; prefixes end in a non-letter.
PREFIXES = ["", "你好，", "我的", "Hi, my ", "请问 ", "好的 ", "the ", "我一直收不到，刚才的", "哦，"]
SUFFIXES = ["", "，谢谢", "。", ", thanks", " thanks!", " 请帮我处理", "，刚收到的"]
WORDS = [
    "我欠",
    "元",
    "借款",
    "还款日",
    "逾期",
    "电话",
    "please",
    "I owe",
    "on",
    "loan",
    "call me at",
    "，",
    "。",
    "and",
]


def seen_in(text: str) -> str:
    """The text as a reader of digits would see it: NFKC, no zero-width characters, 四 as 4, no gaps in numbers."""
    folded = unicodedata.normalize("NFKC", "".join(ch for ch in text if ch not in ZERO_WIDTH)).translate(CN_VALUES)
    return re.sub(r"(?<=\d)[\s\-]+(?=\d)", "", folded)


def is_digit(ch: str) -> bool:
    return unicodedata.normalize("NFKC", ch).isdigit() or ch in "零〇一二三四五六七八九两幺"


@st.composite
def with_zero_width(draw: st.DrawFn, text: str, *, ends: bool = True) -> str:
    """Text with zero-width characters slipped in anywhere (between its first and last character if not ends)."""
    chars = list(text)
    slots = range(len(chars) + 1) if ends else range(1, len(chars))
    if not slots:
        return text
    for slot in sorted(draw(st.lists(st.sampled_from(slots), max_size=4)), reverse=True):
        chars.insert(slot, draw(st.sampled_from(ZERO_WIDTH)))
    return "".join(chars)


@st.composite
def rendered_code(draw: st.DrawFn) -> tuple[str, str, str, str]:
    """(digits, zero-width before, the code from its first to its last digit, zero-width after)."""
    digits = draw(st.text("0123456789", min_size=4, max_size=8))
    if draw(st.booleans()):
        chars = [draw(st.sampled_from(CN_NUMERALS[d])) for d in digits]
    else:
        chars = [draw(st.sampled_from([d, FULL_WIDTH[d]])) for d in digits]
    separator = draw(st.sampled_from(["", *SEPARATORS]))
    core = chars[0] + "".join((separator if draw(st.booleans()) else "") + ch for ch in chars[1:])
    core = draw(with_zero_width(core, ends=False))
    lead = draw(st.text(st.sampled_from(ZERO_WIDTH), max_size=1))
    trail = draw(st.text(st.sampled_from(ZERO_WIDTH), max_size=1))
    return digits, lead, core, trail


@st.composite
def rendered_keyword(draw: st.DrawFn) -> str:
    keyword = draw(st.sampled_from(KEYWORDS))
    if keyword.isascii():
        keyword = "".join(draw(st.sampled_from([c, c.upper(), chr(ord(c.upper()) + 0xFEE0)])) for c in keyword)
    return draw(with_zero_width(keyword))


@st.composite
def rendered_card(draw: st.DrawFn) -> tuple[str, str]:
    """(the card's digits, the card as typed from its first to its last digit)."""
    body = draw(st.text("0123456789", min_size=12, max_size=18))
    number = body + next(d for d in "0123456789" if luhn_valid(body + d))
    chars = [draw(st.sampled_from([d, FULL_WIDTH[d]])) for d in number]
    layout = draw(st.sampled_from(["plain", "fours", "each"]))
    separator = draw(st.sampled_from([*SEPARATORS, "."]))
    if layout == "plain":
        typed = "".join(chars)
    elif layout == "fours":
        typed = separator.join("".join(chars[i : i + 4]) for i in range(0, len(chars), 4))
    else:
        typed = separator.join(chars)
    return number, draw(with_zero_width(typed, ends=False))


@given(
    prefix=st.sampled_from(PREFIXES),
    keyword=rendered_keyword(),
    connector=st.sampled_from(CONNECTORS),
    code=rendered_code(),
    suffix=st.sampled_from(SUFFIXES),
)
@PROPERTIES
def test_a_code_after_a_keyword_is_starred_and_nothing_else_changes(
    prefix: str, keyword: str, connector: str, code: tuple[str, str, str, str], suffix: str
) -> None:
    digits, lead, core, trail = code
    masked = mask_secrets(prefix + keyword + connector + lead + core + trail + suffix)
    assert digits not in seen_in(masked)
    assert masked == prefix + keyword + connector + lead + "*" * len(core) + trail + suffix


@given(
    prefix=st.sampled_from(PREFIXES),
    code=rendered_code(),
    link=st.sampled_from(LINKS),
    keyword=rendered_keyword(),
    suffix=st.sampled_from(SUFFIXES),
)
@PROPERTIES
def test_a_code_written_before_its_keyword_is_starred_and_nothing_else_changes(
    prefix: str, code: tuple[str, str, str, str], link: str, keyword: str, suffix: str
) -> None:
    digits, lead, core, trail = code
    masked = mask_secrets(prefix + lead + core + trail + link + keyword + suffix)
    assert digits not in seen_in(masked)
    assert masked == prefix + lead + "*" * len(core) + trail + link + keyword + suffix


@given(
    prefix=st.sampled_from(["", "卡号", "我的卡号是 ", "card ", "my card: ", "银行卡："]),
    card=rendered_card(),
    suffix=st.sampled_from(["", "，请帮我查", " thanks", "。", ", is it blocked?"]),
)
@PROPERTIES
def test_a_card_number_keeps_at_most_its_last_four_digits_however_typed(
    prefix: str, card: tuple[str, str], suffix: str
) -> None:
    number, typed = card
    masked = mask_secrets(prefix + typed + suffix)
    assert "".join(re.findall(r"\d", seen_in(masked))) == number[-4:]
    fourth_last = [i for i, ch in enumerate(typed) if is_digit(ch)][-4]
    assert masked == prefix + "*" * fourth_last + typed[fourth_last:] + suffix


def no_digit_anywhere(ch: str) -> bool:
    return not any(c.isdigit() for c in unicodedata.normalize("NFKC", ch))


@given(st.text(st.characters(exclude_categories=["Cs"]).filter(no_digit_anywhere)))
@PROPERTIES
def test_text_without_digits_comes_back_unchanged(text: str) -> None:
    assert mask_secrets(text) == text


def amounts() -> st.SearchStrategy[str]:
    cents = st.integers(min_value=1, max_value=999_999_999)
    return cents.flatmap(lambda c: st.sampled_from([f"{c / 100:,.2f}", f"{c / 100:.2f}", f"{c // 100}"]))


def dates() -> st.SearchStrategy[str]:
    day = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31))
    return day.flatmap(lambda d: st.sampled_from([d.isoformat(), d.strftime("%Y/%m/%d"), d.strftime("%Y年%m月%d日")]))


def loan_ids() -> st.SearchStrategy[str]:
    return st.integers(min_value=1000, max_value=9999).map(lambda n: f"L{n}")


def phones() -> st.SearchStrategy[str]:
    return st.builds(lambda p, rest: f"1{p}{rest:09d}", st.sampled_from("3456789"), st.integers(0, 999_999_999))


@given(
    st.lists(
        st.tuples(st.sampled_from(WORDS), st.one_of(amounts(), dates(), loan_ids(), phones())), min_size=1, max_size=6
    ),
    st.sampled_from(WORDS),
)
@PROPERTIES
def test_ordinary_sentences_with_amounts_dates_loan_ids_and_phones_come_back_unchanged(
    parts: list[tuple[str, str]], last: str
) -> None:
    text = "".join(word + " " + number + " " for word, number in parts) + last
    assert mask_secrets(text) == text


SECRETISH = list("0123456789０１２３ -.Xx一二三四八九两\u200b\u200d\ufeff:是") + [
    *KEYWORDS,
    "卡号",
    "身份证",
    "is",
    "a",
]


@given(st.one_of(st.text(), st.lists(st.sampled_from(SECRETISH), max_size=40).map("".join)))
@PROPERTIES
def test_masking_only_ever_turns_characters_into_stars(text: str) -> None:
    masked = mask_secrets(text)
    assert len(masked) == len(text)
    assert all(m == t or m == "*" for m, t in zip(masked, text, strict=True))
