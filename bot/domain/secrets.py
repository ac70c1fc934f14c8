"""Secrets users volunteer: verification codes, passwords, full card numbers (Luhn-valid) and Chinese ID numbers.

They are masked before Rasa stores or logs a message and before a transcript leaves the bot (handoff tickets).
The bot never asks for them.

Detection runs on a normalised view of the text, so a secret is found however it was typed (full-width
digits, zero-width characters pasted into a keyword, spaces or hyphens between digits, Chinese numerals for
codes); masking is applied to the original text through a map from normalised positions back to original ones.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

# Invisible characters keyboards and copy-paste slip into keywords and digits (zero-width space, non-joiner,
# joiner, word joiner, BOM; also soft hyphen, emoji variation selectors and the keycap mark of "4️⃣").
INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad\ufe0e\ufe0f\u20e3")
CN_NUMERALS = "零〇一二三四五六七八九两幺"
HYPHENS = "\\-\u2010-\u2015\u2212"  # ASCII hyphen, the Unicode hyphens and dashes, minus sign (NFKC keeps them apart)

# Codes need a keyword; English ones are whole words ("Stopping worker [1234]" holds "pin" but no PIN), judged
# by ASCII letters so that "PIN码 4821" and "otp482913" count.
KEYWORD = re.compile(
    r"验证码|校验码|动态码|短信码|密码|驗證碼|校驗碼|動態碼|簡訊碼|密碼"
    r"|(?<![a-z])(?:code|otp|pin|password|passcode)(?![a-z])",
    re.I,
)
CODE_GAP = 12  # normalised characters, no Arabic digits, between a keyword and its code
CODE_DIGITS = (4, 8)
# Digits (or Chinese numerals, not mixed) with single spaces or hyphens between them.
CODE_RUN = re.compile(rf"[0-9]+(?:[ {HYPHENS}][0-9]+)*|[{CN_NUMERALS}]+(?:[ {HYPHENS}][{CN_NUMERALS}]+)*")
CODE_GROUP = re.compile(rf"[0-9]+|[{CN_NUMERALS}]+")
# "482913 是验证码", "482913 is the code": the code first, then a linking word, then the keyword.
CODE_FIRST_LINK = re.compile(r"是|为|為|=|:|(?<![a-z])(?:is|was)(?![a-z])", re.I)
# "密码是：hunter2" hides "hunter2", not the colon; "password island" is no password.
PASSWORD = re.compile(r"(密码|密碼|口令|password|passcode)\s*(是|为|為|is(?![a-z])|:|=)[\s:=]*([^\s,，。]{4,32})", re.I)
# Card and ID candidates: digit groups with single spaces, hyphens or dots between them, an ID's X at the end.
NUMBER_RUN = re.compile(rf"[0-9]+(?:[ .{HYPHENS}][0-9]+)*[Xx]?")
DIGIT_GROUP = re.compile(r"[0-9]+[Xx]?")
# How people print a card or ID number; a part of a longer run must look like this to count.
PRINTED_LAYOUTS = frozenset({(4, 6, 4), (4, 6, 5), (6, 8, 4), (6, 4, 4, 4)})
CARD_DIGITS = (13, 19)
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
    """The text with every volunteered secret starred, everything else exactly as it was.

    Secrets are looked for in the text after NFKC (full-width digits and letters folded), with zero-width
    characters dropped and other scripts' digits read as 0-9:

    - a verification code: a keyword (验证码, 校验码, 动态码, 短信码, 密码, or the English words code, otp,
      pin, password, passcode), then at most 12 characters without digits, then 4-8 digits or Chinese
      numerals (零〇一二三四五六七八九, 两, 幺), single spaces or hyphens allowed between them; or such a
      code followed within 12 characters by a linking word (是, 为, is, ...) and a keyword;
    - a password: the word after 密码/口令/password/passcode and 是/为/is/:/=;
    - a card number: 13-19 Luhn-valid digits, the last 4 kept;
    - an ID number: 17 digits and a digit or X passing the GB 11643 checksum, not touching a letter or
      digit, the first 3 and last 4 kept.

    Card and ID digits may be split by single spaces, hyphens or dots (dots, and a number that is only part
    of a longer run, only in a printed layout such as 4-4-4-4). Every original character from a secret's
    first to its last one, separators and zero-width characters inside it included, becomes '*' except the
    kept stretches, so the length never changes; text without a secret comes back unchanged.
    """
    view = _normalise(text)
    hidden: set[int] = set()
    for found in (*_numbers(view), *_codes(view), *_passwords(view)):
        hidden |= found
    if not hidden:
        return text
    return "".join("*" if i in hidden else ch for i, ch in enumerate(text))


@dataclass(frozen=True)
class _Normalised:
    text: str
    origin: Sequence[int]  # origin[i]: index in the original text of normalised character i

    def hide(self, positions: Sequence[int], keep: Sequence[Sequence[int]] = ()) -> set[int]:
        """Original indices from the first to the last of these normalised positions, less each kept stretch."""
        span = set(range(self.origin[positions[0]], self.origin[positions[-1]] + 1))
        kept = {p for stretch in keep for p in stretch}
        shown = {i for stretch in keep for i in range(self.origin[stretch[0]], self.origin[stretch[-1]] + 1)}
        # An original character that also gave a hidden position (NFKC can expand one into several) is hidden.
        return span - (shown - {self.origin[p] for p in positions if p not in kept})


@lru_cache(maxsize=4096)
def _fold(ch: str) -> str:
    if ch in INVISIBLE:
        return ""
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in unicodedata.normalize("NFKC", ch))


def _normalise(text: str) -> _Normalised:
    """Built character by character so each normalised character knows the original one it came from."""
    if text.isascii():  # already normal: nothing to fold, nothing invisible
        return _Normalised(text, range(len(text)))
    pieces = [_fold(ch) for ch in text]
    return _Normalised("".join(pieces), [i for i, piece in enumerate(pieces) for _ in piece])


def _numbers(view: _Normalised) -> Iterator[set[int]]:
    """Card and ID numbers, each run of digit groups scanned from the left, the longest number first."""
    for run in NUMBER_RUN.finditer(view.text):
        if run.end() - run.start() < CARD_DIGITS[0]:
            continue
        groups = [range(g.start(), g.end()) for g in DIGIT_GROUP.finditer(view.text, run.start(), run.end())]
        i = 0
        while i < len(groups):
            found = _number_at(view, groups, i)
            if found is None:
                i += 1
            else:
                hidden, i = found
                yield hidden


def _number_at(view: _Normalised, groups: list[range], i: int) -> tuple[set[int], int] | None:
    """The longest card or ID number starting at group i, and the group after it."""
    text = view.text
    ends, length = [], 0
    for j in range(i + 1, len(groups) + 1):
        length += len(groups[j - 1])
        if length > CARD_DIGITS[1]:
            break
        ends.append(j)
    for j in reversed(ends):
        sizes = tuple(len(g) for g in groups[i:j])
        dotted = any(text[g[-1] + 1] == "." for g in groups[i : j - 1])
        if not (_printed(sizes) or (i == 0 and j == len(groups) and not dotted)):
            continue
        positions = [p for g in groups[i:j] for p in g]
        chars = "".join(text[p] for p in positions)
        digits = positions[:-1] if chars[-1] in "Xx" else positions
        card = CARD_DIGITS[0] <= len(digits) <= CARD_DIGITS[1] and luhn_valid(chars[: len(digits)])
        if len(positions) == 18 and _standalone(text, positions) and cn_id_valid(chars):
            # An 18-digit number that is also a valid card is masked as a card: that hides more.
            keep = [digits[-4:]] if card and digits == positions else [positions[:3], positions[-4:]]
            return view.hide(positions, keep), j
        if card:
            return view.hide(digits, [digits[-4:]]), j
    return None


def _printed(sizes: tuple[int, ...]) -> bool:
    return (
        len(sizes) == 1
        or all(s == 1 for s in sizes)
        or (all(s == 4 for s in sizes[:-1]) and sizes[-1] <= 4)
        or sizes in PRINTED_LAYOUTS
    )


def _standalone(text: str, positions: Sequence[int]) -> bool:
    before = text[positions[0] - 1] if positions[0] else ""
    after = text[positions[-1] + 1 : positions[-1] + 2]
    return not (before.isascii() and before.isalnum()) and not (after.isascii() and after.isalnum())


def _codes(view: _Normalised) -> Iterator[set[int]]:
    text = view.text
    keywords = list(KEYWORD.finditer(text))
    if not keywords:
        return
    runs = list(CODE_RUN.finditer(text))
    run_starts = [r.start() for r in runs]
    for keyword in keywords:
        for run in runs[bisect_left(run_starts, keyword.end()) :]:
            if run.start() - keyword.end() > CODE_GAP:
                break
            code = _code_in(text, run, first_group=True)
            if code:
                yield view.hide(code)
                break
            if run.group()[0].isdigit():  # Arabic digits end the gap; a stray 一 (一直) does not
                break
    keyword_starts = [k.start() for k in keywords]
    for run in runs:
        k = bisect_left(keyword_starts, run.end())
        if k == len(keywords):
            break
        gap = text[run.end() : keyword_starts[k]]
        code = _code_in(text, run, first_group=False)
        letter_before = run.start() > 0 and text[run.start() - 1].isascii() and text[run.start() - 1].isalpha()
        if (
            code
            and len(gap) <= CODE_GAP
            and not re.search("[0-9]", gap)
            and CODE_FIRST_LINK.search(gap)
            and not (run.group()[0].isdigit() and letter_before)  # a loan id such as L1001
        ):
            yield view.hide(code)


def _code_in(text: str, run: re.Match[str], *, first_group: bool) -> list[int]:
    """The positions of a code's digits: the whole run, or else (after a keyword) its first group."""
    groups = [range(g.start(), g.end()) for g in CODE_GROUP.finditer(text, run.start(), run.end())]
    for candidate in (groups, groups[:1] if first_group else []):
        digits = [p for g in candidate for p in g]
        if CODE_DIGITS[0] <= len(digits) <= CODE_DIGITS[1]:
            return digits
    return []


def _passwords(view: _Normalised) -> Iterator[set[int]]:
    for m in PASSWORD.finditer(view.text):
        yield view.hide(range(m.start(3), m.end(3)))


#: What is left of "我的验证码是 ******，卡号 ****0128" or "my code is ******" once the starred secrets,
#: digits and punctuation are gone: words that only name the secret.
SECRET_WORDS = re.compile(
    r"我的|这是|這是|给你|給你|发你|是|为|為|和|还有|验证码|驗證碼|校验码|动态码|短信码|密码|密碼|口令|银行卡号|银行卡|卡号|卡號"
    r"|身份证号码|身份证号|身份证|身份證|号码|号|"
    r"\b(?:my|here|is|it|its|the|and|card|number|no|code|otp|pin|password|passcode|id|verification)\b",
    re.I,
)


def only_a_secret(text: str) -> bool:
    """Whether a message, after ``mask_secrets``, was nothing but a secret and the words naming it:
    it asks nothing (the channel has already warned), so no task may be read into the stars."""
    if "****" not in text:
        return False
    rest = SECRET_WORDS.sub(" ", re.sub(r"[*0-9Xx]+", " ", text))
    return not re.sub(r"[\W_]+", "", rest)
