"""整改工单: the work-order list and one order — moves, retest, assignment, comments.

This is where a client's responsible person (client_owner) works the orders: read the
advice, fix, mark 已修复, ask for a retest; the engineer then verifies.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import pydantic
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from shaobing.cli.findings import parse_statuses
from shaobing.core.errors import ShaobingError, ValidationError
from shaobing.core.i18n import t
from shaobing.engagements.models import Engagement
from shaobing.findings import service
from shaobing.findings.models import WorkOrder
from shaobing.findings.workflow import Status, workflow
from shaobing.server.access import tenant_object
from shaobing.server.api import findings as findings_api
from shaobing.server.api import workorders as api
from shaobing.server.context import RequestContext
from shaobing.server.pages.findings import (
    allowed_moves,
    choose_engagement,
    role_of,
    state_choices,
)
from shaobing.server.pages.page_forms import (
    CSRF_PAGE,
    PageCtx,
    body_error,
    form_date,
    helpers,
    refused,
    see_other,
)
from shaobing.server.pages.render import render

router = APIRouter()
PAGE_SIZE = 50
# What a redirect after a successful form names; the page shows the matching message.
DONE = frozenset({"moved", "assigned", "commented"})


@router.get("/workorders")
def orders_list(
    ctx: PageCtx,
    request: Request,
    engagement: Annotated[str | None, Query(max_length=100)] = None,
    state: Annotated[str | None, Query(max_length=32)] = None,
    assignee: Annotated[str | None, Query(max_length=200)] = None,
    overdue: bool = False,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    """An engagement's work orders, earliest deadline first, with filters."""
    choices, chosen = choose_engagement(ctx, engagement, "workorder.read")
    total, rows = 0, []
    if chosen is not None:
        today = datetime.now(UTC).date()
        total, orders = service.list_work_orders(
            ctx.db,
            chosen,
            states=parse_statuses([state]) if state else None,
            assignee=assignee or None,
            overdue_on=today if overdue else None,
            limit=PAGE_SIZE,
            offset=offset,
        )
        rows = [service.work_order_as_dict(o, today=today) for o in orders]
    return render(
        request,
        "workorders.html",
        ctx,
        engagements=choices,
        chosen=chosen,
        rows=rows,
        total=total,
        offset=offset,
        page_size=PAGE_SIZE,
        params={"state": state, "assignee": assignee, "overdue": overdue},
        states=state_choices(),
        is_owner=ctx.user.role == "client_owner",
        **helpers(),
    )


def _moves(
    ctx: RequestContext, order: WorkOrder, findings: list[dict[str, object]]
) -> list[tuple[str, str]]:
    role = role_of(ctx, "workorder.transition", order.client_id)
    if role is None:
        return []
    found: dict[str, str] = {}
    for finding in findings:
        for value, label in allowed_moves(str(finding["status"]), role):
            found.setdefault(value, label)
    return sorted(found.items(), key=lambda item: list(workflow().states).index(Status(item[0])))


def _detail_page(
    ctx: RequestContext,
    request: Request,
    order_id: int,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    order = tenant_object(ctx, WorkOrder, order_id, "workorder.read", "work_order")
    data = api.order_detail(ctx, order)
    client_id = order.client_id
    return render(
        request,
        "workorders_detail.html",
        ctx,
        status=status,
        o=data,
        engagement=ctx.db.get_one(Engagement, order.engagement_id),
        moves=_moves(ctx, order, data["findings"]),
        reason_required=[s.value for s in workflow().reason_required],
        can_assign=ctx.can("workorder.assign", client_id=client_id),
        can_comment=ctx.can("workorder.comment", client_id=client_id),
        can_retest=ctx.can("retest.request", client_id=client_id),
        is_owner=ctx.user.role == "client_owner",
        notice=notice,
        error=error,
        **helpers(),
    )


@router.get("/workorders/{order_id}")
def order_detail(
    ctx: PageCtx,
    request: Request,
    order_id: int,
    done: Annotated[str | None, Query(max_length=20)] = None,
    retested: Annotated[int | None, Query(ge=0)] = None,
    untested: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """One work order: its findings, history with comments and the allowed moves."""
    notice = t(f"server_pages.workorders.done_{done}") if done in DONE else None
    if retested is not None:
        notice = t("server_pages.workorders.retest_done", done=retested, failed=untested or 0)
    return _detail_page(ctx, request, order_id, notice=notice)


@router.post("/workorders/{order_id}/transition", dependencies=CSRF_PAGE)
def order_transition(
    ctx: PageCtx,
    request: Request,
    order_id: int,
    to: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    until: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Move every finding of the order that can make the move (e.g. 待修复 → 已修复)."""
    try:
        if not to:
            raise ValidationError(t("server_pages.findings.no_target"))
        body = findings_api.TransitionBody(
            to=to, reason=reason or None, until=form_date(until, "until")
        )
        api.transition(ctx, order_id, body)
    except ShaobingError as exc:
        message, code = refused(ctx, exc)
        return _detail_page(ctx, request, order_id, error=message, status=code)
    return see_other(f"/workorders/{order_id}", done="moved")


@router.post("/workorders/{order_id}/assign", dependencies=CSRF_PAGE)
def order_assign(
    ctx: PageCtx,
    request: Request,
    order_id: int,
    assignee: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Assign the order (a new one moves to 待修复)."""
    try:
        try:
            body = api.AssignBody(assignee=assignee.strip())
        except pydantic.ValidationError as exc:
            raise body_error(exc) from None
        api.assign(ctx, order_id, body)
    except ShaobingError as exc:
        message, code = refused(ctx, exc)
        return _detail_page(ctx, request, order_id, error=message, status=code)
    return see_other(f"/workorders/{order_id}", done="assigned")


@router.post("/workorders/{order_id}/comment", dependencies=CSRF_PAGE)
def order_comment(
    ctx: PageCtx,
    request: Request,
    order_id: int,
    text: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    """Add a comment to the order's history."""
    try:
        if not text.strip():
            raise ValidationError(t("findings.comment_empty"))
        api.comment(ctx, order_id, api.CommentBody(text=text))
    except ShaobingError as exc:
        message, code = refused(ctx, exc)
        return _detail_page(ctx, request, order_id, error=message, status=code)
    return see_other(f"/workorders/{order_id}", done="commented")


@router.post("/workorders/{order_id}/retest", dependencies=CSRF_PAGE)
def order_retest(ctx: PageCtx, order_id: int) -> Response:
    """Re-check every finding of the order now; each moves by the result."""
    result = api.retest(ctx, order_id)
    failed = sum(1 for r in result["retest"] if "error" in r)
    return see_other(
        f"/workorders/{order_id}", retested=len(result["retest"]) - failed, untested=failed
    )
