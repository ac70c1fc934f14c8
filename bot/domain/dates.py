"""The day a customer's question is about: "明天", "12号之前", "下周一", "on the 15th", "by friday".

Only what customers write when they ask what they will owe on a day. Dates are read relative to
the bank's today; a day of the month that has passed this month means next month ("12号" on the
28th is the 12th of next month), as a customer asking about paying means a day still to come.
"""

from __future__ import annotations

import datetime as dt
import re

from dateutil.relativedelta import relativedelta

from bot.language import normalise

_ZH_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_EN_WEEKDAYS = {
    name: i
    for i, names in enumerate(
        (
            ("monday", "mon"),
            ("tuesday", "tue", "tues"),
            ("wednesday", "wed"),
            ("thursday", "thu", "thur", "thurs"),
            ("friday", "fri"),
            ("saturday",),
            ("sunday",),
        )
    )  # fmt: skip
    for name in names
}
_MONTHS = {
    name: i
    for i, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )  # fmt: skip
    for name in names
}
_ZH_NUMBERS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}

_RELATIVE = (
    (re.compile(r"大后天|day after the day after"), 3),
    (re.compile(r"后天|day after tomorrow"), 2),
    (re.compile(r"明天|明日|明早|明儿|\btomorrow\b|\btmr\b|\btmrw\b"), 1),
    (re.compile(r"今天|今日|\btoday\b|\bnow\b|现在"), 0),
)
_ISO = re.compile(r"\b(20\d\d)[-/.](\d{1,2})[-/.](\d{1,2})\b")
_ZH_MONTH_DAY = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*(?:日|号)?")
_ZH_DAY = re.compile(r"(?<![\d月])(\d{1,2})\s*(?:日|号)")
_EN_MONTH_DAY = re.compile(r"\b([a-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b")
_EN_DAY_MONTH = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([a-z]{3,9})\b")
_EN_ORDINAL = re.compile(r"\b(?:the\s+)?(\d{1,2})(st|nd|rd|th)\b")
_SLASH = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?![\d/])")
_ZH_WEEKDAY = re.compile(r"(下下|下个?|这个?|本)?(?:周|星期|礼拜)([一二三四五六日天])")
_EN_WEEKDAY = re.compile(r"\b(next\s+|this\s+|on\s+|by\s+)?([a-z]{3,9})\b")
_IN_DAYS = re.compile(
    r"(\d{1,3}|[一二两三四五六七八九十])\s*天(?:以?后|之后)|\bin\s+(\d{1,3})\s+days?\b|(\d{1,3})\s+days?\s+from\s+now"
)
_NEXT_WEEK = re.compile(r"下周|下个?星期|下个?礼拜|\bnext week\b")
_MONTH_END = re.compile(r"月底|\bend of (the|this) month\b")


def _next_day_of_month(today: dt.date, day: int) -> dt.date | None:
    for months in (0, 1, 2):
        month_start = today.replace(day=1) + relativedelta(months=months)
        try:
            candidate = month_start.replace(day=day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    return None


def _month_day(today: dt.date, month: int, day: int) -> dt.date | None:
    """That day this year, or next year's when this year's has passed."""
    for year in (today.year, today.year + 1):
        try:
            candidate = dt.date(year, month, day)
        except ValueError:
            return None
        if candidate >= today:
            return candidate
    return None


def _weekday(today: dt.date, weekday: int, weeks_ahead: int) -> dt.date:
    """The coming such weekday (today counts), or that weekday of the week ``weeks_ahead`` from now."""
    if weeks_ahead == 0:
        return today + dt.timedelta(days=(weekday - today.weekday()) % 7)
    monday = today - dt.timedelta(days=today.weekday()) + dt.timedelta(weeks=weeks_ahead)
    return monday + dt.timedelta(days=weekday)


def mentioned_date(text: str, today: dt.date) -> dt.date | None:
    """The day the message asks about, or None when it names none (the caller means today)."""
    t = normalise(text)
    m = _ISO.search(t)
    if m:
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return None
    m = _ZH_MONTH_DAY.search(t)
    if m:
        return _month_day(today, int(m[1]), int(m[2]))
    m = _IN_DAYS.search(t)
    if m:
        raw = m[1] or m[2] or m[3]
        days = int(raw) if raw.isdigit() else _ZH_NUMBERS[raw]
        return today + dt.timedelta(days=days)
    for pattern, days in _RELATIVE:
        if pattern.search(t):
            return today + dt.timedelta(days=days)
    m = _ZH_WEEKDAY.search(t)
    if m:
        ahead = {"下下": 2, "下": 1, "下个": 1}.get(m[1] or "", 0)
        return _weekday(today, _ZH_WEEKDAYS[m[2]], ahead)
    m = _ZH_DAY.search(t)
    if m:
        return _next_day_of_month(today, int(m[1]))
    for m in _EN_MONTH_DAY.finditer(t):
        if m[1] in _MONTHS:
            return _month_day(today, _MONTHS[m[1]], int(m[2]))
    for m in _EN_DAY_MONTH.finditer(t):
        if m[2] in _MONTHS:
            return _month_day(today, _MONTHS[m[2]], int(m[1]))
    m = _SLASH.search(t)
    if m:
        return _month_day(today, int(m[1]), int(m[2]))
    m = _EN_ORDINAL.search(t)
    if m:
        return _next_day_of_month(today, int(m[1]))
    for m in _EN_WEEKDAY.finditer(t):
        if m[2] in _EN_WEEKDAYS:
            ahead = 1 if (m[1] or "").strip() == "next" else 0
            return _weekday(today, _EN_WEEKDAYS[m[2]], ahead)
    if _MONTH_END.search(t):
        return today.replace(day=1) + relativedelta(months=1) - dt.timedelta(days=1)
    if _NEXT_WEEK.search(t):
        return _weekday(today, 0, 1)
    return None


WHOLE_LOAN = re.compile(
    r"全部还清|全部还完|一次性?还清|一次还完|全还了|全部结清|结清|提前还款|提前还清|提前全部|还完整笔|整笔|剩下的全部"
    r"|\bpay (it )?(all )?off\b|\bpay off\b|\bpayoff\b|\bwhole (loan|thing|balance)\b|\bsettle (the|my) (loan|account)\b"
    r"|\bfull (balance|amount|loan)\b|\bearly (re)?payment\b|\bclose (the|my) loan\b|\bpay everything\b"
)


def wants_whole_loan(text: str) -> bool:
    """Whether the customer asks what it takes to repay the whole loan, not just what is overdue."""
    return bool(WHOLE_LOAN.search(normalise(text)))


DUE_DATE_QUESTION = re.compile(
    r"几号|哪天|哪一天|什么时候(要|该|得)?还|何时还|还款日|还款日期|到期日是|扣款日|哪号"
    r"|\bdue date\b|\bwhen\b.{0,30}\bdue\b|\bwhen (do|should|must) i (have to )?(re)?pay\b|\bnext (re)?payment\b"
    r"|\bwhat day\b|\bpayment due\b|\bpayment date\b|\bwhen is my (next )?(payment|instalment|installment|bill)\b"
)


def asks_due_date(text: str) -> bool:
    """Whether the message asks when the next payment is due ("几号还款", "when is my next payment due")."""
    return bool(DUE_DATE_QUESTION.search(normalise(text)))
