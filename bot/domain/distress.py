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
    r"|\b(kill|hurt|harm) myself\b|\bsuicid|\bend (it all|my life)\b|\b(don'?t|do not) want to (live|be alive)\b"
    r"|\bno reason to live\b|\bbetter off dead\b|\bwant to die\b",
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


@dataclass(frozen=True)
class CareContacts:
    psychological_hotline: str
    emergency_numbers: str

    @classmethod
    def from_file(cls, path: Path) -> CareContacts:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls(str(raw["psychological_hotline"]), str(raw["emergency_numbers"]))
