"""Every call script, in both languages, says what it must and nothing it must not, like the SMS templates."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from bot.domain.notices import load_templates, render_notice
from bot.domain.sms_check import check_sms, default_channels
from tests.unit.test_notice_templates import MUST, THREATS

CONFIG = Path(__file__).resolve().parents[2] / "config"
SCRIPTS = load_templates(CONFIG / "call_scripts.yml")
CASES = [(name, lang) for name in SCRIPTS for lang in ("zh", "en")]
IDENTITY_CHECK = {"zh": "请问是{masked_name}本人吗", "en": "Am I speaking with {masked_name}?"}
STRANGER = {"zh": "如不是本人", "en": "If not"}
NEVER_ASKS = {"zh": "不会索要密码、验证码或完整卡号", "en": "never ask for passwords, codes or card numbers"}


def test_the_engine_has_the_call_script_it_uses_in_both_languages() -> None:
    assert "call_overdue" in SCRIPTS and all(set(texts) == {"zh", "en"} for texts in SCRIPTS.values())


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_a_script_names_the_bank_the_amount_days_penalty_formula_how_to_repay_and_the_hotline(name, lang) -> None:
    text = SCRIPTS[name][lang]
    for required in MUST[lang]:
        if required in ("异议|非本人", "dispute|not your loan"):
            continue  # a call checks who answers first; a stranger is told nothing to dispute
        assert re.search(required, text), f"{name}/{lang} lacks {required}"
    assert NEVER_ASKS[lang] in text


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_a_script_checks_who_answers_before_anything_about_the_debt(name, lang) -> None:
    text = SCRIPTS[name][lang]
    first_debt_word = min(text.index(v) for v in ("{loan_id}", "{amount}", "{days}"))
    assert text.index(IDENTITY_CHECK[lang]) < text.index(STRANGER[lang]) < first_debt_word


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_a_script_has_no_threat_no_foreign_link_and_passes_the_scam_checker(name, lang) -> None:
    text = SCRIPTS[name][lang]
    assert not re.search(THREATS, text, re.I)
    for host in re.findall(r"(?:https?://)?((?:[a-z0-9-]+\.)+[a-z]{2,})", text, re.I):
        assert host.endswith("qinghebank.com.cn"), host
    name_ = "张伟" if lang == "zh" else "Li Na"
    rendered = render_notice(SCRIPTS, name, lang, name_, "L1004A", 3, Decimal("8000.00"), 95)
    assert name_ not in rendered and "8,000.00" in rendered and "380.00" in rendered  # 8,000 x 0.05% x 95
    assert check_sms(rendered, default_channels(), "95888").verdict == "no_red_flags"
    # The notice log keeps the customer's script in a 500-character column.
    longest = render_notice(SCRIPTS, name, lang, "欧阳娜娜" if lang == "zh" else "Li Na", "L9999999", 36,
                            Decimal("99999.99"), 999)  # fmt: skip
    assert len(longest) <= 500
