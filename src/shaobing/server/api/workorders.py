"""``/api/v1/workorders``: the remediation loop — list, show, assign, move, comment, retest."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from shaobing.cli.findings import parse_statuses
from shaobing.core.errors import ValidationError
from shaobing.findings import service
from shaobing.findings.models import WorkOrder
from shaobing.findings.retest import retest_finding
from shaobing.server.access import engagement_for, tenant_object
from shaobing.server.api.common import CSRF, Ctx, action
from shaobing.server.api.findings import TransitionBody, _status
from shaobing.server.workflow_role import workflow_role

router = APIRouter(tags=["workorders"])


class AssignBody(BaseModel):
    """Who fixes it."""

    assignee: str = Field(min_length=1, max_length=200)


class CommentBody(BaseModel):
    """A comment in the work order's history."""

    text: str = Field(min_length=1, max_length=10_000)


def _today() -> date:
    return datetime.now(UTC).date()


def order_detail(ctx: Ctx, order: WorkOrder) -> dict[str, Any]:
    """A work order with its findings and history (the API answer and the page's data)."""
    data = service.work_order_as_dict(order, today=_today())
    data["findings"] = [service.finding_as_dict(f) for f in service.order_findings(ctx.db, order)]
    data["history"] = [service.event_as_dict(e) for e in service.history(ctx.db, order_id=order.id)]
    return data


@router.get("/workorders", **action("workorder.read"))
def list_orders(
    ctx: Ctx,
    engagement: str,
    state: Annotated[list[str] | None, Query()] = None,
    assignee: Annotated[str | None, Query(max_length=200)] = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Work orders of an engagement, earliest deadline first."""
    target = engagement_for(ctx, engagement, "workorder.read")
    today = _today()
    total, orders = service.list_work_orders(
        ctx.db,
        target,
        states=parse_statuses(state),
        assignee=assignee,
        overdue_on=today if overdue else None,
        limit=limit,
        offset=offset,
    )
    return {
        "total": total,
        "items": [service.work_order_as_dict(o, today=today) for o in orders],
    }


@router.get("/workorders/{order_id}", **action("workorder.read"))
def show(ctx: Ctx, order_id: int) -> dict[str, Any]:
    """One work order with its findings and history."""
    order = tenant_object(ctx, WorkOrder, order_id, "workorder.read", "work_order")
    return order_detail(ctx, order)


@router.post("/workorders/{order_id}/assign", dependencies=CSRF, **action("workorder.assign"))
def assign(ctx: Ctx, order_id: int, body: AssignBody) -> dict[str, Any]:
    """Assign the work order (a new one moves to 待修复)."""
    order = tenant_object(ctx, WorkOrder, order_id, "workorder.assign", "work_order")
    service.assign(ctx.db, order, body.assignee, actor=ctx.actor, role=workflow_role(ctx.user.role))
    return order_detail(ctx, order)


@router.post(
    "/workorders/{order_id}/transition", dependencies=CSRF, **action("workorder.transition")
)
def transition(ctx: Ctx, order_id: int, body: TransitionBody) -> dict[str, Any]:
    """Move every finding of the work order that can make the move."""
    order = tenant_object(ctx, WorkOrder, order_id, "workorder.transition", "work_order")
    moved = service.move_work_order(
        ctx.db,
        order,
        _status(body.to),
        actor=ctx.actor,
        role=workflow_role(ctx.user.role),
        reason=body.reason,
        until=body.until,
    )
    return order_detail(ctx, order) | {"moved": moved}


@router.post("/workorders/{order_id}/comment", dependencies=CSRF, **action("workorder.comment"))
def comment(ctx: Ctx, order_id: int, body: CommentBody) -> dict[str, Any]:
    """Add a comment to the work order's history."""
    order = tenant_object(ctx, WorkOrder, order_id, "workorder.comment", "work_order")
    event = service.comment(
        ctx.db, order, body.text, actor=ctx.actor, role=workflow_role(ctx.user.role)
    )
    ctx.db.flush()
    return service.event_as_dict(event)


@router.post("/workorders/{order_id}/retest", dependencies=CSRF, **action("retest.request"))
def retest(ctx: Ctx, order_id: int) -> dict[str, Any]:
    """Re-check every finding of the work order now and move each by the result."""
    order = tenant_object(ctx, WorkOrder, order_id, "retest.request", "work_order")
    results = []
    for finding in service.order_findings(ctx.db, order):
        try:
            outcome = retest_finding(ctx.db, finding, actor=ctx.actor)
        except ValidationError as exc:
            results.append({"finding_id": finding.id, "error": exc.message})
            continue
        results.append(
            {
                "finding_id": finding.id,
                "detected": outcome.detected,
                "evidence": outcome.evidence,
                "status": finding.status,
            }
        )
    return order_detail(ctx, order) | {"retest": results}
