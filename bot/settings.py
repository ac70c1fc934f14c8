"""Settings read once from the environment (CONTRACTS section 2)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.clock import SystemClock

REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"  # noqa: S105 - documented dev default
DEV_ACTION_SERVER_TOKEN = "dev-only-action-server-token-change-me"  # noqa: S105 - documented dev default
# What `make run` gives the agent API so the console can write to customers (development only).
DEV_AGENT_API_TOKEN = "dev-only-agent-api-token-change-me"  # noqa: S105 - documented dev default


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
    #: DIALER_URL / DIALER_TOKEN: where outbound call tasks are POSTed (unset: var/call_outbox.jsonl).
    dialer_url: str | None = None
    dialer_token: str | None = None
    agent_api_token: str | None = None
    environment: str = "development"
    action_server_token: str = DEV_ACTION_SERVER_TOKEN
    now_override: dt.datetime | None = None
    redis_url: str | None = None
    tracker_store_url: str | None = None
    config_dir: Path = REPO_ROOT / "config"
    rasa_speedups: bool = True
    rate_limit_per_ip: int = 120
    #: TRUSTED_PROXIES: the proxies whose X-Forwarded-For is believed (bot.client_address).
    trusted_proxies: tuple[Any, ...] = ()
    rate_limit_per_conversation: int = 30
    daily_messages_per_conversation: int = 600
    action_host: str = "127.0.0.1"
    action_workers: int = 1
    domain_path: Path = Path("domain")
    console_port: int = 5010
    # The analytics event pipeline (bot/analytics): the RabbitMQ the scaled set-up's Rasa publishes
    # its events to, the durable queue the consumer reads, and the fanout exchange that feeds it.
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    analytics_queue: str = "rasa_events"
    analytics_exchange: str = "rasa-exchange"
    #: RASA_URL: where the console reaches the Rasa server (its in-app channel), e.g. across hosts.
    rasa_url: str = "http://127.0.0.1:5005"
    #: DRAIN_FILE: while this file exists the in-app channel's health answers "draining" (503), so a
    #: load balancer stops sending new connections before the worker is stopped (bot.rasa_ext.health).
    drain_file: Path | None = None

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
        if self.agent_api_token is not None and (
            self.agent_api_token == DEV_AGENT_API_TOKEN or len(self.agent_api_token) < 24
        ):
            problems.append("AGENT_API_TOKEN, when set, must be at least 24 characters (not the development token)")
        return problems

    def refuse_unsafe_production(self) -> None:
        """Stop with a clear message instead of serving production with development secrets."""
        problems = self.production_problems()
        if problems:
            raise SystemExit(
                "Refusing to start in production mode (BOT_ENV=production):\n  - " + "\n  - ".join(problems)
            )

    def clock(self) -> SystemClock:
        """The bank's clock for these settings (BOT_TIMEZONE, BOT_TODAY, BOT_NOW); see bot.clock."""
        return _clock(self.bank_timezone, self.today_override, self.now_override)

    def config_file(self, name: str) -> Path:
        """A policy or text file from the configuration directory (BOT_CONFIG_DIR)."""
        return self.config_dir / name


@lru_cache(maxsize=8)
def _clock(timezone: str, today: dt.date | None, now: dt.datetime | None) -> SystemClock:
    # One clock per configuration, so a BOT_NOW clock runs on from the first time it is asked for.
    return SystemClock(timezone, today, now)


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        port = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a port number, got {raw!r}") from exc
    if not 0 < port < 65536:
        raise SettingsError(f"{name} must be between 1 and 65535, got {port}")
    return port


def _int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name) or str(default)
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from exc
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _trusted_proxies() -> tuple[Any, ...]:
    from bot.client_address import parse_trusted

    try:
        return parse_trusted(os.environ.get("TRUSTED_PROXIES"))
    except ValueError as exc:
        raise SettingsError(f"TRUSTED_PROXIES must be comma-separated IP addresses or networks: {exc}") from exc


