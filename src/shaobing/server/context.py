"""Per-request context: the database session, the authenticated user and the auth policy.

Every API route and page depends on :func:`request_context`; it authenticates the caller
(session cookie or ``Authorization: Bearer``), enforces CSRF for cookie-authenticated
writes, and commits the request's transaction only when the handler succeeded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from shaobing.auth.models import User
from shaobing.auth.permissions import authorize, is_allowed, tenant_filter
from shaobing.auth.policy import AuthContext, password_age
from shaobing.auth.sessions import SessionInvalid, validate_session
from shaobing.core.db import session_scope
from shaobing.core.i18n import t
from shaobing.server.security import SESSION_COOKIE, check_csrf, csrf_token_for

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class NotAuthenticated(Exception):
    """No usable session: API answers 401, pages redirect to the login page."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


class PasswordChangeRequired(Exception):
    """The password was reset or has expired: only the password change is allowed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# What a user who must change the password can still reach.
PASSWORD_CHANGE_PATHS = frozenset(
    {"/api/v1/auth/me", "/api/v1/auth/password", "/api/v1/auth/logout", "/password", "/logout"}
)


@dataclass
class RequestContext:
    """What a handler works with."""

    db: Session
    user: User
    auth: AuthContext
    token: str
    via_cookie: bool
    engine: Engine
    request_state: Any = None

    @property
    def actor(self) -> str:
        """The name recorded in histories and the audit log for this user's actions."""
        return f"web:{self.user.username}"

    @property
    def csrf_token(self) -> str:
        """The CSRF token forms and scripts of this session must send back."""
        return csrf_token_for(self.token)

    def authorize(self, action: str, *, client_id: int | None = None) -> None:
        """Refuse unless the user may do ``action`` on ``client_id``."""
        authorize(self.user, action, client_id=client_id)

    def can(self, action: str, *, client_id: int | None = None) -> bool:
        """Whether the user may do ``action`` (for showing or hiding controls)."""
        return is_allowed(self.user, action, client_id=client_id)

    @property
    def tenant(self) -> int | None:
        """The only client this user may see, or None for staff."""
        return tenant_filter(self.user)


def app_engine(request: Request) -> Engine:
    """The database engine of the running app."""
    engine: Engine = request.app.state.engine
    return engine


def app_auth(request: Request) -> AuthContext:
    """The auth policy and clock of the running app."""
    auth: AuthContext = request.app.state.auth
    return auth


def _token(request: Request) -> tuple[str, bool]:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return cookie, True
    raise NotAuthenticated(t("server.auth.required"), "missing")


def authenticated(request: Request, db: Session) -> tuple[User, str, bool]:
    """Validate the caller's session inside ``db``; raise NotAuthenticated if unusable."""
    token, via_cookie = _token(request)
    try:
        user = validate_session(db, token, ctx=app_auth(request))
    except SessionInvalid as exc:
        raise NotAuthenticated(exc.message, exc.reason) from exc
    return user, token, via_cookie


async def _form_field(request: Request, name: str) -> str | None:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    form = await request.form()
    value = form.get(name)
    return value if isinstance(value, str) else None


async def csrf_guard(request: Request) -> None:
    """Refuse cookie-authenticated writes without the session's CSRF token.

    Bearer-token callers are scripts, not browsers: a forged cross-site request cannot set
    that header, so they need no CSRF token.
    """
    if request.method in SAFE_METHODS:
        return
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return  # not authenticated by cookie: the auth check refuses it anyway
    sent = request.headers.get("x-csrf-token") or await _form_field(request, "csrf_token")
    check_csrf(request, cookie, sent)


def must_change_password(user: User, request: Request) -> bool:
    """Whether the user's password was reset by an administrator or has expired."""
    auth = app_auth(request)
    age = password_age(user.password_changed_at, auth.now(), auth.config.password)
    return user.must_change_password or age.expired


def request_context(request: Request) -> Iterator[RequestContext]:
    """Dependency: an authenticated context whose transaction commits after the handler."""
    readonly = request.method in SAFE_METHODS
    engine = app_engine(request)
    with session_scope(engine, readonly=readonly) as db:
        user, token, via_cookie = authenticated(request, db)
        if request.url.path not in PASSWORD_CHANGE_PATHS and must_change_password(user, request):
            raise PasswordChangeRequired(t("auth.login.must_change"))
        # End the transaction that refreshed the session's idle timer: on SQLite it would hold
        # the write lock for the whole request, blocking services that audit on their own
        # connection (scope refusals) and every other writer.
        db.commit()
        yield RequestContext(
            db, user, app_auth(request), token, via_cookie, engine, request.app.state
        )


def optional_user(request: Request) -> dict[str, Any] | None:
    """The logged-in user's name and role for public pages (login), or None."""
    try:
        with session_scope(app_engine(request), readonly=True) as db:
            user, _, _ = authenticated(request, db)
            return {"username": user.username, "role": user.role}
    except NotAuthenticated:
        return None
