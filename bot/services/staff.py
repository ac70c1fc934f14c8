"""Console staff: accounts (argon2 password hashes), logins with lockout, sessions with a CSRF
token, and the audit log every staff action is written to.

A session cookie carries a random token; only its SHA-256 is stored, so a copy of the database
cannot be used to log in. Five wrong passwords in a row lock the account for 15 minutes; the
answer to a wrong username and to a wrong password is the same.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.domain.errors import RecordsUnavailable
from bot.domain.model import AgentNote, AuditEntry, StaffAccount, StaffSession
from bot.domain.secrets import mask_secrets
from bot.unit_of_work import UnitOfWork, UowFactory

ROLES = ("agent", "supervisor")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,39}$")
MIN_PASSWORD_CHARS = 10
MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
SESSION_HOURS = 8

_hasher = PasswordHasher()
# Verified when the username does not exist, so both answers take as long.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class StaffError(ValueError):
    """A staff request that cannot be done as asked; the message says why."""


@dataclass(frozen=True)
class Staff:
    username: str
    role: str

    @property
    def supervisor(self) -> bool:
        return self.role == "supervisor"


@dataclass(frozen=True)
class Login:
    """A successful login: the cookie's token (shown once) and the session's CSRF token."""

    staff: Staff
    token: str
    csrf_token: str


class LoginRefused(Exception):
    def __init__(self, locked_until: dt.datetime | None = None) -> None:
        super().__init__("locked" if locked_until else "invalid")
        self.locked_until = locked_until


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def audit_in(
    uow: UnitOfWork, username: str, action: str, now: dt.datetime, ticket_id: str | None = None, **detail: Any
) -> None:
    """Write one audit entry inside the caller's unit of work (texts masked of secrets)."""
    clean = {k: mask_secrets(v) if isinstance(v, str) else v for k, v in detail.items()}
    uow.staff.audit(
        AuditEntry(
            at=now,
            username=username,
            action=action,
            ticket_id=ticket_id,
            detail=json.dumps(clean, ensure_ascii=False, default=str),
        )
    )


def add_or_change(uow_factory: UowFactory, username: str, role: str, password: str, now: dt.datetime) -> bool:
    """Create an account, or for an existing name change its password and role. True when created."""
    if not USERNAME.match(username):
        raise StaffError("username: 3-40 characters of a-z 0-9 _ . - (starting with a letter or digit)")
    if role not in ROLES:
        raise StaffError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_CHARS:
        raise StaffError(f"password: at least {MIN_PASSWORD_CHARS} characters")
    hashed = _hasher.hash(password)
    try:
        with uow_factory() as uow:
            account = uow.staff.account(username)
            created = account is None
            if account is None:
                uow.staff.add_account(
                    StaffAccount(username=username, role=role, password_hash=hashed, failed_logins=0, created_at=now)
                )
            else:
                account.password_hash, account.role, account.failed_logins, account.locked_until = hashed, role, 0, None
            audit_in(uow, "cli", "account_created" if created else "account_changed", now, target=username, role=role)
            uow.commit()
            return created
    except IntegrityError:
        return add_or_change(uow_factory, username, role, password, now)  # created concurrently: change it
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def login(uow_factory: UowFactory, username: str, password: str, now: dt.datetime) -> Login:
    """A new session for the right password; LoginRefused otherwise (with when a lock ends)."""
    try:
        with uow_factory() as uow:
            account = uow.staff.account(username)
            if account is None:
                with contextlib.suppress(VerificationError):
                    _hasher.verify(_DUMMY_HASH, password)
                audit_in(uow, username[:40] or "?", "login_failed", now, known=False)
                uow.commit()
                raise LoginRefused()
            if account.locked_until is not None and account.locked_until > now:
                audit_in(uow, account.username, "login_locked", now)
                uow.commit()
                raise LoginRefused(account.locked_until)
            try:
                _hasher.verify(account.password_hash, password)
            except (VerificationError, InvalidHashError):
                account.failed_logins += 1
                locked = account.failed_logins >= MAX_FAILED_LOGINS
                if locked:
                    account.locked_until, account.failed_logins = now + dt.timedelta(minutes=LOCK_MINUTES), 0
                audit_in(uow, account.username, "account_locked" if locked else "login_failed", now)
                uow.commit()
                raise LoginRefused(account.locked_until if locked else None) from None
            if _hasher.check_needs_rehash(account.password_hash):
                account.password_hash = _hasher.hash(password)
            account.failed_logins, account.locked_until = 0, None
            token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            uow.staff.add_session(
                StaffSession(
                    token_hash=_digest(token),
                    username=account.username,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + dt.timedelta(hours=SESSION_HOURS),
                )
            )
            audit_in(uow, account.username, "login", now)
            uow.commit()
            return Login(Staff(account.username, account.role), token, csrf)
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def session_of(uow_factory: UowFactory, token: str, now: dt.datetime) -> tuple[Staff, str] | None:
    """The staff member and CSRF token of a live session, or None (unknown, ended or expired)."""
    if not token or len(token) > 200:
        return None
    try:
        with uow_factory() as uow:
            session = uow.staff.login_by_hash(_digest(token))
            if session is None or session.ended_at is not None or session.expires_at <= now:
                return None
            account = uow.staff.account(session.username)
            if account is None:
                return None
            return Staff(account.username, account.role), session.csrf_token
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def logout(uow_factory: UowFactory, token: str, now: dt.datetime) -> None:
    try:
        with uow_factory() as uow:
            session = uow.staff.login_by_hash(_digest(token))
            if session is not None and session.ended_at is None:
                session.ended_at = now
                audit_in(uow, session.username, "logout", now)
                uow.commit()
    except SQLAlchemyError as exc:
        raise RecordsUnavailable() from exc


def staff_names(uow_factory: UowFactory) -> list[Staff]:
    with uow_factory() as uow:
        return [Staff(a.username, a.role) for a in uow.staff.accounts()]


@dataclass(frozen=True)
class AuditView:
    at: dt.datetime
    username: str
    action: str
    ticket_id: str | None
    detail: dict[str, Any]


def audit_log(uow_factory: UowFactory, limit: int = 200, action: str | None = None) -> list[AuditView]:
    with uow_factory() as uow:
        return [
            AuditView(e.at, e.username, e.action, e.ticket_id, json.loads(e.detail or "{}"))
            for e in uow.staff.audit_entries(limit, action)
        ]


@dataclass(frozen=True)
class NoteView:
    username: str
    text: str
    at: dt.datetime


def notes_of(uow: UnitOfWork, ticket_id: str) -> Sequence[NoteView]:
    return [NoteView(n.username, n.text, n.created_at) for n in uow.staff.notes_of(ticket_id)]


def add_note_in(uow: UnitOfWork, ticket_id: str, username: str, text: str, now: dt.datetime) -> None:
    uow.staff.add_note(
        AgentNote(ticket_id=ticket_id, username=username, text=mask_secrets(text)[:2000], created_at=now)
    )
