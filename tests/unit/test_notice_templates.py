"""Every notice template, in both languages, says what it must and nothing it must not."""

import re
from decimal import Decimal
from pathlib import Path

import pytest

from bot.domain.notices import load_templates, render_notice
from bot.domain.sms_check import check_sms, default_channels

TEMPLATES = load_templates(Path(__file__).resolve().parents[2] / "config" / "notice_templates.yml")
CASES = [(name, lang) for name in TEMPLATES for lang in ("zh", "en")]
MUST = {
    "zh": [
        "青禾银行", "{masked_name}", "{amount}", "{days}", "App", "立即还款", "400-888-0000", "异议|非本人",
        r"\{amount\}元×0\.05%×\{days\}天=\{penalty\}元",  # the penalty formula with its figures
        "自动扣款", "转账",  # every repayment channel
    ],
    "en": [
        "Qinghe Bank", "{masked_name}", "{amount}", "{days}", "app", "Repay now", "400-888-0000",
        "dispute|not your loan",
        r"\{amount\} x 0\.05% x \{days\} days = \{penalty\} CNY",
        "auto-debit", "bank transfer",
    ],
}  # fmt: skip
THREATS = r"起诉|逮捕|拘留|法院|公安|上门|曝光|通讯录|坐牢|arrest|police|court|lawsuit|legal action|jail|visit your|contacts|expose"


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_a_template_names_the_bank_the_masked_borrower_amount_days_how_to_repay_and_dispute(name, lang):
    text = TEMPLATES[name][lang]
    for required in MUST[lang]:
        assert re.search(required, text), f"{name}/{lang} lacks {required}"


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_a_template_has_no_threat_and_no_link_outside_the_official_domain(name, lang):
    text = TEMPLATES[name][lang]
    assert not re.search(THREATS, text, re.I)
    for host in re.findall(r"(?:https?://)?((?:[a-z0-9-]+\.)+[a-z]{2,})", text, re.I):
        assert host.endswith("qinghebank.com.cn"), host


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_a_rendered_notice_passes_the_banks_own_scam_checker_and_masks_the_name(name, lang):
    text = render_notice(TEMPLATES, name, lang, "张伟" if lang == "zh" else "Li Na", "L1001", 4, Decimal("1080.00"), 12)
    assert "张伟" not in text and "Li Na" not in text and ("张*" in text or "L* N*" in text)
    assert "1,080.00" in text and "12" in text
    assert "6.48" in text  # 1,080.00 x 0.05% x 12 days, worked out
    assert check_sms(text, default_channels(), "95888").verdict == "no_red_flags"
    # At most three SMS parts: 3 x 153 GSM characters, or 3 x 67 UCS-2 characters for Chinese,
    # with the longest loan figures the records hold.
    longest = render_notice(TEMPLATES, name, lang, "欧阳娜娜" if lang == "zh" else "Li Na", "L9999999", 36,
                            Decimal("99999.99"), 999)  # fmt: skip
    assert len(longest) <= (459 if lang == "en" else 201)


@pytest.mark.parametrize(
    ("lang", "help_first", "offer"),
    [
        ("zh", "愿意帮您", r"可在App或向智能助手申请延期或分期"),
        ("en", "we are here to help", r"extension or instalment plan in our app or via our assistant"),
    ],
)
def test_the_care_template_leads_with_help_and_offers_an_extension_or_plan(lang, help_first, offer):
    text = TEMPLATES["overdue_care"][lang]
    assert text.index(help_first) < text.index("{amount}")
    assert re.search(offer, text)
    # The care text does not press with charges: it says how the charge is worked out, after the help.
    assert not re.search(r"罚息|(?<!\{)penalty", text) and text.index("{penalty}") > text.index(help_first)
