"""用户与角色 and 审计日志: account management for administrators, the audit log and its
hash-chain verification."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlencode

import pydantic
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from shaobing.auth.models import Role
from shaobing.core.errors import ShaobingError
from shaobing.core.i18n import t
from shaobing.engagements.models import Client
from shaobing.server.api import audit as audit_api
from shaobing.server.api import users as users_api
from shaobing.server.context import RequestContext
from shaobing.server.pages.page_forms import (
    CSRF_PAGE,
    PageCtx,
    body_error,
    helpers,
    refused,
    see_other,
)
from shaobing.server.pages.render import render

router = APIRouter()
AUDIT_PAGE = 50
# Account switches offered per row; each is the API route of the same name.
SWITCHES = {
    "lock": users_api.lock,
    "unlock": users_api.unlock,
    "disable": users_api.disable,
    "enable": users_api.enable,
}
DONE = frozenset({"added", "role", "password", *SWITCHES})


def _users_page(
    ctx: RequestContext,
    request: Request,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    rows = users_api.list_users(ctx)
    clients = list(ctx.db.scalars(select(Client).order_by(Client.name)))
    return render(
        request,
        "users.html",
        ctx,
        status=status,
        rows=rows,
        clients=clients,
        client_names={c.id: c.name for c in clients},
        roles=[(r.value, t(f"auth.role.{r.value}")) for r in Role],
        can_manage=ctx.can("user.manage"),
        notice=notice,
        error=error,
        **helpers(),
    )


@router.get("/users")
def users(
    ctx: PageCtx,
    request: Request,
    done: Annotated[str | None, Query(max_length=20)] = None,
    who: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Every account: role, client, lock and activity state; management for user.manage."""
    notice = t(f"server_pages.users.done_{done}", user=who or "") if done in DONE else None
    return _users_page(ctx, request, notice=notice)


def _client_id(value: str) -> int | None:
    return int(value) if value.strip().isdigit() else None


@router.post("/users", dependencies=CSRF_PAGE)
def users_add(
    ctx: PageCtx,
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    password: Annotated[str, Form(max_length=4096)] = "",
    client: Annotated[str, Form(max_length=20)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Create an account whose initial password must be changed at first login."""
    try:
        try:
            body = users_api.NewUser(
                username=username.strip(),
                role=role,
                password=password,
                client=_client_id(client),
                display_name=display_name.strip() or None,
            )
        except pydantic.ValidationError as exc:
            raise body_error(exc) from None
        created = users_api.add_user(ctx, body)
    except ShaobingError as exc:
        message, code = refused(ctx, exc)
        return _users_page(ctx, request, error=message, status=code)
    return see_other("/users", done="added", who=created["username"])


@router.post("/users/{username}/role", dependencies=CSRF_PAGE)
def users_role(
    ctx: PageCtx,
    request: Request,
    username: str,
    role: Annotated[str, Form(max_length=32)] = "",
    client: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Change a user's role (and client for client roles); their sessions end."""
    try:
        try:
            body = users_api.RoleBody(role=role, client=_client_id(client))
        except pydantic.ValidationError as exc:
            raise body_error(exc) from None
        users_api.set_role(ctx, username, body)
    except ShaobingError as exc:
        message, code = refused(ctx, exc)
        return _users_page(ctx, request, error=message, status=code)
    return see_other("/users", done="role", who=username)


@router.post("/users/{username}/password", dependencies=CSRF_PAGE)
def users_password(
    ctx: PageCtx,
    request: Request,
    username: str,
    password: Annotated[str, Form(max_length=4096)] = "",
) -> Response:
    """Set a new password the user must change at the next login."""
    try:
        try:
            body = users_api.PasswordReset(password=password)
        except pydantic.ValidationError as exc:
            raise body_error(exc) from None
        users_api.reset_password(ctx, username, body)
    except ShaobingError as exc:
        message, code = refused(ctx, exc)
        return _users_page(ctx, request, error=message, status=code)
    return see_other("/users", done="password", who=username)


@router.post("/users/{username}/{switch}", dependencies=CSRF_PAGE)
def users_switch(ctx: PageCtx, request: Request, username: str, switch: str) -> Response:
    """Lock, unlock, disable or enable an account."""
    handler = SWITCHES.get(switch)
    if handler is None:
        return _users_page(
            ctx, request, error=t("server.no_such_page", path=request.url.path), status=404
        )
    try:
        handler(ctx, username)
    except ShaobingError as exc:
        message, code = refused(ctx, exc)
        return _users_page(ctx, request, error=message, status=code)
    return see_other("/users", done=switch, who=username)


def _event_row(event: dict[str, Any]) -> dict[str, Any]:
    detail = json.dumps(event["detail"], ensure_ascii=False, sort_keys=True)
    return event | {"detail_text": detail if len(detail) <= 400 else detail[:400] + "…"}


@router.get("/audit")
def audit(
    ctx: PageCtx,
    request: Request,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    outcome: Annotated[str | None, Query(max_length=16)] = None,
    client: Annotated[str | None, Query(max_length=20)] = None,
    before: Annotated[int | None, Query(ge=1)] = None,
    verify: bool = False,
) -> Response:
    """The newest audit events with filters, paged back by sequence number."""
    client_id = _client_id(client or "")
    data = audit_api.list_events(
        ctx,
        action_name=action or None,
        actor=actor or None,
        outcome=outcome or None,
        client=client_id,
        before=before,
        limit=AUDIT_PAGE,
    )
    check = audit_api.verify(ctx) if verify else None
    params = {"action": action, "actor": actor, "outcome": outcome, "client": client_id}
    return render(
        request,
        "audit.html",
        ctx,
        rows=[_event_row(e) for e in data["items"]],
        next_before=data["next_before"],
        params=params,
        query=urlencode({k: v for k, v in params.items() if v not in (None, "")}),
        clients=list(ctx.db.scalars(select(Client).order_by(Client.name))),
        can_verify=ctx.can("audit.verify"),
        check=check,
        first_page=before is None,
        **helpers(),
    )
