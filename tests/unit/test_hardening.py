"""Rate limits, production-mode checks and log masking, without servers."""

import logging

import pytest

from bot.log_masking import MaskingFilter, mask_for_logs
from bot.rasa_ext.limits import Limit, MemoryCounters, RateLimits
from bot.settings import DEV_ACTION_SERVER_TOKEN, DEV_JWT_SECRET, load_settings

LIMITS = (
    Limit("conversation", 2, 60, "per minute"),
    Limit("conversation", 3, 86_400, "per day"),
    Limit("ip", 5, 60, "per address"),
)


async def test_a_window_allows_its_limit_and_then_refuses():
    limits = RateLimits(LIMITS, MemoryCounters())
    assert [await limits.check("conversation", "c", now=t) for t in (0, 1, 2)] == [None, None, "per minute"]
    assert await limits.check("conversation", "other", now=2) is None  # keys are independent
    assert await limits.check("ip", "c", now=2) is None  # and so are scopes


async def test_the_daily_cap_holds_across_minutes_until_the_next_day():
    limits = RateLimits(LIMITS, MemoryCounters())
    answers = [await limits.check("conversation", "c", now=t) for t in (0, 60, 120, 180)]
    assert answers == [None, None, None, "per day"]
    assert await limits.check("conversation", "c", now=86_400) is None


async def test_the_in_memory_table_forgets_finished_windows():
    counters = MemoryCounters(max_keys=10)
    limits = RateLimits(LIMITS[:1], counters)
    for k in range(30):
        await limits.check("conversation", f"c{k}", now=k * 60)
    assert len(counters._windows) <= 11


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
    monkeypatch.delenv("AGENT_API_TOKEN", raising=False)  # `make` exports its development token
    load_settings().refuse_unsafe_production()
    monkeypatch.setenv("AGENT_API_TOKEN", "z" * 30)
    load_settings().refuse_unsafe_production()


def test_production_mode_refuses_the_development_agent_api_token(monkeypatch):
    from bot.settings import DEV_AGENT_API_TOKEN

    monkeypatch.setenv("BOT_ENV", "production")
    monkeypatch.setenv("BOT_JWT_SECRET", "x" * 40)
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "y" * 30)
    monkeypatch.setenv("AGENT_API_TOKEN", DEV_AGENT_API_TOKEN)
    with pytest.raises(SystemExit, match="AGENT_API_TOKEN"):
        load_settings().refuse_unsafe_production()


def test_log_records_lose_phone_numbers_and_secrets():
    assert mask_for_logs("call 13912345678 code 482913") == "call 139****5678 code ******"
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "user %s said %s", ("13800001001", "验证码 123456"), None
    )
    MaskingFilter().filter(record)
    assert record.getMessage() == "user 138****1001 said 验证码 ******"
