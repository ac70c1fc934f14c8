"""Which language a message is in, and normalising what users type before NLU reads it."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any, Literal

Language = Literal["zh", "en"]

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# A run of Latin letters that touches no digit: "L1001", "QH2024" and "5pm" are references, not words.
LATIN_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]+(?:'[A-Za-z]+)?(?![A-Za-z0-9])")
# Links, e-mail addresses and @handles are Latin letters in no language ("pay.top 还款" is Chinese).
TOP_LEVEL_DOMAIN = r"(?:com|cn|net|org|top|cc|me|ly|xyz|io|info|vip|shop|app)"
NOT_WORDS = re.compile(
    rf"https?://\S+|www\.\S+|\S+@\S+|@\w+|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.{TOP_LEVEL_DOMAIN}\b(?:/\S*)?"
)
SUPPORTED = ("zh", "en")
# Taiwan/Hong Kong words that character-level conversion leaves as they are (same length).
REGIONAL_WORDS = {
    "简讯": "短信",
    "讯息": "信息",
    "连结": "链接",
    "网址连结": "网址链接",
    "帐户": "账户",
    "帐号": "账号",
    "软体": "软件",
    "网路": "网络",
    "资讯": "信息",
    "手机门号": "手机号码",
}

# The least a message must have for its language to count: two Chinese characters ("你好") or two
# Latin letters ("hi"); one character ("好", "滚") or letter ("a") says too little.
MIN_HAN = 2
MIN_LETTERS = 2

# Replies people type whatever language they speak; they answer the bot, they do not choose a language.
ACKNOWLEDGEMENTS = (
    "ok", "okay", "okey", "k", "kk", "yes", "y", "yeah", "yep", "yup", "no", "n", "nope", "sure", "fine",
    "好", "好的", "好吧", "好滴", "好哒", "嗯", "恩", "嗯呢", "哦", "噢", "喔", "是", "是的", "对", "对的", "行", "可以",
)  # fmt: skip
ACKNOWLEDGEMENT = re.compile("(?:" + "|".join(sorted(map(re.escape, ACKNOWLEDGEMENTS), key=len, reverse=True)) + ")+")

# A sender tag in brackets, as phones show texts from companies: "【青禾银行】...", "[Qinghe Bank] ...".
SENDER_TAG = re.compile(r"【[^【】]{1,20}】|^\[[^\[\]]{2,20}\]|\[[^\[\]]{2,20}\]$")
# Signs that a text was written by a bank (or someone posing as one) to a customer, not by the customer.
# They are matched against normalised text (NFKC, Simplified Chinese, lower case), hence no capitals.
NOTICE_SIGNS: dict[str, re.Pattern[str]] = {
    "sender prefix": re.compile(
        r"(?:^|[:?!。？！]\s*)(?:[\u4e00-\u9fff]{2,8}银行|[a-z]+(?: [a-z]+){0,3} bank)[^\n:,，。.!?]{0,16}:"
    ),
    "salutation": re.compile(r"尊敬的|亲爱的(?:客户|用户|会员)|\bdear\b"),
    "masked name": re.compile(r"[\u4e00-\u9fff]\*|(?<![a-z])[a-z]\*"),
    "amount": re.compile(r"\d[\d,]*\.\d{2}(?!\d)|(?:cny|rmb|¥)\s?\d|\d(?:[\d,]*\d)?\s?元"),
    "account reference": re.compile(r"(?<![a-z0-9])l\d{4}(?!\d)|尾号\s?\d{4}|\bending \d{4}\b|\d{4} \d{4} \d{4}"),
    "phone number": re.compile(
        r"(?<!\d)(?:400-?\d{3}-?\d{4}|95\d{3}|1\d{10}|\d{3,4}-\d{4}-\d{4}|\+\d{2,3} \d{4} \d{4})(?!\d)"
    ),
    "link": re.compile(rf"https?://|www\.|[a-z0-9-]+\.{TOP_LEVEL_DOMAIN}\b"),
    "opt-out": re.compile(r"回t退订|退订回t|拒收请回复|reply stop|unsubscribe"),
    "bank introduces itself": re.compile(
        r"我是.{0,8}(?:银行|客服|专员|中心)|\b(?:this is|i am|i'm)\b.{0,25}\b(?:bank|support|officer|centre|center)\b"
        r"|\bbank\b[\w ]{0,20}\bhere\b",
    ),
    "bank's voice": re.compile(
        r"您的(?:账户|帐户|借款|贷款|还款|征信)|\byour (?:account|loan|credit record|repayment|instalment)\b"
        r"|请(?:尽快|及时|于|在|打开|登录|点击|致电|拨打|添加|下载)|否则|如有(?:疑问|异议)"
        r"|\bplease (?:repay|pay|call|reply|install|download|verify)\b|\brepay (?:in|at|on)\b"
        r"|\bwithin \d+\s?(?:h|hours?|days?)\b|\bwill be (?:frozen|suspended|locked|reported)\b|\breply (?:with|yes)\b",
    ),
}
# Customers do not open their own messages with "青禾银行提醒：" or "Qinghe Bank:", so that sign counts double.
NOTICE_SIGN_WEIGHTS = {"sender prefix": 2}
LONG_MESSAGE = 40  # characters; a forwarded text is long, a customer's question usually is not


def is_acknowledgement(text: str) -> bool:
    """Whether a message is only a short reply such as "ok", "好的", "嗯嗯", "Yes!" (punctuation and emoji aside)."""
    letters = "".join(ch for ch in normalise(text) if ch.isalpha())
    return bool(letters) and ACKNOWLEDGEMENT.fullmatch(letters) is not None


def notice_signs(text: str) -> list[str]:
    """The signs (see NOTICE_SIGNS) that a text was written by a bank to a customer."""
    folded = normalise(text).strip()
    return [name for name, pattern in NOTICE_SIGNS.items() if pattern.search(folded)]


def looks_pasted(text: str) -> bool:
    """Whether a message is, or contains, a text message the customer received and pasted.

    It is if it has a bracketed sender tag ("【青禾银行】", "[Qinghe Bank]" at either end), or if
    it shows three signs of a bank writing to a customer (the sender prefix counts two), or two in
    a message of 40 characters or more: "尊敬的张*" + "1,080.00元", "Qinghe Bank:" + a long text.
    """
    folded = normalise(text).strip()
    if SENDER_TAG.search(folded):
        return True
    score = sum(NOTICE_SIGN_WEIGHTS.get(sign, 1) for sign in notice_signs(folded))
    return score >= 3 or (score >= 2 and len(folded) >= LONG_MESSAGE)


def detect_language(text: str) -> Language | None:
    """'zh' or 'en' when a message is clearly in that language; None when it does not say.

    The language counts only when the customer wrote it in their own words: None for an intent
    payload ("/request_human"), an acknowledgement ("ok", "好", "嗯", "yes", "是的"), digits,
    emoji and symbols, a pasted text message (``looks_pasted``), fewer than two Chinese
    characters or two Latin letters, and a near-even mix of the two.

    Chinese characters are weighed against English words at 2:3 (a Chinese word is about 1.5
    characters; links, e-mail addresses and letters touching digits such as "L1001" are not
    words), and one language must weigh at least twice the other: "我的loan逾期了吗" is Chinese,
    "why do i keep getting 逾期 texts" is English, "是不是有违约金 early repayment fee?" is neither.
    """
    folded = normalise(text).strip()
    if not folded or folded.startswith("/") or is_acknowledgement(folded) or looks_pasted(folded):
        return None
    words = NOT_WORDS.sub(" ", folded)
    han = len(HAN.findall(words))
    latin = LATIN_WORD.findall(words)
    zh_weight, en_weight = 2 * han, 3 * len(latin)
    if han >= MIN_HAN and zh_weight >= 2 * en_weight:
        return "zh"
    if sum(map(len, latin)) >= MIN_LETTERS and en_weight >= 2 * zh_weight:
        return "en"
    return None


@lru_cache(maxsize=1)
def _t2s() -> Any:  # opencc ships no type hints
    from opencc import OpenCC

    return OpenCC("t2s")


def normalise(text: str) -> str:
    """Fold full-width forms to ASCII (NFKC), Traditional to Simplified Chinese, and case to lower.

    Length-preserving for the common cases so token offsets still point into the user's text.
    """
    folded = unicodedata.normalize("NFKC", text)
    if HAN.search(folded):
        folded = _t2s().convert(folded)
        for regional, mainland in REGIONAL_WORDS.items():
            folded = folded.replace(regional, mainland)
    return folded.lower()


def variation_text(variations: list[dict], language: str | None) -> str | None:
    """The text of the response variation whose ``language`` slot condition matches (the domain
    has one per language); the first variation if none matches; None when there are none."""
    for variation in variations:
        for condition in variation.get("condition") or []:
            if condition.get("name") == "language" and condition.get("value") == (language or "zh"):
                return str(variation["text"])
    return str(variations[0]["text"]) if variations else None
