"""Platform user accounts: creation, passwords, roles, lock and disable, and login (J2).

Every change and every login attempt is written to the audit log (never a password). Login
returns an outcome instead of raising, so the failure count and its audit entry commit
with the caller's transaction; the outcome carries the one-line message the UI shows,
including how many attempts remain before the account locks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shaobing.auth.models import PasswordHistory, User
from shaobing.auth.permissions import Kind, matrix, role_kind
from shaobing.auth.policy import AuthContext, check_password, password_age
from shaobing.auth.sessions import IssuedSession, RevokeReason, create_session, revoke_user_sessions
from shaobing.core.audit import record_event
from shaobing.core.errors import ConflictError, NotFoundError, ValidationError
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings
from shaobing.engagements.models import Client

# Lower-case so that "Admin" and "admin" cannot be two accounts; no spaces or symbols that
# would need escaping in logs, URLs or the audit trail.
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
# No stored password can be longer (the policy's own ceiling); longer input is refused as a
# wrong password without hashing it, so a login form cannot be used to make us hash megabytes.
MAX_PASSWORD_INPUT = 1024


def normalise_username(name: str) -> str:
    """The stored form of a login name; ValidationError when it is not acceptable."""
    value = name.strip().lower()
    if not USERNAME_PATTERN.fullmatch(value):
        raise ValidationError(t("auth.user.bad_username", name=name))
    return value


def get_user(db: Session, username: str, *, for_update: bool = False) -> User:
    """The user called ``username``; NotFoundError when there is none."""
    stmt = select(User).where(User.username == username.strip().lower())
    if for_update:
        stmt = stmt.with_for_update()
    user = db.scalar(stmt)
    if user is None:
        raise NotFoundError(t("auth.user.not_found", name=username))
    return user


def list_users(db: Session, *, client_id: int | None = None) -> list[User]:
    """Every user (or those of one client), by name."""
    stmt = select(User).order_by(User.username)
    if client_id is not None:
        stmt = stmt.where(User.client_id == client_id)
    return list(db.scalars(stmt))


def _check_role(db: Session, role: str, client_id: int | None) -> None:
    kind = role_kind(role)
    if kind is None:
        known = "、".join(matrix().roles)
        raise ValidationError(t("auth.user.unknown_role", role=role, known=known))
    if kind is Kind.CLIENT:
        if client_id is None:
            raise ValidationError(t("auth.user.client_required", role=role))
        if db.get(Client, client_id) is None:
            raise NotFoundError(t("auth.user.unknown_client", client=client_id))
    elif client_id is not None:
        raise ValidationError(t("auth.user.client_forbidden", role=role))


def _reused(db: Session, user: User, password: str, ctx: AuthContext) -> bool:
    recent = db.scalars(
        select(PasswordHistory.password_hash)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc())
        .limit(ctx.config.password.history)
    )
    return any(ctx.hasher.verify(stored, password) for stored in recent)


def _store_password(db: Session, user: User, password: str, ctx: AuthContext) -> None:
    """Hash, store and remember ``password``; keep only the configured number of old ones."""
    now = ctx.now()
    user.password_hash = ctx.hasher.hash(password)
    user.password_changed_at = now
    db.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, created_at=now))
    db.flush()
    old = db.scalars(
        select(PasswordHistory)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc())
        .offset(ctx.config.password.history)
    )
    for row in old:
        db.delete(row)


def _accept_password(db: Session, user: User, password: str, ctx: AuthContext) -> None:
    check_password(password, user.username, ctx.config.password)
    if _reused(db, user, password, ctx):
        raise ValidationError(t("auth.policy.reused", count=ctx.config.password.history))


def create_user(
    db: Session,
    username: str,
    *,
    role: str,
    password: str,
    client_id: int | None = None,
    display_name: str | None = None,
    must_change_password: bool = True,
    actor: str,
    ctx: AuthContext,
) -> User:
    """Add a user. A password set by someone else must be changed at first login (default)."""
    name = normalise_username(username)
    _check_role(db, role, client_id)
    if db.scalar(select(User.id).where(User.username == name)) is not None:
        raise ConflictError(t("auth.user.exists", name=name))
    check_password(password, name, ctx.config.password)
    user = User(
        username=name,
        display_name=(display_name or "").strip() or name,
        role=role,
        client_id=client_id,
        active=True,
        password_hash="",
        must_change_password=must_change_password,
        recent_failures=[],
        failed_attempts=0,
        manually_locked=False,
        created_at=ctx.now(),
    )
    db.add(user)
    db.flush()
    _store_password(db, user, password, ctx)
    record_event(
        db,
        "user.create",
        actor=actor,
        client_id=client_id,
        target=name,
        detail={"role": role, "must_change_password": must_change_password},
    )
    return user


def reset_password(
    db: Session,
    username: str,
    password: str,
    *,
    actor: str,
    ctx: AuthContext,
    must_change_password: bool = True,
) -> User:
    """Set a user's password on an administrator's authority; ends the user's sessions."""
    user = get_user(db, username, for_update=True)
    _accept_password(db, user, password, ctx)
    _store_password(db, user, password, ctx)
    user.must_change_password = must_change_password
    revoked = revoke_user_sessions(db, user.id, reason=RevokeReason.PASSWORD, now=ctx.now())
    record_event(
        db,
        "user.password_reset",
        actor=actor,
        client_id=user.client_id,
        target=user.username,
        detail={"sessions_revoked": revoked, "must_change_password": must_change_password},
    )
    return user


