"""Is this text really from the bank? A rule-based checker for pasted SMS, numbers and links.

Hard red flags make a text "likely_scam" even when the sender looks official, because
scammers spoof sender ids and copy the bank's wording. Links outside the official domains
and phone numbers that are not the bank's make it "suspicious". Only a text with neither
is "no_red_flags"; whether it is *genuine* is decided elsewhere, against the log of notices
the bank actually sent to the verified customer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml

from bot.language import normalise

Verdict = Literal["likely_scam", "suspicious", "no_red_flags", "nothing_to_check"]

# code -> patterns (on normalised text: Simplified, lower case, half-width)
RED_FLAGS: dict[str, tuple[str, ...]] = {
    "asks_for_code": (
        r"验证码|校验码|动态码|动态密码|短信码",
        r"\b(verification|security|one[- ]time|sms)\s*code\b|\botp\b|\bpasscode\b",
    ),
    "asks_for_password": (r"(登录|支付|交易|银行卡|取款)?密码", r"\bpassword\b|\bpin\b(?!\w)"),
    "screen_sharing": (
        r"屏幕共享|共享屏幕|腾讯会议|钉钉会议|远程(协助|控制)|下载.{0,8}(会议|软件|app)|zoom|anydesk|teamviewer",
        r"screen[- ]?shar|remote (access|control|desktop)|download (the |this |our )?(app|software|meeting)",
    ),
    "safe_account": (
        r"安全账户|安全帐户|监管账户|监管帐户|资金监管|核查账户|清查账户|保护账户",
        r"safe(ty)? account|secure account|supervis\w* account|holding account|protected account",
    ),
    "student_loan_cancellation": (
        r"注销.{0,10}(校园贷|学生贷|学生账户|校园账户)|校园贷.{0,10}注销",
        r"(cancel|close|delete).{0,30}student (loan )?account|student loan account",
    ),
    "credit_repair": (
        r"征信修复|修复征信|洗白|消除.{0,6}(逾期|不良|记录)|删除.{0,6}(逾期|不良|记录)|征信.{0,6}(清除|消除|铲除)|内部渠道",
        r"credit (repair|clean|fix)|(erase|remove|delete|clear|wipe).{0,25}(overdue|record|history|credit)|fix your credit",
    ),
    "unfreeze_fee": (
        r"解冻|保证金|激活费|手续费.{0,10}(解|放款)|验资",
        r"unfreez|release fee|unlock (your )?(funds|account)|deposit to (unlock|release)|activation fee",
    ),
    "threat_of_arrest": (
        r"逮捕|拘留|坐牢|通缉|公安局|公安机关将|立案|法院传票|起诉您|起诉你|强制执行|上门催收|冻结您的(所有)?账户",
        r"\barrest|\bpolice\b|court summons|\bwarrant\b|\bjail\b|prosecut|legal action|lawsuit|criminal",
    ),
    "chat_app_contact": (
        r"加.{0,4}(微信|vx|v信|威信|qq|企业微信)|微信号|qq号|(微信|qq)[:：]?\s*[a-z0-9_]{5,}|telegram|whatsapp",
        r"(add|contact|message|text).{0,20}(wechat|whatsapp|telegram|qq|line)\b|wechat id|telegram|whatsapp",
    ),
    "transfer_to_account": (
        r"(转|汇|打|付|存)(账|款|入|至|到|给).{0,12}(以下|个人|指定|该|这个)?(账户|帐户|账号|卡号|卡)|收款(人|账户)|户名[:：]|卡号[:：]?\s*\d",
        r"(transfer|pay|send|deposit|remit)\w*.{0,40}(to|into) (the |this |a |our )?(following|personal|below|designated|specified)?\s*(account|card)|account name[:：]|beneficiary|\bcard (no\.?|number)?\s*\d{4}",
        r"(?<!\d)(?:\d[ -]?){15,18}\d(?!\d)",  # a full bank card number: a notice never asks you to pay to one
    ),
}
URL = re.compile(r"(?:https?://)?(?:[a-z0-9-]+\.)+[a-z]{2,}(?::\d+)?(?:/[^\s，。]*)?", re.I)
PHONE = re.compile(
    r"(?<!\d)(?:\+?86[- ]?)?(?:1[3-9]\d[- ]?\d{4}[- ]?\d{4}|400[- ]?\d{3}[- ]?\d{4}|0\d{2,3}[- ]?\d{7,8}|95\d{3,4}|106\d{6,12})(?!\d)"
)


@dataclass(frozen=True)
class BankChannels:
    sender_numbers: frozenset[str]
    hotlines: frozenset[str]
    domains: tuple[str, ...]

    @classmethod
    def from_file(cls, path: Path) -> BankChannels:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        digits = lambda values: frozenset(re.sub(r"\D", "", str(v)) for v in values)  # noqa: E731
        return cls(
            digits(raw["official_sender_numbers"]), digits(raw["official_hotlines"]), tuple(raw["official_domains"])
        )

    def official_number(self, number: str) -> bool:
        d = re.sub(r"\D", "", number)
        return d in self.sender_numbers or d in self.hotlines

    def official_domain(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(host == d or host.endswith("." + d) for d in self.domains)


@dataclass(frozen=True)
class SmsCheck:
    verdict: Verdict
    red_flags: tuple[str, ...]
    unofficial_links: tuple[str, ...]
    unofficial_numbers: tuple[str, ...]
    official_sender: bool


NEGATION = re.compile(
    r"(勿|不要|不会|绝不|切勿|谨防|请勿|不得|never|do not|don't|won't|will not|not)(?:\W{0,3}\w{1,12}){0,3}\W{0,3}$",
    re.I,
)


def _flagged(text: str, patterns: tuple[str, ...]) -> bool:
    """A pattern matches and is not a warning against it ("请勿向任何人透露验证码", "never share your code")."""
    for pattern in patterns:
        for match in re.finditer(pattern, text):
            if not NEGATION.search(text[max(0, match.start() - 30) : match.start()]):
                return True
    return False


def _host(url: str) -> str:
    return re.sub(r"^https?://", "", url, flags=re.I).split("/")[0].split(":")[0]


def check_sms(text: str, channels: BankChannels, sender: str = "") -> SmsCheck:
    """The verdict on a pasted text (and the sender it came from, when known) with its reasons."""
    t = normalise(text)
    flags = tuple(code for code, patterns in RED_FLAGS.items() if _flagged(t, patterns))
    links = tuple(dict.fromkeys(m.group(0) for m in URL.finditer(t) if not re.fullmatch(r"[\d.]+", _host(m.group(0)))))
    bad_links = tuple(u for u in links if not channels.official_domain(_host(u)))
    numbers = tuple(dict.fromkeys(m.group(0) for m in PHONE.finditer(t)))
    bad_numbers = tuple(n for n in numbers if not channels.official_number(n))
    official_sender = bool(sender) and channels.official_number(sender)
    if sender and not official_sender:
        bad_numbers = (*bad_numbers, sender)
    if flags:
        verdict: Verdict = "likely_scam"
    elif bad_links or bad_numbers:
        verdict = "suspicious"
    elif not (links or numbers or official_sender or len(t.strip()) >= 25):
        verdict = "nothing_to_check"
    else:
        verdict = "no_red_flags"
    return SmsCheck(verdict, flags, bad_links, bad_numbers, official_sender)


@lru_cache(maxsize=1)
def default_channels() -> BankChannels:
    return BankChannels.from_file(Path(__file__).resolve().parents[2] / "config" / "bank_channels.yml")
