"""A scam victim right now: someone who already opened a link, typed or told a code or password,
installed an app or shared their screen. They need the urgent steps at once, whatever else the
message seems to ask ("我已经点了链接 还输了验证码 怎么办啊" had been answered "please log in")."""

from __future__ import annotations

import re
import unicodedata

GAVE_AWAY_ACCESS = re.compile(
    r"(说|告诉|给|输|输入|填|发)了.{0,6}(验证码|密码|卡号)|(点|点开|点击|打开)了.{0,6}(链接|网址)"
    r"|(下载|安装)了.{0,8}(软件|app)|共享了?屏幕"
    r"|\b(clicked|opened|tapped)\b.{0,20}\blink\b|\b(entered|typed|gave|told)\b.{0,20}\b(code|password|pin|card number)\b"
    r"|\b(installed|downloaded)\b.{0,25}\b(app|software)\b|\bshared (my )?screen\b",
    re.I,
)


def gave_away_access(text: str) -> bool:
    """Whether the message says a link, code, password, app or screen was already given away.

    Only what was already done ("点了", "clicked"): "不要点链接" or "I didn't click it" is not.
    Money already sent is judged in the scam report itself, since "我已经付了" usually means a
    repayment.
    """
    folded = unicodedata.normalize("NFKC", text).lower()
    if re.search(
        r"(没|没有|不会|不要|别|未)(点|输|告诉|说|给|下载|安装|共享)|\b(didn'?t|did not|never|won'?t)\b", folded
    ):
        return False
    return bool(GAVE_AWAY_ACCESS.search(folded))
