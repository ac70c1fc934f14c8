"""Messages that carry no question at all: keyboard mash, code, emoji, symbols.

They get a short "didn't get that" with examples and never count towards handing the
conversation to a person: a person cannot help with noise either.
"""

from __future__ import annotations

import re
import unicodedata

SQL_OR_CODE = re.compile(
    r"\b(drop\s+table|select\s+.+\s+from|insert\s+into|delete\s+from|union\s+select|update\s+\w+\s+set)\b"
    r"|--|;\s*$|<\s*script|\$\{|\{\{|\bor\s+1\s*=\s*1\b",
    re.I,
)
LATIN_WORD = re.compile(r"[a-z]+")
HAN = re.compile(r"[\u4e00-\u9fff]")
VOWELS = set("aeiouy")


#: Chat words without a vowel that people do write ("thx u", "sms pls").
CHAT_WORDS = frozenset({"thx", "thnx", "pls", "plz", "sms", "txt", "msg", "msgs", "hmm", "brb", "ppl", "cnt"})


def _mash(word: str) -> bool:
    """A Latin 'word' no language would write: no vowel, or five consonants in a row."""
    if len(word) < 3 or word in CHAT_WORDS:
        return False
    return not (set(word) & VOWELS) or bool(re.search(r"[^aeiouy]{5,}", word))


def _mostly_mash(words: list[str]) -> bool:
    """More than half of the letters are in words no language would write."""
    return sum(len(w) for w in words if _mash(w)) * 2 > sum(len(w) for w in words)


def is_noise(text: str) -> bool:
    """Whether a message is noise rather than an attempt to say something.

    Noise: nothing but emoji, symbols, punctuation and digits; SQL or code fragments; or Latin
    letters that are mostly keyboard mash ("qwxz plmk vbnr", "asdfgh"). Chinese characters are
    never noise: a customer typing Chinese is saying something, however garbled.
    """
    folded = unicodedata.normalize("NFKC", text).lower().strip()
    if not folded:
        return True
    if SQL_OR_CODE.search(folded):
        return True
    if HAN.search(folded):
        return False
    words = LATIN_WORD.findall(folded)
    if not words:
        return True  # emoji, symbols, digits only
    return _mostly_mash(words)


def is_gibberish(text: str) -> bool:
    """Latin keyboard mash with no Chinese ("qwxz plmk"): noise that can never be an answer. Emoji,
    symbols and digits alone are noise too but can answer a question ("👍", "2"); code is left to the
    classifier, since a pasted notice can hold "--" and still ask something."""
    folded = unicodedata.normalize("NFKC", text).lower().strip()
    if HAN.search(folded):
        return False
    words = LATIN_WORD.findall(folded)
    return bool(words) and _mostly_mash(words)
