"""HTTP-level protections of the console: session cookie, CSRF, security headers.

The session token is the only secret the browser holds; the CSRF token is derived from it
(SHA-256 with a fixed label), so it needs no server-side storage, changes with every login
and cannot be computed by a page on another origin, which never sees the HttpOnly cookie.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from starlette.middleware.base import BaseHTTPMiddleware

from shaobing.core.errors import ShaobingError
from shaobing.core.i18n import t

SESSION_COOKIE = "shaobing_session"
CSRF_HEADER = "X-CSRF-Token"
_CSRF_LABEL = b"shaobing-csrf-v1:"

# Content-Security-Policy: scripts, styles, fonts and charts only from this server, no inline
# script, no framing (clickjacking), forms only back to this server.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# HSTS max-age of one year (RFC 6797 leaves the value to the site; one year is the common
# organisation-defined choice), sent only over HTTPS where it means something.
HSTS = "max-age=31536000; includeSubDomains"


class CsrfRefused(ShaobingError):
    """A cookie-authenticated write without a matching CSRF token or from another origin."""


def csrf_token_for(session_token: str) -> str:
    """The CSRF token that belongs to a session token."""
    return hashlib.sha256(_CSRF_LABEL + session_token.encode("utf-8")).hexdigest()


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        # Browsers send Origin on cross-site POSTs; its absence (older clients, same-origin
        # form posts in some browsers) leaves the token check as the defence.
        return origin != "null"
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host


def check_csrf(request: Request, session_token: str, sent: str | None) -> None:
    """Refuse unless ``sent`` is this session's CSRF token and the origin is this server."""
    if not _same_origin(request):
        raise CsrfRefused(t("server.csrf.origin", origin=request.headers.get("origin", "")))
    expected = csrf_token_for(session_token)
    if not sent or not hmac.compare_digest(sent.encode("utf-8"), expected.encode("ascii")):
        raise CsrfRefused(t("server.csrf.missing"))


def set_session_cookie(response: Response, token: str, *, secure: bool, max_age: int) -> None:
    """Send the session cookie: HttpOnly, SameSite=Strict, Secure over HTTPS."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        httponly=True,
        secure=secure,
        samesite="strict",
        path="/",
    )


def clear_session_cookie(response: Response, *, secure: bool) -> None:
    """Remove the session cookie from the browser."""
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="strict"
    )


class SecurityHeaders(BaseHTTPMiddleware):
    """Adds the security headers to every response; no caching of authenticated pages."""

    def __init__(self, app: object, *, https: bool) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.https = https

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Let the request through and decorate its response."""
        response = await call_next(request)
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "same-origin"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Cross-Origin-Resource-Policy"] = "same-origin"
        if not request.url.path.startswith("/static/"):
            headers["Cache-Control"] = "no-store"
        if self.https:
            headers["Strict-Transport-Security"] = HSTS
        return response
