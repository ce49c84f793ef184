"""``/api/v1/deliverables``: the engagement's owed documents — list, add, submit, accept, reopen."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.engagements import deliverables as svc
from shaobing.engagements.models import Deliverable
from shaobing.reports.models import ReportBuild
from shaobing.server.access import engagement_for, tenant_object
from shaobing.server.api.common import CSRF, Ctx, action
from shaobing.server.context import RequestContext

router = APIRouter(tags=["deliverables"])


class AddBody(BaseModel):
    """An on-demand deliverable (``deliverables add``): kind, due date, period, remarks."""

    engagement: str = Field(min_length=1, max_length=64)
    kind: str = Field(min_length=1, max_length=64)
    due: date
    period: str | None = Field(default=None, max_length=32)
    note: str | None = Field(default=None, max_length=svc.MAX_NOTE)


class SubmitBody(BaseModel):
    """Hand a deliverable to the client: a built report as its file, or paper-only (force)."""

    build_id: int | None = None
    on: date | None = None
    force: bool = False


class AcceptBody(BaseModel):
    """The client's sign-off: who (the user's name by default), when, remarks."""

    by: str | None = Field(default=None, max_length=200)
    on: date | None = None
    note: str | None = Field(default=None, max_length=2000)


class ReopenBody(BaseModel):
    """Why the deliverable goes back to work."""

    reason: str | None = Field(default=None, max_length=2000)


def _today() -> date:
    return date.today()


def view(deliverable: Deliverable) -> dict[str, Any]:
    """The service's JSON form of a deliverable, without the server-side file path."""
    data = svc.deliverable_as_dict(deliverable, today=_today())
    data.pop("file_path", None)
    return data


def add_deliverable(ctx: RequestContext, body: AddBody) -> Deliverable:
    """Add a deliverable the contract did not schedule (e.g. an incident report)."""
    target = engagement_for(ctx, body.engagement, "deliverables.write")
    return svc.add_deliverable(
        ctx.db,
        target,
        kind=body.kind.strip(),
        due=body.due,
        period=(body.period or "").strip() or None,
        note=(body.note or "").strip() or None,
        actor=ctx.actor,
    )


def submit_deliverable(ctx: RequestContext, deliverable_id: int, body: SubmitBody) -> Deliverable:
    """Mark as submitted, with a built report of the same engagement as its file."""
    target = tenant_object(ctx, Deliverable, deliverable_id, "deliverables.write", "deliverable")
    file = None
    if body.build_id is not None:
        build = tenant_object(ctx, ReportBuild, body.build_id, "report.read", "report")
        if build.engagement_id != target.engagement_id:
            raise ValidationError(
                t("server_work.deliverable.build_elsewhere", build=build.id, id=target.id)
            )
        file = Path(build.path)
    svc.submit(ctx.db, target, actor=ctx.actor, on=body.on, file=file, force=body.force)
    return target


def accept_deliverable(ctx: RequestContext, deliverable_id: int, body: AcceptBody) -> Deliverable:
    """Record the client's acceptance (the signer defaults to the user's name)."""
    target = tenant_object(ctx, Deliverable, deliverable_id, "deliverables.accept", "deliverable")
    by = (body.by or "").strip() or ctx.user.display_name or ctx.user.username
    svc.accept(ctx.db, target, actor=ctx.actor, by=by, on=body.on, note=body.note or None)
    return target


def reopen_deliverable(ctx: RequestContext, deliverable_id: int, body: ReopenBody) -> Deliverable:
    """Take a submitted or accepted deliverable back to work."""
    target = tenant_object(ctx, Deliverable, deliverable_id, "deliverables.write", "deliverable")
    svc.reopen(ctx.db, target, actor=ctx.actor, reason=body.reason or None)
    return target


@router.get("/deliverables", **action("deliverables.read"))
def list_deliverables(
    ctx: Ctx,
    engagement: Annotated[str, Query(min_length=1, max_length=64)],
    state: Annotated[list[str] | None, Query()] = None,
    overdue: bool = False,
) -> dict[str, Any]:
    """The engagement's deliverables by due date."""
    target = engagement_for(ctx, engagement, "deliverables.read")
    flt = svc.DeliverableFilter(
        states=tuple(svc.parse_state(s) for s in state or []),
        overdue_on=_today() if overdue else None,
    )
    return {"items": [view(d) for d in svc.list_deliverables(ctx.db, target, flt)]}


@router.post("/deliverables", dependencies=CSRF, **action("deliverables.write"))
def add(ctx: Ctx, body: AddBody) -> dict[str, Any]:
    """Add an on-demand deliverable (计划中) to the engagement."""
    return view(add_deliverable(ctx, body))


@router.post(
    "/deliverables/{deliverable_id}/submit", dependencies=CSRF, **action("deliverables.write")
)
def submit(ctx: Ctx, deliverable_id: int, body: SubmitBody) -> dict[str, Any]:
    """Mark as handed to the client (已提交)."""
    return view(submit_deliverable(ctx, deliverable_id, body))


@router.post(
    "/deliverables/{deliverable_id}/accept", dependencies=CSRF, **action("deliverables.accept")
)
def accept(ctx: Ctx, deliverable_id: int, body: AcceptBody) -> dict[str, Any]:
    """Record the client's acceptance (已验收)."""
    return view(accept_deliverable(ctx, deliverable_id, body))


@router.post(
    "/deliverables/{deliverable_id}/reopen", dependencies=CSRF, **action("deliverables.write")
)
def reopen(ctx: Ctx, deliverable_id: int, body: ReopenBody) -> dict[str, Any]:
    """Take it back to work (进行中 or 计划中)."""
    return view(reopen_deliverable(ctx, deliverable_id, body))
