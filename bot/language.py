"""Which language a message is in, and normalising what users type before NLU reads it."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
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


def detect_language(text: str) -> str | None:
    """'zh' or 'en' for the language a message is mostly in; None when it has no words (digits, emoji).

    Code-mixed text counts Chinese characters against English words, so "我的loan逾期了吗" is
    Chinese and "why do i keep getting 逾期 texts" is English.
    """
    folded = unicodedata.normalize("NFKC", text)
    han = len(HAN.findall(folded))
    words = len(LATIN_WORD.findall(folded))
    if han == 0 and words == 0:
        return None
    return "zh" if han >= words else "en"


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
