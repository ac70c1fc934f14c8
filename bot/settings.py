"""Settings read once from the environment (CONTRACTS section 2)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"  # noqa: S105 - documented dev default
DEV_ACTION_SERVER_TOKEN = "dev-only-action-server-token-change-me"  # noqa: S105 - documented dev default


class SettingsError(ValueError):
    """An environment variable holds a value the bot cannot use."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    jwt_secret: str
    today_override: dt.date | None
    handoff_webhook_url: str | None
    rasa_port: int
    action_port: int
    bank_timezone: str
    sms_gateway_url: str | None = None
    sms_gateway_token: str | None = None
    agent_api_token: str | None = None
    environment: str = "development"
    action_server_token: str = DEV_ACTION_SERVER_TOKEN

    @property
    def using_dev_secret(self) -> bool:
        return self.jwt_secret == DEV_JWT_SECRET

    def production_problems(self) -> list[str]:
        """Why this configuration must not serve real customers (empty when it may, or in development)."""
        if self.environment != "production":
            return []
        problems = []
        if self.jwt_secret == DEV_JWT_SECRET or len(self.jwt_secret) < 32:
            problems.append(
                "BOT_JWT_SECRET must be set to a secret of at least 32 characters (not the development secret)"
            )
        if self.action_server_token == DEV_ACTION_SERVER_TOKEN or len(self.action_server_token) < 24:
            problems.append(
                "ACTION_SERVER_TOKEN must be set to a token of at least 24 characters (not the development token)"
            )
        if self.agent_api_token is not None and len(self.agent_api_token) < 24:
            problems.append("AGENT_API_TOKEN, when set, must be at least 24 characters")
        return problems

    def refuse_unsafe_production(self) -> None:
        """Stop with a clear message instead of serving production with development secrets."""
        problems = self.production_problems()
        if problems:
            raise SystemExit(
                "Refusing to start in production mode (BOT_ENV=production):\n  - " + "\n  - ".join(problems)
            )

    def local_time(self) -> dt.time:
        from zoneinfo import ZoneInfo

        return dt.datetime.now(ZoneInfo(self.bank_timezone)).time().replace(microsecond=0)

    def today(self) -> dt.date:
        """The date the bot treats as today: BOT_TODAY if set, else the bank's local date."""
        if self.today_override is not None:
            return self.today_override
        from zoneinfo import ZoneInfo

        return dt.datetime.now(ZoneInfo(self.bank_timezone)).date()


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        port = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a port number, got {raw!r}") from exc
    if not 0 < port < 65536:
        raise SettingsError(f"{name} must be between 1 and 65535, got {port}")
    return port


def load_settings() -> Settings:
    """Read the environment into a Settings object; raises SettingsError on bad values."""
    raw_today = os.environ.get("BOT_TODAY") or None
    today = None
    if raw_today:
        try:
            today = dt.date.fromisoformat(raw_today)
        except ValueError as exc:
            raise SettingsError(f"BOT_TODAY must be an ISO date like 2026-11-28, got {raw_today!r}") from exc
    default_db = f"sqlite:///{REPO_ROOT / 'var' / 'bot.db'}"
    return Settings(
        database_url=os.environ.get("DATABASE_URL") or default_db,
        jwt_secret=os.environ.get("BOT_JWT_SECRET") or DEV_JWT_SECRET,
        today_override=today,
        handoff_webhook_url=os.environ.get("HANDOFF_WEBHOOK_URL") or None,
        rasa_port=_port("RASA_PORT", 5005),
        action_port=_port("ACTION_PORT", 5055),
        bank_timezone=os.environ.get("BOT_TIMEZONE", "Asia/Shanghai"),
        sms_gateway_url=os.environ.get("SMS_GATEWAY_URL") or None,
        sms_gateway_token=os.environ.get("SMS_GATEWAY_TOKEN") or None,
        agent_api_token=os.environ.get("AGENT_API_TOKEN") or None,
        environment=os.environ.get("BOT_ENV", "development"),
        action_server_token=os.environ.get("ACTION_SERVER_TOKEN") or DEV_ACTION_SERVER_TOKEN,
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read on first use (never at import)."""
    settings = load_settings()
    if settings.using_dev_secret:
        print(
            "WARNING: BOT_JWT_SECRET is not set; using the development secret. Never run like this in production.",
            file=sys.stderr,
        )
    return settings
