"""Complaint categories, recognised from what the customer wrote (Chinese or English)."""

from __future__ import annotations

import re

from bot.language import normalise

CATEGORIES = (
    (
        "contact_family_employer",
        r"家人|父母|爸|妈|老婆|老公|亲戚|朋友|同事|单位|公司|领导|老板|通讯录|family|parent|mother|father|wife|husband|friend|colleague|boss|employer|workplace|contacts",
    ),
    (
        "harassment",
        r"骚扰|威胁|恐吓|辱骂|半夜|深夜|凌晨|晚上十|夜里|harass|threat|abuse|midnight|late at night|night|scare",
    ),
    ("rude_collector", r"态度|骂|粗鲁|不礼貌|凶|rude|impolite|yell|shout|insult|swear"),
    (
        "too_many_messages",
        r"太多|频繁|天天|一直|每天|老是|好几次|几十|too many|so many|every day|constantly|keep (calling|texting|sending)|spam",
    ),
)


def complaint_category(text: str) -> str:
    """harassment | contact_family_employer | too_many_messages | rude_collector | other."""
    t = normalise(text)
    for code, pattern in CATEGORIES:
        if re.search(pattern, t, re.I):
            return code
    return "other"
