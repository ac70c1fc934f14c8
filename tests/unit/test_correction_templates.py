"""Correction texts: both languages, the bank and its hotline, nothing about anyone, and genuine-looking."""

from __future__ import annotations

import datetime as dt
import re
import string
from pathlib import Path

import pytest

from bot.domain.notices import load_templates
from bot.domain.sms_check import check_sms, default_channels
from bot.services.corrections import CORRECTION_TEMPLATES, correction_text

TEMPLATES = load_templates(Path(__file__).resolve().parents[2] / "config" / "correction_templates.yml")
SENT = dt.datetime(2026, 11, 28, 10, 0)


def test_every_correction_the_code_sends_is_written_in_both_languages() -> None:
    assert set(TEMPLATES) == set(CORRECTION_TEMPLATES)
    assert all(set(texts) == {"zh", "en"} for texts in TEMPLATES.values())


@pytest.mark.parametrize("name", CORRECTION_TEMPLATES)
@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_correction_names_the_bank_the_date_and_the_hotline_and_nothing_about_anyone(name, language) -> None:
    raw = TEMPLATES[name][language]
    # The only thing filled in is the date of the wrong notice: no name, loan, amount or number.
    assert {f for _, f, _, _ in string.Formatter().parse(raw) if f} == {"sent_date"}
    text = correction_text(name, language, SENT)
    assert "2026-11-28" in text and "400-888-0000" in text
    assert re.search("青禾银行" if language == "zh" else "Qinghe Bank", text)
    assert check_sms(text, default_channels(), "95888").verdict == "no_red_flags"
    assert len(text) <= (306 if language == "en" else 134)  # at most two SMS parts
