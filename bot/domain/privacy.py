"""What may be shown of personal data."""

from __future__ import annotations


def mask_phone(phone: str) -> str:
    """Show a mobile number as 139****9999: first three and last four digits only."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def mask_name(name: str) -> str:
    """Show a name as 张* / L* N*: the first character of each part only."""
    if not name:
        return name
    if " " in name.strip():
        return " ".join(part[0] + "*" for part in name.split())
    return name[0] + "*" * max(1, len(name) - 1)