def change_password(
    db: Session, username: str, old_password: str, new_password: str, *, ctx: AuthContext
) -> User:
    """The user changes their own password (needs the current one); ends their sessions."""
    user = get_user(db, username, for_update=True)
    if not ctx.hasher.verify(user.password_hash, old_password):
        raise ValidationError(t("auth.user.wrong_old_password"))
    _accept_password(db, user, new_password, ctx)
    _store_password(db, user, new_password, ctx)
    user.must_change_password = False
    revoked = revoke_user_sessions(db, user.id, reason=RevokeReason.PASSWORD, now=ctx.now())
    record_event(
        db,
        "user.password_change",
        actor=user.username,
        client_id=user.client_id,
        target=user.username,
        detail={"sessions_revoked": revoked},
    )
    return user


def set_role(
    db: Session,
    username: str,
    role: str,
    *,
    client_id: int | None = None,
    actor: str,
    ctx: AuthContext,
) -> User:
    """Change a user's role; a client role keeps the user's client unless another is given.

    The user's sessions end, so the new rights apply from the next login.
    """
    user = get_user(db, username, for_update=True)
    kind = role_kind(role)
    target_client = client_id
    if kind is Kind.CLIENT and target_client is None:
        target_client = user.client_id
    _check_role(db, role, target_client)
    before = {"role": user.role, "client_id": user.client_id}
    user.role = role
    user.client_id = target_client
    revoked = revoke_user_sessions(db, user.id, reason=RevokeReason.ROLE, now=ctx.now())
    record_event(
        db,
        "user.role",
        actor=actor,
        client_id=target_client,
        target=user.username,
        detail={"before": before, "role": role, "sessions_revoked": revoked},
    )
    return user


def _clear_lock(user: User) -> None:
    user.locked_until = None
    user.manually_locked = False
    user.recent_failures = []
    user.failed_attempts = 0


def lock_user(db: Session, username: str, *, actor: str, ctx: AuthContext) -> User:
    """Lock an account until an administrator unlocks it; ends its sessions."""
    user = get_user(db, username, for_update=True)
    user.manually_locked = True
    revoked = revoke_user_sessions(db, user.id, reason=RevokeReason.LOCKED, now=ctx.now())
    record_event(
        db,
        "user.lock",
        actor=actor,
        client_id=user.client_id,
        target=user.username,
        detail={"sessions_revoked": revoked},
    )
    return user


