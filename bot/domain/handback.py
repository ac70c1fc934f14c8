"""What a customer waiting for a person says to go back to the assistant instead."""

from __future__ import annotations

import re
import unicodedata

#: Said while a person has the conversation: withdraw the ticket and let the assistant answer again.
BACK_TO_BOT = re.compile(
    r"(返回|回到|换回|切回|转回)(机器人|智能助手|助手|自助)|(不用|不要|不需要|取消)(转)?人工(了|客服)?"
    r"|\bback to (the )?(bot|assistant|virtual assistant)\b|\b(cancel|withdraw|never ?mind)( the)? (agent|human|handoff|ticket)\b"
    r"|\bno (need for|more) (an? )?(agent|human)\b|\btalk to (the )?bot\b"
)


def wants_the_bot_back(text: str) -> bool:
    """Whether a message asks to leave the queue for a person and talk to the assistant again."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return bool(BACK_TO_BOT.search(folded))
