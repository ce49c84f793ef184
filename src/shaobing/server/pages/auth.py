"""Login, logout and password-change pages."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from shaobing.auth import service
from shaobing.auth.sessions import revoke_session
from shaobing.core.errors import ShaobingError
from shaobing.core.i18n import t
from shaobing.server.api.auth import (
    CertLoginBody,
    do_cert_login,
    do_login,
    rate_limited,
    secure_cookies,
)
from shaobing.server.certlogin import MAX_CERT_BYTES, Challenges
from shaobing.server.context import RequestContext, csrf_guard, optional_user, request_context
from shaobing.server.pages.render import render
from shaobing.server.security import clear_session_cookie, set_session_cookie

router = APIRouter()
LOGIN_CSRF_COOKIE = "shaobing_login_csrf"
PageCtx = Annotated[RequestContext, Depends(request_context)]


def safe_next(target: str | None) -> str:
    """Only a local path may follow the login (no open redirect to another site)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _login_page(
    request: Request,
    *,
    message: str | None = None,
    status: int = 200,
    username: str = "",
    next_path: str = "/",
) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        status=status,
        message=message,
        username=username,
        next_path=next_path,
        login_csrf=token,
    )
    # Login CSRF: the form must come from this server (double submit, cookie + field).
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        path="/login",
    )
    return response


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    """The login page (already logged in: straight to the target page)."""
    if optional_user(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_path=safe_next(next))


@router.post("/login")
def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=4096)] = "",
    login_csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the credentials; show the lockout warning or open the session."""
    target = safe_next(next)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, login_csrf):
        return _login_page(
            request,
            message=t("server.login.form_expired"),
            status=400,
            username=username,
            next_path=target,
        )
    if not username or not password:
        return _login_page(
            request,
            message=t("server.login.empty"),
            status=400,
            username=username,
            next_path=target,
        )
    refused = rate_limited(request, username)
    if refused is not None:
        seconds = refused.headers["Retry-After"]
        return _login_page(
            request,
            message=t("server.login.rate_limited", seconds=seconds),
            status=429,
            username=username,
            next_path=target,
        )
    status, data, token = do_login(request, username, password)
    if token is None:
        message = data.get("error") or t("auth.login.failed")
        return _login_page(
            request, message=message, status=status, username=username, next_path=target
        )
    destination = "/password" if data["must_change_password"] else target
    response = RedirectResponse(destination, status_code=303)
    max_age = request.app.state.auth.config.session.absolute_hours * 3600
    set_session_cookie(response, token, secure=secure_cookies(request), max_age=max_age)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout", dependencies=[Depends(csrf_guard)])
def logout(ctx: PageCtx, request: Request) -> Response:
    """End the session and go back to the login page."""
    revoke_session(ctx.db, ctx.token, ctx=ctx.auth)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, secure=secure_cookies(request))
    return response


@router.get("/password")
def password_form(ctx: PageCtx, request: Request) -> Response:
    """The password-change page (forced after a reset or expiry)."""
    return render(request, "password.html", ctx, message=None, done=False)


@router.post("/password", dependencies=[Depends(csrf_guard)])
def password_submit(
    ctx: PageCtx,
    request: Request,
    current_password: Annotated[str, Form(max_length=4096)] = "",
    new_password: Annotated[str, Form(max_length=4096)] = "",
    confirm_password: Annotated[str, Form(max_length=4096)] = "",
) -> Response:
    """Change the password; every session ends, so the user logs in again."""
    if new_password != confirm_password:
        return render(
            request,
            "password.html",
            ctx,
            status=400,
            message=t("auth.cli.password_mismatch"),
            done=False,
        )
    try:
        service.change_password(
            ctx.db, ctx.user.username, current_password, new_password, ctx=ctx.auth
        )
    except ShaobingError as exc:
        return render(request, "password.html", ctx, status=400, message=exc.message, done=False)
    response = RedirectResponse("/login?changed=1", status_code=303)
    clear_session_cookie(response, secure=secure_cookies(request))
    return response


@router.get("/login/cert")
def cert_login_form(request: Request, next: str | None = None) -> Response:
    """SM2 certificate login: the browser signs a fresh challenge with the user's key file."""
    challenges: Challenges = request.app.state.challenges
    challenge, _ = challenges.issue(request.app.state.auth.now())
    return render(
        request, "login_cert.html", message=None, challenge=challenge, next_path=safe_next(next)
    )


@router.post("/login/cert")
def cert_login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    challenge: Annotated[str, Form(max_length=200)] = "",
    certificate: Annotated[str, Form(max_length=MAX_CERT_BYTES)] = "",
    signature: Annotated[str, Form(max_length=400)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Verify the signed challenge and open the session."""
    target = safe_next(next)

    def again(message: str, status: int) -> Response:
        fresh, _ = request.app.state.challenges.issue(request.app.state.auth.now())
        return render(
            request,
            "login_cert.html",
            status=status,
            message=message,
            challenge=fresh,
            next_path=target,
        )

    if not (username and challenge and certificate and signature):
        return again(t("server.cert.incomplete"), 400)
    limited = rate_limited(request, username)
    if limited is not None:
        return again(t("server.login.rate_limited", seconds=limited.headers["Retry-After"]), 429)
    body = CertLoginBody(
        username=username, challenge=challenge, certificate=certificate, signature=signature
    )
    status, data, token = do_cert_login(request, body)
    if token is None:
        return again(str(data["error"]), status)
    response = RedirectResponse(target, status_code=303)
    max_age = request.app.state.auth.config.session.absolute_hours * 3600
    set_session_cookie(response, token, secure=secure_cookies(request), max_age=max_age)
    return response