def unlock_user(db: Session, username: str, *, actor: str, ctx: AuthContext) -> User:
    """Lift a manual or automatic lock and forget the counted failures."""
    user = get_user(db, username, for_update=True)
    detail = {
        "manual": user.manually_locked,
        "locked_until": user.locked_until.isoformat() if user.locked_until else None,
        "failures": user.failed_attempts,
    }
    _clear_lock(user)
    record_event(
        db,
        "user.unlock",
        actor=actor,
        client_id=user.client_id,
        target=user.username,
        detail=detail,
    )
    return user


def set_active(db: Session, username: str, active: bool, *, actor: str, ctx: AuthContext) -> User:
    """Disable (ends its sessions) or re-enable an account."""
    user = get_user(db, username, for_update=True)
    user.active = active
    detail: dict[str, Any] = {}
    if not active:
        detail["sessions_revoked"] = revoke_user_sessions(
            db, user.id, reason=RevokeReason.DISABLED, now=ctx.now()
        )
    record_event(
        db,
        "user.enable" if active else "user.disable",
        actor=actor,
        client_id=user.client_id,
        target=user.username,
        detail=detail,
    )
    return user


# ------------------------------------------------------------------------------ login


class LoginResult(StrEnum):
    """How a login attempt ended."""

    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"
    LOCKED = "locked"  # the account was already locked
    LOCKED_NOW = "locked_now"  # this failure locked it
    DISABLED = "disabled"


@dataclass(frozen=True)
class LoginOutcome:
    """The result of a login attempt, with the message to show (None on success)."""

    result: LoginResult
    message: str | None = None
    user: User | None = None
    remaining_attempts: int | None = None
    locked_until: datetime | None = None
    must_change_password: bool = False
    password_expires_at: datetime | None = None
    session: IssuedSession | None = None

    @property
    def ok(self) -> bool:
        """Whether the user is authenticated."""
        return self.result is LoginResult.OK


def _local(moment: datetime) -> str:
    return moment.astimezone(get_settings().tz).strftime("%Y-%m-%d %H:%M")


def _failure_times(user: User) -> list[datetime]:
    times: list[datetime] = []
    for raw in user.recent_failures or []:
        try:
            times.append(datetime.fromisoformat(str(raw)))
        except ValueError:
            continue  # a damaged entry counts as no failure rather than breaking login
    return times


def _login_failed(db: Session, user: User, detail: dict[str, Any]) -> None:
    """Audit a refused login of a known user (never the password)."""
    record_event(
        db,
        "auth.login",
        actor=user.username,
        outcome="failure",
        client_id=user.client_id,
        target=user.username,
        detail=detail,
    )


def _record_failure(db: Session, user: User, now: datetime, ctx: AuthContext) -> LoginOutcome:
    rules = ctx.config.lockout
    window_start = now - ctx.config.failure_window
    recent = [when for when in _failure_times(user) if when > window_start] + [now]
    recent = recent[-rules.max_failures :]
    user.recent_failures = [when.isoformat() for when in recent]
    user.failed_attempts = len(recent)
    remaining = rules.max_failures - len(recent)
    _login_failed(
        db,
        user,
        {"reason": "bad_password", "failures": len(recent), "remaining": max(remaining, 0)},
    )
    if remaining > 0:
        return LoginOutcome(
            LoginResult.BAD_CREDENTIALS,
            t(
                "auth.login.failed_remaining",
                remaining=remaining,
                minutes=rules.lock_minutes,
            ),
            remaining_attempts=remaining,
        )
    user.locked_until = now + ctx.config.lock_duration
    revoked = revoke_user_sessions(db, user.id, reason=RevokeReason.LOCKED, now=now)
    record_event(
        db,
        "auth.lock",
        actor="system",
        client_id=user.client_id,
        target=user.username,
        detail={
            "failures": len(recent),
            "window_minutes": rules.window_minutes,
            "locked_until": user.locked_until.isoformat(),
            "sessions_revoked": revoked,
        },
    )
    return LoginOutcome(
        LoginResult.LOCKED_NOW,
        t("auth.login.locked_now", count=len(recent), minutes=rules.lock_minutes),
        remaining_attempts=0,
        locked_until=user.locked_until,
    )


