"""Rate limits, production-mode checks and log masking, without servers."""

import logging

import pytest

from bot.log_masking import MaskingFilter, mask_for_logs
from bot.rasa_ext.channel import RateLimits
from bot.settings import DEV_ACTION_SERVER_TOKEN, DEV_JWT_SECRET, load_settings


def test_a_sliding_window_allows_the_limit_per_minute_and_then_refuses():
    limits = RateLimits(per_ip=3, per_conversation=2)
    assert [limits.allow("c", 2, now=t) for t in (0, 1, 2)] == [True, True, False]
    assert limits.allow("c", 2, now=61) is True  # the first hit left the window
    assert limits.allow("other", 2, now=2) is True  # keys are independent


def test_development_mode_accepts_the_development_secrets(monkeypatch):
    monkeypatch.delenv("BOT_ENV", raising=False)
    assert load_settings().production_problems() == []


def test_production_mode_names_every_development_secret_still_in_use(monkeypatch):
    monkeypatch.setenv("BOT_ENV", "production")
    monkeypatch.delenv("BOT_JWT_SECRET", raising=False)
    monkeypatch.delenv("ACTION_SERVER_TOKEN", raising=False)
    settings = load_settings()
    assert settings.jwt_secret == DEV_JWT_SECRET and settings.action_server_token == DEV_ACTION_SERVER_TOKEN
    problems = settings.production_problems()
    assert any("BOT_JWT_SECRET" in p for p in problems) and any("ACTION_SERVER_TOKEN" in p for p in problems)
    with pytest.raises(SystemExit, match="Refusing to start in production mode"):
        settings.refuse_unsafe_production()


def test_production_mode_with_real_secrets_starts(monkeypatch):
    monkeypatch.setenv("BOT_ENV", "production")
    monkeypatch.setenv("BOT_JWT_SECRET", "x" * 40)
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "y" * 30)
    load_settings().refuse_unsafe_production()


def test_log_records_lose_phone_numbers_and_secrets():
    assert mask_for_logs("call 13912345678 code 482913") == "call 139****5678 code ******"
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "user %s said %s", ("13800001001", "验证码 123456"), None
    )
    MaskingFilter().filter(record)
    assert record.getMessage() == "user 138****1001 said 验证码 ******"
