"""Banking questions the assistant does not handle, and where in the app each is handled.

An out-of-scope question about cards, limits, new loans, transfers, the app login or savings gets
a pointer to the right place instead of a bare "I can't help"; anything else a polite redirect.
"""

from __future__ import annotations

import re

from bot.language import normalise

#: (topic, pattern) in order: the first match wins.
TOPICS = (
    (
        "card",
        r"信用卡|储蓄卡|银行卡|借记卡|卡片|挂失|年费|激活|\bcards?\b|\bdebit\b|\bcredit card\b|\bpin\b|\bactivate\b",
    ),
    (
        "limit_or_new_loan",
        r"额度|提额|贷款申请|申请贷款|申请借款|借款申请|再借|审批|审核|放款|贷款利率|借款利率|年化|\blimit\b|\bapply\b|\bapplication\b|\bnew loan\b|\binterest rate\b|\bborrow more\b|\bapproved?\b",
    ),
    ("transfer", r"转账|汇款|到账|跨行|\btransfers?\b|\bwire\b|\bsend money\b|\bexchange rate\b"),
    (
        "login",
        r"登录|登陆|密码|账号|实名|身份证过期|开户|销户|\blog ?in\b|\bpassword\b|\baccount (opening|closing)\b|\bopen an account\b|\bclose my account\b|\bsign in\b",
    ),
    (
        "savings",
        r"理财|存款|定期|活期|基金|利息多少|收益|\bsavings?\b|\bdeposits?\b|\binvest|\bfund\b|\bfixed deposit\b",
    ),
)


def adjacent_topic(text: str) -> str | None:
    """The banking topic an out-of-scope question is about, or None (small talk, other domains)."""
    folded = normalise(text)
    for topic, pattern in TOPICS:
        if re.search(pattern, folded, re.I):
            return topic
    return None
