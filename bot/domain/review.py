"""Conversation review rules (pure): what a tag may be, what a reviewer is shown, and how a marked message
becomes a Rasa NLU training example.

A tag is a short word or two: after NFKC, trimming and lower case, with each run of spaces made one
``_``, 1-24 letters (any script), digits, ``_`` or ``-``. Since tags are free text that every supervisor
reads, one may not hold customer data: no run of five or more digits (a phone, card, ID or account
number) and nothing the secret masking would hide (a verification code). A refused tag raises
``ReviewRefused`` with a code the console words in both languages.

Messages are shown and kept as the event stream stored them (secrets already masked) with phone
numbers masked too (139****9999). A training example is that text on one line (every kind of line
break and other white space a single space), without the characters YAML cannot carry, with square
brackets made full-width (Rasa would read ``[text](entity)`` as an entity annotation; the NLU
pipeline's NFKC folds them back); a button press (``/intent``) is not an example.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping

from bot.domain.errors import UserError
from bot.domain.secrets import mask_secrets
from bot.log_masking import mask_for_logs

MAX_TAG = 24
TAG = re.compile(r"^[\w-]+$")
LONG_NUMBER = re.compile(r"\d{5,}")
#: A Rasa intent name that YAML can carry without quotes.
PLAIN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
# Not printable in YAML 1.2 (C0 and C1 controls, DEL, surrogates, the non-characters FFFE/FFFF), and the
# byte-order mark, zero-width space and word joiner, which would be invisible in a designer's file.
UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\ufeff\u200b\u2060]")


class ReviewRefused(UserError):
    """A review action that cannot be done as asked; ``code`` names why (the console words it)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def normalise_tag(text: str) -> str:
    """The tag a supervisor typed, as stored; ``ReviewRefused`` (tag_empty, tag_too_long, tag_charset,
    tag_number) when it cannot be one."""
    tag = "_".join(unicodedata.normalize("NFKC", text).strip().lower().split())
    if not tag:
        raise ReviewRefused("tag_empty")
    if len(tag) > MAX_TAG:
        raise ReviewRefused("tag_too_long")
    if not TAG.match(tag):
        raise ReviewRefused("tag_charset")
    if LONG_NUMBER.search(tag) or mask_secrets(tag) != tag:
        raise ReviewRefused("tag_number")
    return tag


def shown_text(text: str | None) -> str:
    """A stored message as a reviewer sees it and a mark keeps it: secrets and phone numbers masked."""
    return mask_for_logs(text or "")


def is_button_press(text: str) -> bool:
    """A button's payload (``/intent`` or ``/intent{...}``) rather than words the customer typed."""
    return text.lstrip().startswith("/")


def training_example(text: str) -> str | None:
    """The text as one Rasa NLU example line, or None when it is no example (empty, a button press)."""
    # Line breaks of every kind (NEL and the separators included) first become spaces, then what YAML cannot
    # carry goes.
    line = " ".join(UNPRINTABLE.sub("", " ".join(text.split())).split())
    if not line or is_button_press(line):
        return None
    return line.replace("[", "［").replace("]", "］")


def nlu_yaml(examples: Mapping[str, Iterable[str]], comments: Iterable[str] = ()) -> str:
    """Rasa NLU training data (``version: "3.1"``): one ``- intent:`` block per intent with its examples as
    a literal block, intents and examples sorted, examples deduplicated. Each example must already be a
    ``training_example`` line."""
    lines = [f"# {' '.join(c.split())}" for c in comments]
    lines.append('version: "3.1"')
    blocks = []
    for intent in sorted(examples):
        texts = sorted(set(examples[intent]))
        if not texts:
            continue
        for t in texts:
            if training_example(t) != t:
                raise ValueError(f"not a training example line: {t!r}")
        name = intent if PLAIN_NAME.match(intent) else json.dumps(intent, ensure_ascii=False)
        blocks += [f"- intent: {name}", "  examples: |", *(f"    - {t}" for t in texts)]
    lines += ["nlu:", *blocks] if blocks else ["nlu: []"]
    return "\n".join(lines) + "\n"
