"""Words that always leave whatever form the customer is in, whatever the NLU makes of them."""

from __future__ import annotations

import re
import unicodedata

#: Whole messages (punctuation and case aside) that mean "stop this": they never answer a question.
CANCEL_PHRASES = frozenset(
    {
        "取消", "取消吧", "取消了", "算了", "算了吧", "还是算了", "不办了", "先不办了", "不弄了", "不要了", "退出",
        "算了不弄了", "算了不办了", "算了不要了", "不弄了算了", "那算了", "那就算了",
        "cancel", "cancel it", "cancel that", "never mind", "nevermind", "forget it", "stop", "quit", "exit",
    }
)  # fmt: skip


def is_cancel(text: str) -> bool:
    """Whether a whole message asks to leave what is in progress ("取消", "算了", "never mind")."""
    folded = unicodedata.normalize("NFKC", text).lower()
    folded = re.sub(r"[\s\W_]+", " ", folded).strip()
    return folded in CANCEL_PHRASES or folded.replace(" ", "") in CANCEL_PHRASES
