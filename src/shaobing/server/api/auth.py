"""``/api/v1/auth``: login, logout, the current user, password change."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from shaobing.auth import service
from shaobing.auth.permissions import allowed_actions
from shaobing.auth.service import LoginResult
from shaobing.auth.sessions import revoke_session
from shaobing.core.db import session_scope
from shaobing.core.i18n import t
from shaobing.server.api.common import CSRF, Ctx
from shaobing.server.certlogin import (
    MAX_CERT_BYTES,
    CertLoginRefused,
    Challenges,
    certificate_login,
)
from shaobing.server.context import app_auth, app_engine
from shaobing.server.phantom import PhantomFailures
from shaobing.server.ratelimit import LoginLimiter
from shaobing.server.security import clear_session_cookie, csrf_token_for, set_session_cookie

router = APIRouter(prefix="/auth", tags=["auth"])


class LoginBody(BaseModel):
    """User name and password."""

    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=4096)


class PasswordBody(BaseModel):
    """The current and the new password."""

    current_password: str = Field(min_length=1, max_length=4096)
    new_password: str = Field(min_length=1, max_length=4096)


def client_address(request: Request) -> str:
    """The caller's address as the limiter and the audit log see it."""
    return request.client.host if request.client else "-"


def secure_cookies(request: Request) -> bool:
    """Whether cookies must carry the Secure flag (HTTPS served or forwarded)."""
    return bool(request.app.state.https) or request.url.scheme == "https"


def rate_limited(request: Request, username: str) -> JSONResponse | None:
    """A 429 answer when the login limits are exceeded, else None."""
    limiter: LoginLimiter = request.app.state.limiter
    wait = limiter.check(client_address(request), username)
    if wait is None:
        return None
    seconds = max(1, math.ceil(wait))
    return JSONResponse(
        {"error": t("server.login.rate_limited", seconds=seconds)},
        status_code=429,
        headers={"Retry-After": str(seconds)},
    )


def do_login(
    request: Request, username: str, password: str
) -> tuple[int, dict[str, Any], str | None]:
    """Run one login attempt; (HTTP status, JSON body, session token or None)."""
    auth = app_auth(request)
    with session_scope(app_engine(request)) as db:
        outcome = service.login(db, username, password, ctx=auth)
        if outcome.result is LoginResult.BAD_CREDENTIALS and outcome.remaining_attempts is None:
            # No such account: answer exactly as for a real one (see phantom.py).
            phantom: PhantomFailures = request.app.state.phantom
            answer = phantom.fail(username, auth)
            fake: dict[str, Any] = {"error": answer.message, "reason": answer.reason}
            if answer.remaining_attempts is not None:
                fake["remaining_attempts"] = answer.remaining_attempts
            if answer.locked_until is not None:
                fake["locked_until"] = answer.locked_until.isoformat()
            return 401, fake, None
        if not outcome.ok or outcome.user is None or outcome.session is None:
            body: dict[str, Any] = {"error": outcome.message, "reason": outcome.result.value}
            if outcome.remaining_attempts is not None:
                body["remaining_attempts"] = outcome.remaining_attempts
            if outcome.locked_until is not None:
                body["locked_until"] = outcome.locked_until.isoformat()
            return 401, body, None
        token = outcome.session.token
        return (
            200,
            {
                "token": token,
                "csrf_token": csrf_token_for(token),
                "expires_at": outcome.session.expires_at.isoformat(),
                "must_change_password": outcome.must_change_password,
                "message": outcome.message,
                "user": service.user_as_dict(outcome.user, ctx=auth),
            },
            token,
        )


@router.post("/login")
def login(body: LoginBody, request: Request) -> JSONResponse:
    """Log in; the answer carries a bearer token and sets the session cookie."""
    refused = rate_limited(request, body.username)
    if refused is not None:
        return refused
    status, data, token = do_login(request, body.username, body.password)
    response = JSONResponse(data, status_code=status)
    if token is not None:
        max_age = app_auth(request).config.session.absolute_hours * 3600
        set_session_cookie(response, token, secure=secure_cookies(request), max_age=max_age)
    return response


@router.post("/logout", dependencies=CSRF)
def logout(ctx: Ctx, request: Request) -> JSONResponse:
    """End this session (the token stops working at once)."""
    revoke_session(ctx.db, ctx.token, ctx=ctx.auth)
    response = JSONResponse({"ok": True})
    clear_session_cookie(response, secure=secure_cookies(request))
    return response


@router.get("/me")
def me(ctx: Ctx) -> dict[str, Any]:
    """The logged-in user, the actions the role allows, and this session's CSRF token."""
    data = service.user_as_dict(ctx.user, ctx=ctx.auth)
    data["actions"] = sorted(allowed_actions(ctx.user.role))
    data["csrf_token"] = ctx.csrf_token
    return data


@router.post("/password", dependencies=CSRF)
def change_password(body: PasswordBody, ctx: Ctx) -> dict[str, Any]:
    """Change one's own password (every session of the user ends, this one included)."""
    service.change_password(
        ctx.db, ctx.user.username, body.current_password, body.new_password, ctx=ctx.auth
    )
    return {"ok": True, "message": t("server.password.changed")}


class CertLoginBody(BaseModel):
    """A signed challenge: user name, the challenge, the PEM certificate, the signature."""

    username: str = Field(min_length=1, max_length=200)
    challenge: str = Field(min_length=1, max_length=200)
    certificate: str = Field(min_length=1, max_length=MAX_CERT_BYTES)
    signature: str = Field(min_length=1, max_length=400)


@router.post("/cert/challenge")
def cert_challenge(request: Request) -> dict[str, Any]:
    """A single-use challenge for SM2 certificate login (sign it within two minutes)."""
    challenges: Challenges = request.app.state.challenges
    challenge, expires = challenges.issue(app_auth(request).now())
    return {"challenge": challenge, "expires_at": expires.isoformat()}


def do_cert_login(request: Request, body: CertLoginBody) -> tuple[int, dict[str, Any], str | None]:
    """Run one certificate login; (HTTP status, JSON body, session token or None)."""
    auth = app_auth(request)
    refused: CertLoginRefused | None = None
    with session_scope(app_engine(request)) as db:
        try:
            done = certificate_login(
                db,
                request.app.state.challenges,
                username=body.username,
                challenge=body.challenge,
                certificate_pem=body.certificate,
                signature=body.signature,
                auth=auth,
            )
        except CertLoginRefused as exc:
            refused = exc  # leave the block normally so the audit entry is committed
        else:
            token = done.session.token
            data = {
                "token": token,
                "csrf_token": csrf_token_for(token),
                "expires_at": done.session.expires_at.isoformat(),
                "certificate": done.identity,
                "user": service.user_as_dict(done.user, ctx=auth),
            }
    if refused is not None:
        return 401, {"error": refused.message, "reason": "certificate"}, None
    return 200, data, token


@router.post("/cert/login")
def cert_login(body: CertLoginBody, request: Request) -> JSONResponse:
    """Log in with an SM2 certificate and a signed challenge; sets the session cookie."""
    limited = rate_limited(request, body.username)
    if limited is not None:
        return limited
    status, data, token = do_cert_login(request, body)
    response = JSONResponse(data, status_code=status)
    if token is not None:
        max_age = app_auth(request).config.session.absolute_hours * 3600
        set_session_cookie(response, token, secure=secure_cookies(request), max_age=max_age)
    return response
