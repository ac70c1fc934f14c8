"""Signs that a customer is in distress or at risk of harming themselves.

A customer in arrears who says they cannot sleep, are desperate or do not want to live is
answered with care first, whatever else the message asks; any sign of self-harm always gets the
psychological assistance hotline (config/care.yml). These are keyword rules on normalised text:
they must never miss the obvious phrasings, and a false alarm costs one kind sentence.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.language import normalise

SELF_HARM = re.compile(
    r"不想活|活不下去|活[着著]没(有)?意思|想死|寻死|自杀|轻生|了结自己|结束生命|跳楼|跳河|割腕|一死了之|不如死了"
    r"|一了百了|跳下去|结束这一切|什么脸活|脸活下去|活着(还)?有什么意思|不想醒来|永远消失"
    r"|\b(kill|killing|hurt|hurting|harm|harming) myself\b|\bsuicid|\bend(ing)? (it all|my life)\b"
    r"|\btak(e|ing) my (own )?life\b|\b(don'?t|do not) want to (live|be alive)\b"
    r"|\bno reason to live\b|\bbetter off (dead|without me)\b|\bwant to die\b|\bpoint of living\b"
    r"|\bdisappear forever\b|\bnever wake up\b",
    re.I,
)
DISTRESS = re.compile(
    r"压力(好|很|太|特别)?大|崩溃|焦虑|睡不着|失眠|绝望|走投无路|撑不下去|扛不住|受不了了|好累|太累了|心累|抑郁|怎么办啊怎么办"
    r"|\bstress(ed)?\b|can'?t sleep|have(n'?t| not) slept|\bdesperate\b|\bhopeless\b|\banxious\b|\banxiety\b"
    r"|breaking down|\boverwhelmed\b|can'?t cope|at my wits'? end|\bdepressed\b",
    re.I,
)


def _fold(text: str) -> str:
    return normalise(unicodedata.normalize("NFKC", text))


def self_harm_risk(text: str) -> bool:
    """Whether a message mentions harming oneself or not wanting to live."""
    return bool(SELF_HARM.search(_fold(text)))


def in_distress(text: str) -> bool:
    """Whether a message says the customer is under great strain (stress, no sleep, despair)."""
    return bool(DISTRESS.search(_fold(text)))


def care_needed(text: str) -> str | None:
    """Which care a message calls for before anything else: "self_harm" (the hotline), "distress"
    (a calm word and what can be done about the debt), or None."""
    if self_harm_risk(text):
        return "self_harm"
    return "distress" if in_distress(text) else None


@dataclass(frozen=True)
class CareContacts:
    psychological_hotline: str
    emergency_numbers: str

    @classmethod
    def from_file(cls, path: Path) -> CareContacts:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls(str(raw["psychological_hotline"]), str(raw["emergency_numbers"]))
