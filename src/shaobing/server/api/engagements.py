"""``/api/v1/clients`` and ``/api/v1/engagements``: tenants, engagements, scope, export, purge."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.background import BackgroundTask

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.engagements import service
from shaobing.engagements.export import export_engagement
from shaobing.engagements.models import Client
from shaobing.engagements.purge import plan_purge, purge
from shaobing.engagements.scope_guard import check_target
from shaobing.findings import service as findings
from shaobing.server.access import client_for, engagement_for, visible_engagements
from shaobing.server.api.common import CSRF, Ctx, action

router = APIRouter(tags=["engagements"])


class ClientBody(BaseModel):
    """A new client (tenant)."""

    name: str = Field(min_length=1, max_length=200)
    code: str | None = Field(default=None, max_length=50)
    contact: str | None = Field(default=None, max_length=500)
    notes: str | None = Field(default=None, max_length=5000)


class EngagementBody(BaseModel):
    """A new engagement, as ``engagement create`` takes it."""

    client: int
    name: str = Field(min_length=1, max_length=200)
    code: str | None = Field(default=None, max_length=50)
    scope: list[str] = Field(min_length=1, max_length=10_000)
    exclude: list[str] = Field(default_factory=list, max_length=10_000)
    windows: list[str] = Field(default_factory=list, max_length=100)
    start: date | None = None
    end: date | None = None
    description: str | None = Field(default=None, max_length=5000)
    timezone: str = "Asia/Shanghai"
    systems: list[str] = Field(default_factory=list, max_length=1000)
    items: list[str] = Field(default_factory=list, max_length=100)
    sla: list[str] = Field(default_factory=list, max_length=10)


class PurgeBody(BaseModel):
    """The second confirmation: the engagement's code (or name) typed again, and the
    administrator's own password."""

    confirm: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=4096)


def client_as_dict(client: Client) -> dict[str, Any]:
    """A client for listings."""
    return {"id": client.id, "name": client.name, "code": client.code, "contact": client.contact}


@router.get("/clients", **action("client.read"))
def list_clients(ctx: Ctx) -> list[dict[str, Any]]:
    """The clients the user may see (a client user: only its own)."""
    ctx.authorize("client.read", client_id=ctx.tenant)
    query = select(Client).order_by(Client.name)
    if ctx.tenant is not None:
        query = query.where(Client.id == ctx.tenant)
    return [client_as_dict(c) for c in ctx.db.scalars(query)]


@router.post("/clients", dependencies=CSRF, status_code=201, **action("client.write"))
def add_client(ctx: Ctx, body: ClientBody) -> dict[str, Any]:
    """Create a client."""
    ctx.authorize("client.write")
    client = service.add_client(
        ctx.db, body.name, code=body.code, contact=body.contact, notes=body.notes, actor=ctx.actor
    )
    return client_as_dict(client)


@router.get("/engagements", **action("engagement.read"))
def list_engagements(ctx: Ctx, client: int | None = None) -> list[dict[str, Any]]:
    """Engagements the user may see, newest first (optionally of one client)."""
    rows = visible_engagements(ctx, "engagement.read")
    if client is not None:
        rows = [e for e in rows if e.client_id == client]
    return [service.engagement_as_dict(e) for e in rows]


@router.post("/engagements", dependencies=CSRF, status_code=201, **action("engagement.write"))
def create_engagement(ctx: Ctx, body: EngagementBody) -> dict[str, Any]:
    """Create an engagement with its scope, windows, service items and SLA."""
    client = client_for(ctx, body.client, "engagement.write")
    spec = service.EngagementInput(
        name=body.name,
        scope=body.scope,
        exclude=body.exclude,
        windows=body.windows,
        start=body.start,
        end=body.end,
        code=body.code,
        description=body.description,
        timezone=body.timezone,
        systems=body.systems,
        items=[service.parse_service_item(i) for i in body.items],
        sla=dict(service.parse_sla(s) for s in body.sla),
    )
    engagement = service.create_engagement(ctx.db, client, spec, actor=ctx.actor)
    return service.engagement_as_dict(engagement)


@router.get("/engagements/{ref}", **action("engagement.read"))
def show_engagement(ctx: Ctx, ref: str) -> dict[str, Any]:
    """One engagement with scope, windows, systems, service items and SLA days."""
    engagement = engagement_for(ctx, ref, "engagement.read")
    data = service.engagement_as_dict(engagement)
    data["sla_days"] = findings.sla_table(ctx.db, engagement)
    return data


@router.get("/engagements/{ref}/scope-check", **action("scope.check"))
def scope_check(
    ctx: Ctx,
    ref: str,
    target: Annotated[str, Query(min_length=1, max_length=500)],
    port: Annotated[int | None, Query(ge=0, le=65535)] = None,
) -> dict[str, Any]:
    """Whether a target (and port) is inside the authorised scope now; refusals are audited."""
    engagement = engagement_for(ctx, ref, "scope.check")
    decision = check_target(engagement, target, port=port, actor=ctx.actor, engine=ctx.engine)
    return {
        "target": target,
        "port": port,
        "allowed": decision.allowed,
        "reason": decision.reason,
        "matched": decision.matched,
        "message": decision.message,
    }


@router.post("/engagements/{ref}/export", dependencies=CSRF, **action("engagement.export"))
def export(ctx: Ctx, ref: str) -> FileResponse:
    """The engagement's complete archive (ZIP with manifest), for the client before a purge."""
    engagement = engagement_for(ctx, ref, "engagement.export")
    engagement_id, name = engagement.id, engagement.code or str(engagement.id)
    ctx.db.commit()  # release the database before the export reads it in its own snapshot
    folder = Path(tempfile.mkdtemp(prefix="shaobing-archive-"))
    out = folder / f"engagement-{name}.zip"
    export_engagement(ctx.engine, str(engagement_id), out, actor=ctx.actor)
    return FileResponse(out, filename=out.name, background=BackgroundTask(_remove_tree, folder))


def _remove_tree(folder: Path) -> None:
    for child in folder.iterdir():
        child.unlink(missing_ok=True)
    folder.rmdir()


@router.get("/engagements/{ref}/purge-plan", **action("engagement.purge"))
def purge_plan(ctx: Ctx, ref: str) -> dict[str, Any]:
    """What a purge would delete (rows per table, files) and what it keeps."""
    engagement = engagement_for(ctx, ref, "engagement.purge")
    return plan_purge(ctx.db, engagement).as_json()


@router.post("/engagements/{ref}/purge", dependencies=CSRF, **action("engagement.purge"))
def purge_engagement(ctx: Ctx, ref: str, body: PurgeBody) -> dict[str, Any]:
    """Delete every record and file of the engagement, verify, and write the destruction
    record. Needs the code (or name) typed again and the administrator's password."""
    engagement = engagement_for(ctx, ref, "engagement.purge")
    typed = body.confirm.strip()
    if typed not in {engagement.code or "", engagement.name}:
        raise ValidationError(t("server.purge.confirm_mismatch", typed=typed))
    if not ctx.auth.hasher.verify(ctx.user.password_hash, body.password):
        raise ValidationError(t("server.purge.wrong_password"))
    engagement_id = engagement.id
    ctx.db.commit()  # the purge runs in its own transaction
    result = purge(ctx.engine, str(engagement_id), None, actor=ctx.actor)
    return result.as_json()
