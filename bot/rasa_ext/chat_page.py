"""The chat page the in-app channel serves (CONTRACTS section 7): HTML, script and styles from
this package, the words from ``config/chat_page.yml``. Nothing is loaded from anywhere else."""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from string import Template

import yaml

from bot.settings import get_settings

STATIC = Path(__file__).with_name("static")
ASSETS = {
    "chat.js": "application/javascript; charset=utf-8",
    "chat.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
LANGUAGES = ("zh", "en")


@lru_cache(maxsize=1)
def strings() -> dict[str, dict[str, str]]:
    raw = yaml.safe_load(get_settings().config_file("chat_page.yml").read_text(encoding="utf-8"))
    return {language: {k: str(v) for k, v in raw[language].items()} for language in LANGUAGES}


@lru_cache(maxsize=1)
def official_domains() -> tuple[str, ...]:
    raw = yaml.safe_load(get_settings().config_file("bank_channels.yml").read_text(encoding="utf-8"))
    return tuple(str(d).lower() for d in raw["official_domains"])


def embed_origins() -> tuple[str, ...]:
    """Origins (besides the page's own) whose ``postMessage`` may hand the page a token:
    ``CHAT_EMBED_ORIGINS``, comma-separated, for an app that frames the page."""
    raw = os.environ.get("CHAT_EMBED_ORIGINS", "")
    return tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str


@cache
def asset(name: str) -> Asset | None:
    if name not in ASSETS:
        return None
    return Asset((STATIC / name).read_bytes(), ASSETS[name])


def page(base: str, language: str, max_chars: int) -> str:
    """The page's HTML in ``language`` (the page switches by itself after that)."""
    language = language if language in LANGUAGES else "zh"
    words = strings()[language]
    config = {
        "base": base,
        "maxChars": max_chars,
        "officialDomains": list(official_domains()),
        "embedOrigins": list(embed_origins()),
        "defaultLanguage": language,
        "strings": strings(),
    }
    # JSON inside <script>: no "</" or "<!--" can end or change the element.
    config_json = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    template = Template((STATIC / "chat.html").read_text(encoding="utf-8"))
    e = html.escape
    return template.substitute(
        lang_tag="en" if language == "en" else "zh-CN",
        other_lang_tag="zh-CN" if language == "en" else "en",
        title=e(words["title"]),
        base=e(base),
        switch_label=e(words["language_switch_label"]),
        switch_text=e(words["language_switch"]),
        end_text=e(words["end_chat"]),
        safety_note=e(words["safety_note"]),
        log_label=e(words["log_label"]),
        input_label=e(words["input_label"]),
        placeholder=e(words["input_placeholder"]),
        send_text=e(words["send"]),
        config_json=config_json,
    )


def security_headers() -> dict[str, str]:
    """Only this origin's own script, styles and connections; framing only by the configured app origins."""
    ancestors = " ".join(("'self'", *embed_origins()))
    return {
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
            f"base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }
