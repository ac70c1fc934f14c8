"""Secrets users volunteer: verification codes, full card numbers (Luhn-valid) and Chinese ID numbers.

They are masked before a transcript leaves the bot (handoff tickets). The bot never asks for them.
"""

from __future__ import annotations

import re

# English keywords whole words only: "Stopping worker [1234]" holds "pin" but no PIN.
CODE_CONTEXT = re.compile(
    r"(验证码|校验码|动态码|密码|\bcode\b|\botp\b|\bpin\b|\bpassword\b)[^\d]{0,12}(\d{4,8})(?!\d)", re.I
)
PASSWORD = re.compile(r"(密码|口令|password|passcode)\s*(是|为|is|:|：|=)\s*([^\s，,。]{4,32})", re.I)
CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
CN_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def cn_id_valid(value: str) -> bool:
    """GB 11643 checksum of an 18-character resident ID number."""
    body, check = value[:17], value[17].upper()
    return ID_CHECK[sum(int(d) * w for d, w in zip(body, ID_WEIGHTS, strict=True)) % 11] == check


def mask_secrets(text: str) -> str:
    """The text with verification codes, Luhn-valid card numbers and valid ID numbers masked."""

    def id_(m: re.Match[str]) -> str:
        v = m.group(0)
        return v[:3] + "*" * 11 + v[-4:] if cn_id_valid(v) else v

    def card(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return "*" * (len(digits) - 4) + digits[-4:] if 13 <= len(digits) <= 19 and luhn_valid(digits) else m.group(0)

    text = CN_ID.sub(id_, text)
    text = CARD.sub(card, text)
    text = PASSWORD.sub(lambda m: m.group(0)[: m.start(3) - m.start(0)] + "*" * len(m.group(3)), text)
    return CODE_CONTEXT.sub(lambda m: m.group(0)[: m.start(2) - m.start(0)] + "*" * len(m.group(2)), text)
