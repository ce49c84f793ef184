"""``/api/v1/users``: platform accounts (admin only by the permission matrix)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from shaobing.auth import service
from shaobing.auth.models import User
from shaobing.server.api.common import CSRF, Ctx, action

router = APIRouter(tags=["users"])


class NewUser(BaseModel):
    """A new account; the password set here must be changed at first login."""

    username: str = Field(min_length=1, max_length=64)
    role: str = Field(min_length=1, max_length=32)
    password: str = Field(min_length=1, max_length=4096)
    client: int | None = None
    display_name: str | None = Field(default=None, max_length=200)


class RoleBody(BaseModel):
    """A new role (and client, for client roles)."""

    role: str = Field(min_length=1, max_length=32)
    client: int | None = None


class PasswordReset(BaseModel):
    """A password set by an administrator (must be changed at the next login)."""

    password: str = Field(min_length=1, max_length=4096)


def _user(ctx: Ctx, user: User) -> dict[str, Any]:
    return service.user_as_dict(user, ctx=ctx.auth)


@router.get("/users", **action("user.read"))
def list_users(ctx: Ctx) -> list[dict[str, Any]]:
    """Every account (no password hashes)."""
    ctx.authorize("user.read")
    return [_user(ctx, u) for u in service.list_users(ctx.db)]


@router.post("/users", dependencies=CSRF, status_code=201, **action("user.manage"))
def add_user(ctx: Ctx, body: NewUser) -> dict[str, Any]:
    """Create an account."""
    ctx.authorize("user.manage")
    user = service.create_user(
        ctx.db,
        body.username,
        role=body.role,
        password=body.password,
        client_id=body.client,
        display_name=body.display_name,
        actor=ctx.actor,
        ctx=ctx.auth,
    )
    return _user(ctx, user)


@router.post("/users/{username}/role", dependencies=CSRF, **action("user.manage"))
def set_role(ctx: Ctx, username: str, body: RoleBody) -> dict[str, Any]:
    """Change the role (the user's sessions end)."""
    ctx.authorize("user.manage")
    user = service.set_role(
        ctx.db, username, body.role, client_id=body.client, actor=ctx.actor, ctx=ctx.auth
    )
    return _user(ctx, user)


@router.post("/users/{username}/password", dependencies=CSRF, **action("user.manage"))
def reset_password(ctx: Ctx, username: str, body: PasswordReset) -> dict[str, Any]:
    """Set a new password that the user must change at the next login."""
    ctx.authorize("user.manage")
    user = service.reset_password(ctx.db, username, body.password, actor=ctx.actor, ctx=ctx.auth)
    return _user(ctx, user)


@router.post("/users/{username}/lock", dependencies=CSRF, **action("user.manage"))
def lock(ctx: Ctx, username: str) -> dict[str, Any]:
    """Lock the account until unlocked by an administrator."""
    ctx.authorize("user.manage")
    return _user(ctx, service.lock_user(ctx.db, username, actor=ctx.actor, ctx=ctx.auth))


@router.post("/users/{username}/unlock", dependencies=CSRF, **action("user.manage"))
def unlock(ctx: Ctx, username: str) -> dict[str, Any]:
    """Lift a lock (manual or after failed logins)."""
    ctx.authorize("user.manage")
    return _user(ctx, service.unlock_user(ctx.db, username, actor=ctx.actor, ctx=ctx.auth))


@router.post("/users/{username}/disable", dependencies=CSRF, **action("user.manage"))
def disable(ctx: Ctx, username: str) -> dict[str, Any]:
    """Disable the account (its sessions end)."""
    ctx.authorize("user.manage")
    user = service.set_active(ctx.db, username, False, actor=ctx.actor, ctx=ctx.auth)
    return _user(ctx, user)


@router.post("/users/{username}/enable", dependencies=CSRF, **action("user.manage"))
def enable(ctx: Ctx, username: str) -> dict[str, Any]:
    """Enable a disabled account."""
    ctx.authorize("user.manage")
    user = service.set_active(ctx.db, username, True, actor=ctx.actor, ctx=ctx.auth)
    return _user(ctx, user)