def authenticate(db: Session, username: str, password: str, *, ctx: AuthContext) -> LoginOutcome:
    """Check a login; counts failures, locks after too many, and audits every attempt.

    Never raises for a refused login: the caller must let its transaction commit so that
    the failure is counted.
    """
    now = ctx.now()
    name = username.strip().lower()[:64]
    user = db.scalar(select(User).where(User.username == name).with_for_update())
    if user is None:
        # Same work and the same message as a wrong password: no hint that the name is free.
        ctx.hasher.dummy_verify(password[:MAX_PASSWORD_INPUT])
        record_event(
            db,
            "auth.login",
            actor=name or "-",
            outcome="failure",
            target=name or "-",
            detail={"reason": "unknown_user"},
        )
        return LoginOutcome(LoginResult.BAD_CREDENTIALS, t("auth.login.failed"))
    if user.locked_until is not None and now >= user.locked_until:
        record_event(
            db,
            "auth.unlock",
            actor="system",
            client_id=user.client_id,
            target=user.username,
            detail={"reason": "expired", "locked_until": user.locked_until.isoformat()},
        )
        manual = user.manually_locked
        _clear_lock(user)
        user.manually_locked = manual
    if user.manually_locked or user.locked_until is not None:
        _login_failed(db, user, {"reason": "locked"})
        message = (
            t("auth.login.locked_manual")
            if user.manually_locked
            else t("auth.login.locked", until=_local(user.locked_until))  # type: ignore[arg-type]
        )
        return LoginOutcome(LoginResult.LOCKED, message, locked_until=user.locked_until)
    if len(password) > MAX_PASSWORD_INPUT or not ctx.hasher.verify(user.password_hash, password):
        return _record_failure(db, user, now, ctx)
    if not user.active:
        _login_failed(db, user, {"reason": "disabled"})
        return LoginOutcome(LoginResult.DISABLED, t("auth.login.disabled"))
    user.recent_failures = []
    user.failed_attempts = 0
    user.last_login_at = now
    if ctx.hasher.needs_rehash(user.password_hash):
        # Parameters were raised since this hash was made: upgrade it while we know the password.
        user.password_hash = ctx.hasher.hash(password)
    age = password_age(user.password_changed_at, now, ctx.config.password)
    must_change = user.must_change_password or age.expired
    record_event(
        db,
        "auth.login",
        actor=user.username,
        client_id=user.client_id,
        target=user.username,
        detail={"must_change_password": must_change, "password_expired": age.expired},
    )
    return LoginOutcome(
        LoginResult.OK,
        t("auth.login.must_change") if must_change else None,
        user=user,
        must_change_password=must_change,
        password_expires_at=age.expires_at,
    )


def login(db: Session, username: str, password: str, *, ctx: AuthContext) -> LoginOutcome:
    """:func:`authenticate`, and on success a new session whose token is in the outcome."""
    outcome = authenticate(db, username, password, ctx=ctx)
    if not outcome.ok or outcome.user is None:
        return outcome
    issued = create_session(db, outcome.user, ctx=ctx)
    return LoginOutcome(
        outcome.result,
        outcome.message,
        user=outcome.user,
        must_change_password=outcome.must_change_password,
        password_expires_at=outcome.password_expires_at,
        session=issued,
    )


def user_as_dict(user: User, *, ctx: AuthContext) -> dict[str, Any]:
    """A user for listings and JSON output (no hash, no failure timestamps)."""
    now = ctx.now()
    age = password_age(user.password_changed_at, now, ctx.config.password)
    locked = user.manually_locked or (user.locked_until is not None and now < user.locked_until)
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "client_id": user.client_id,
        "active": user.active,
        "locked": locked,
        "locked_until": user.locked_until.isoformat() if user.locked_until and locked else None,
        "manually_locked": user.manually_locked,
        "failed_attempts": user.failed_attempts,
        "must_change_password": user.must_change_password or age.expired,
        "password_changed_at": user.password_changed_at.isoformat(),
        "password_expires_at": age.expires_at.isoformat(),
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
        "created_at": user.created_at.isoformat(),
    }
