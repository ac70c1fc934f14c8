"""Logs never keep secrets or full phone numbers: a filter on every handler masks them."""

from __future__ import annotations

import logging
import re

from bot.domain.secrets import mask_secrets

# Not after another digit, except the last hex digit of a JSON \\uXXXX escape (structlog's JSON lines).
PHONE = re.compile(r"(?:(?<=\\u[0-9a-fA-F]{4})|(?<!\d))(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def mask_for_logs(text: str) -> str:
    return PHONE.sub(r"\1****\3", mask_secrets(text))


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is left to the handler
            return True
        masked = mask_for_logs(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install_log_masking() -> None:
    """Attach the filter to the root logger's handlers and to every handler added later."""
    masking = MaskingFilter()
    root = logging.getLogger()
    for handler in root.handlers:
        handler.addFilter(masking)
    original = logging.Logger.addHandler
    if getattr(original, "_masked", False):
        return

    def add_handler(self: logging.Logger, handler: logging.Handler) -> None:
        handler.addFilter(masking)
        original(self, handler)

    add_handler._masked = True  # type: ignore[attr-defined]
    logging.Logger.addHandler = add_handler  # type: ignore[method-assign,assignment]