def _http_url(name: str, default: str) -> str:
    raw = (os.environ.get(name) or default).strip()
    parts = urlsplit(raw)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number or out of range
    except ValueError as exc:
        raise SettingsError(f"{name} must be an http(s) URL like http://rasa:5005, got {raw!r}: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise SettingsError(f"{name} must be an http(s) URL like http://rasa:5005, got {raw!r}")
    return raw.rstrip("/")


def _drain_file() -> Path | None:
    raw = os.environ.get("DRAIN_FILE") or None
    if raw is None:
        return None
    path = Path(raw)
    # Relative paths would mean something else in each process's working directory (a preStop hook's, Rasa's).
    if not path.is_absolute():
        raise SettingsError(f"DRAIN_FILE must be an absolute path like /tmp/drain, got {raw!r}")
    if path.is_dir():
        raise SettingsError(f"DRAIN_FILE must name a file, not the directory {raw!r}")
    return path


def _switch(name: str, default: bool) -> bool:
    raw = (os.environ.get(name) or ("on" if default else "off")).strip().lower()
    if raw in {"on", "1", "true", "yes"}:
        return True
    if raw in {"off", "0", "false", "no"}:
        return False
    raise SettingsError(f"{name} must be on or off, got {raw!r}")


def _timezone(name: str, default: str) -> str:
    raw = os.environ.get(name) or default
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError(f"{name} must be an IANA time zone like Asia/Shanghai, got {raw!r}") from exc
    return raw


def _now_override(today: dt.date | None) -> dt.datetime | None:
    raw = os.environ.get("BOT_NOW") or None
    if raw is None:
        return None
    try:
        now = dt.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise SettingsError(
            f"BOT_NOW must be an ISO date and time in bank time like 2026-11-28T02:00, got {raw!r}"
        ) from exc
    if now.tzinfo is not None:
        raise SettingsError(f"BOT_NOW is bank-local time and takes no UTC offset, got {raw!r}")
    if today is not None and now.date() != today:
        raise SettingsError(f"BOT_NOW ({raw}) and BOT_TODAY ({today.isoformat()}) name different days")
    return now


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
    rasa_port = _port("RASA_PORT", 5005)
    return Settings(
        database_url=os.environ.get("DATABASE_URL") or default_db,
        jwt_secret=os.environ.get("BOT_JWT_SECRET") or DEV_JWT_SECRET,
        today_override=today,
        handoff_webhook_url=os.environ.get("HANDOFF_WEBHOOK_URL") or None,
        rasa_port=rasa_port,
        action_port=_port("ACTION_PORT", 5055),
        bank_timezone=_timezone("BOT_TIMEZONE", "Asia/Shanghai"),
        sms_gateway_url=os.environ.get("SMS_GATEWAY_URL") or None,
        sms_gateway_token=os.environ.get("SMS_GATEWAY_TOKEN") or None,
        dialer_url=_http_url("DIALER_URL", "") if os.environ.get("DIALER_URL") else None,
        dialer_token=os.environ.get("DIALER_TOKEN") or None,
        agent_api_token=os.environ.get("AGENT_API_TOKEN") or None,
        environment=os.environ.get("BOT_ENV", "development"),
        action_server_token=os.environ.get("ACTION_SERVER_TOKEN") or DEV_ACTION_SERVER_TOKEN,
        now_override=_now_override(today),
        redis_url=os.environ.get("REDIS_URL") or None,
        tracker_store_url=os.environ.get("TRACKER_STORE_URL") or None,
        config_dir=Path(os.environ.get("BOT_CONFIG_DIR") or REPO_ROOT / "config"),
        rasa_speedups=_switch("BOT_RASA_SPEEDUPS", True),
        rate_limit_per_ip=_int("RATE_LIMIT_PER_IP", 120),
        trusted_proxies=_trusted_proxies(),
        rate_limit_per_conversation=_int("RATE_LIMIT_PER_CONVERSATION", 30),
        daily_messages_per_conversation=_int("DAILY_MESSAGES_PER_CONVERSATION", 600),
        action_host=os.environ.get("ACTION_HOST") or "127.0.0.1",
        action_workers=_int("ACTION_WORKERS", 1),
        domain_path=Path(os.environ.get("DOMAIN_PATH") or "domain"),
        console_port=_port("CONSOLE_PORT", 5010),
        rabbitmq_url=os.environ.get("RABBITMQ_URL") or "amqp://guest:guest@127.0.0.1:5672/",
        analytics_queue=os.environ.get("ANALYTICS_QUEUE") or "rasa_events",
        analytics_exchange=os.environ.get("ANALYTICS_EXCHANGE") or "rasa-exchange",
        rasa_url=_http_url("RASA_URL", f"http://127.0.0.1:{rasa_port}"),
        drain_file=_drain_file(),
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
