"""Understanding free-text answers in the extension conversation, in Chinese and English.

Buttons send the same text a customer could type, so one parser serves both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.language import normalise

CHINESE_NUMBERS = {"十二": 12, "十四": 14, "三十": 30, "一": 1, "两": 2, "二": 2, "三": 3, "六": 6, "七": 7}
WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "six": 6, "seven": 7, "twelve": 12, "fourteen": 14, "thirty": 30}
ORDINALS = {
    "第一": 0, "第1": 0, "first": 0, "1st": 0,
    "第二": 1, "第2": 1, "second": 1, "2nd": 1,
    "第三": 2, "第3": 2, "third": 2, "3rd": 2,
}  # fmt: skip

REASON_KEYWORDS = {
    "job_loss": (
        "失业",
        "没工作",
        "没了工作",
        "裁员",
        "被辞",
        "下岗",
        "找工作",
        "lost my job",
        "laid off",
        "unemploy",
        "jobless",
        "fired",
        "job loss",
    ),
    "illness": (
        "生病",
        "病了",
        "住院",
        "手术",
        "看病",
        "医院",
        "ill",
        "sick",
        "hospital",
        "surgery",
        "medical",
        "illness",
    ),
    "business": ("生意", "公司", "经营", "店", "倒闭", "business", "company", "shop", "bankrupt"),
    "disaster": ("灾", "洪水", "地震", "火灾", "台风", "disaster", "flood", "earthquake", "fire", "typhoon", "storm"),
}
DEFER_WORDS = (
    "延期",
    "推迟",
    "缓",
    "晚",
    "宽限",
    "defer",
    "delay",
    "postpone",
    "later",
    "extend",
    "extension",
    "grace",
)
SPLIT_WORDS = ("分期", "分", "期", "split", "instal", "month", "part", "个月")
YES_WORDS = (
    "确认",
    "确定",
    "同意",
    "办理",
    "是的",
    "好的",
    "可以",
    "没问题",
    "yes",
    "confirm",
    "agree",
    "ok",
    "sure",
    "go ahead",
)
NO_WORDS = ("取消", "不要", "不用", "算了", "不办", "不了", "no", "cancel", "don't", "stop", "never mind", "nope")


def _number(text: str) -> int | None:
    match = re.search(r"\d+", text)
    if match:
        return int(match.group(0))
    for word, value in sorted(CHINESE_NUMBERS.items(), key=lambda kv: -len(kv[0])):
        if word in text:
            return value
    for word, value in WORD_NUMBERS.items():
        if re.search(rf"\b{word}\b", text):
            return value
    if "半年" in text or "half a year" in text:
        return 6
    if "一年" in text or "a year" in text or "one year" in text:
        return 12
    return None


def _ordinal(text: str) -> int | None:
    for word, index in ORDINALS.items():
        if word in text:
            return index
    return None


def parse_option(text: str, offered: Sequence[str]) -> str | None:
    """The option code (``defer_30``, ``split_6`` ...) an answer chooses among ``offered``; None if unclear."""
    t = normalise(text)
    index = _ordinal(t)
    if index is not None and index < len(offered):
        return offered[index]
    n = _number(t)
    days = "天" in t or bool(re.search(r"\bdays?\b", t))
    explicit_split = any(w in t for w in ("分期", "分", "split", "instal")) or bool(
        re.search(r"(\d+|[一两二三六十]+)\s*期", t)
    )
    wants_defer = (any(w in t for w in DEFER_WORDS) or days) and not explicit_split
    wants_split = not wants_defer and any(w in t for w in SPLIT_WORDS)
    if wants_defer:
        if n in (None, 1) and ("个月" in t or "month" in t):
            n = 30
        code = f"defer_{n}"
    elif wants_split:
        code = f"split_{n}"
    elif n is not None:
        candidates = [c for c in offered if c.endswith(f"_{n}")]
        return candidates[0] if len(candidates) == 1 else None
    else:
        return None
    return code if code in offered else None


def parse_reason(text: str) -> tuple[str, str] | None:
    """(reason code, the customer's words) for a hardship answer; None for an empty answer."""
    t = normalise(text).strip()
    if len(t) < 2:
        return None
    for code, words in REASON_KEYWORDS.items():
        if any(re.search(rf"(?<![a-z]){re.escape(w)}", t) for w in words):
            return code, text.strip()
    return "other", text.strip()


def parse_loan(text: str, candidates: Sequence[str]) -> str | None:
    """Which of the candidate loan ids an answer names (by id or by position); None if unclear."""
    t = normalise(text)
    for loan_id in candidates:
        if loan_id.lower() in t:
            return loan_id
    index = _ordinal(t)
    if index is None and t.strip().isdigit() and 1 <= int(t.strip()) <= len(candidates):
        index = int(t.strip()) - 1
    return candidates[index] if index is not None and index < len(candidates) else None


def parse_confirmation(text: str) -> bool | None:
    """True to confirm, False to decline, None when the answer is neither."""
    t = normalise(text)
    if any(re.search(rf"(?<![a-z]){re.escape(w)}(?![a-z])", t) for w in NO_WORDS):
        return False
    if any(re.search(rf"(?<![a-z]){re.escape(w)}(?![a-z])", t) for w in YES_WORDS):
        return True
    return None


OTHER_OPTION_WORDS = (
    "换一个",
    "换个",
    "其他方案",
    "别的方案",
    "另一个方案",
    "another option",
    "different option",
    "other option",
    "change option",
    "choose another",
)


def wants_another_option(text: str) -> bool:
    """The customer asks to see the options again rather than naming one."""
    t = normalise(text)
    return any(w in t for w in OTHER_OPTION_WORDS)


QUESTION_MARKERS = (
    "吗", "呢", "么", "什么", "怎么", "怎样", "多少", "几号", "几时", "哪", "是否", "要不要", "还要", "会不会",
    "能不能", "可不可以", "有没有", "为什么", "为啥",
)  # fmt: skip
QUESTION_WORDS = re.compile(
    r"^(what|when|why|how|which|who|where|do|does|did|is|are|will|would|can|could|should|shall|am)\b"
    r"|\b(what|when|why|how much|how many|how long|is it|do i|does it|will i|will it|can i)\b"
)
#: Words that make a message a choice of option rather than something said about a date or amount.
CHOICE_MARKERS = (
    "还是", "改成", "换成", "改为", "换为", "改", "换", "选", "我要", "要", "就", "吧",
    "instead", "switch", "change", "rather", "choose", "pick", "make it", "i'll take", "i want", "go with",
)  # fmt: skip
# A date or an amount in the message ("12月20号", "12号", "2026-12-20", "2,600", "1080.00"): its
# numbers are about the schedule, not a number of days or months to choose.
DATE_OR_AMOUNT = re.compile(
    r"\d+\s*(月|号|日)|\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}|\d[\d,]*\.\d+|\d{1,3}(,\d{3})+|\d{3,}\s*(元|块|yuan|cny)?"
    r"|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b"
)


def is_question(text: str) -> bool:
    """Whether the customer is asking something (not answering yes, no or choosing an option)."""
    t = normalise(text).strip()
    if len(re.sub(r"[\W_]+", "", t)) < 3:
        return False  # "嗯？", "?": puzzlement, not a question to answer
    if t.endswith("?"):
        return True
    if any(marker in t for marker in QUESTION_MARKERS):
        return True
    return bool(QUESTION_WORDS.search(t))


def explicit_choice(text: str, offered: Sequence[str]) -> str | None:
    """The option an answer at the confirmation step clearly chooses, else None.

    Only a choice changes what is being confirmed: the exact text of an option (a button, "分6期",
    "defer 14 days") or a message that says it chooses ("还是分6期吧", "make it 6 months instead").
    A question, or a message whose numbers are a date or an amount ("那12月20号那期还要照常还吗",
    "那12号到期的那期2600还要还吗"), never does.
    """
    t = normalise(text).strip()
    if is_question(t) or DATE_OR_AMOUNT.search(t):
        return None
    code = parse_option(t, offered)
    if code is None:
        return None
    bare = re.sub(r"[\s,.!，。！~]+", "", t)
    short_and_only_an_option = len(bare) <= 12
    if short_and_only_an_option or any(marker in t for marker in CHOICE_MARKERS):
        return code
    return None
