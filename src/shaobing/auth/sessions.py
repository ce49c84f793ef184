"""Server-side login sessions: random tokens stored hashed, idle and absolute timeouts.

The token is 32 random bytes from the operating system (``secrets``), given to the browser
once and stored only as its SHA-256: a leaked database does not hand out live sessions. A
plain hash suffices here (unlike passwords) because the token has 256 bits of entropy.
Limits are organisation-defined (``defaults.yaml``): 30 minutes idle, 12 hours absolute.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from shaobing.auth.models import User, UserSession
from shaobing.auth.policy import AuthContext
from shaobing.core.errors import ShaobingError
from shaobing.core.i18n import t

TOKEN_BYTES = 32
# last_seen_at is written at most this often, so browsing is not one database write per
# request; idle expiry is measured from the stored value, so a session may end up to this
# much early, never late.
TOUCH_INTERVAL = timedelta(seconds=60)


class RevokeReason(StrEnum):
    """Why a session was ended before its time."""

    LOGOUT = "logout"
    PASSWORD = "password"  # noqa: S105 - a reason name, not a secret
    LOCKED = "locked"
    DISABLED = "disabled"
    ROLE = "role"


class SessionInvalid(ShaobingError):
    """The token names no usable session; the user must log in again."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class IssuedSession:
    """A new session: the token (shown once, never stored) and its limits."""

    token: str
    session_id: int
    user_id: int
    expires_at: datetime


def hash_token(token: str) -> str:
    """The stored form of a session token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_session(db: Session, user: User, *, ctx: AuthContext) -> IssuedSession:
    """Open a session for ``user`` (after a successful login) and return its token."""
    now = ctx.now()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = UserSession(
        user_id=user.id, token_hash=hash_token(token), created_at=now, last_seen_at=now
    )
    db.add(row)
    db.flush()
    return IssuedSession(token, row.id, user.id, now + _absolute(ctx))


def _absolute(ctx: AuthContext) -> timedelta:
    return timedelta(hours=ctx.config.session.absolute_hours)


def _idle(ctx: AuthContext) -> timedelta:
    return timedelta(minutes=ctx.config.session.idle_minutes)


def _invalid(reason: str) -> SessionInvalid:
    return SessionInvalid(t(f"auth.session.{reason}"), reason)


def validate_session(db: Session, token: str, *, ctx: AuthContext) -> User:
    """The user behind ``token``, refreshing its idle timer; SessionInvalid when unusable.

    Expiry needs no write: an expired session is refused from its timestamps alone, so the
    refusal can be raised (and the caller's transaction rolled back) without losing state.
    """
    now = ctx.now()
    row = db.scalar(select(UserSession).where(UserSession.token_hash == hash_token(token)))
    if row is None:
        raise _invalid("unknown")
    if row.revoked_at is not None:
        raise _invalid("revoked")
    if now >= row.created_at + _absolute(ctx):
        raise _invalid("absolute")
    if now >= row.last_seen_at + _idle(ctx):
        raise _invalid("idle")
    user = db.get(User, row.user_id)
    if user is None or not user.active:
        raise _invalid("revoked")
    if user.manually_locked or (user.locked_until is not None and now < user.locked_until):
        raise _invalid("revoked")
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        row.last_seen_at = now
    return user


def revoke_session(db: Session, token: str, *, ctx: AuthContext) -> UserSession | None:
    """End the session of ``token`` (logout); returns it, or None when unknown or ended."""
    row = db.scalar(select(UserSession).where(UserSession.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    row.revoked_at = ctx.now()
    row.revoked_reason = RevokeReason.LOGOUT.value
    return row


def revoke_user_sessions(db: Session, user_id: int, *, reason: RevokeReason, now: datetime) -> int:
    """End every open session of a user (password change, lock, disable); returns how many."""
    result = db.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason.value)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def open_sessions(db: Session, user_id: int, *, ctx: AuthContext) -> list[UserSession]:
    """The user's sessions that are still usable now."""
    now = ctx.now()
    rows = db.scalars(
        select(UserSession).where(
            UserSession.user_id == user_id,
            UserSession.revoked_at.is_(None),
            UserSession.created_at > now - _absolute(ctx),
            UserSession.last_seen_at > now - _idle(ctx),
        )
    )
    return list(rows)


def purge_stale_sessions(db: Session, *, ctx: AuthContext) -> int:
    """Delete sessions that can never be used again (ended or past the absolute limit)."""
    now = ctx.now()
    result = db.execute(
        delete(UserSession).where(
            or_(
                UserSession.revoked_at.is_not(None),
                UserSession.created_at <= now - _absolute(ctx),
                UserSession.last_seen_at <= now - _idle(ctx),
            )
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
