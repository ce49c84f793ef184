"""综合态势 (overview) and 脆弱性态势 (vulnerability posture) dashboards."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from shaobing.server.access import engagement_for, visible_engagements
from shaobing.server.api.dashboard import snapshot
from shaobing.server.context import RequestContext, request_context
from shaobing.server.pages.render import render

router = APIRouter()
PageCtx = Annotated[RequestContext, Depends(request_context)]


def _selection(ctx: RequestContext, engagement: str | None) -> tuple[list[int], object | None]:
    choices = visible_engagements(ctx, "findings.read")
    if engagement:
        chosen = engagement_for(ctx, engagement, "findings.read")
        return [chosen.id], chosen
    return [e.id for e in choices], None


@router.get("/")
def overview_page(
    ctx: PageCtx, request: Request, engagement: str | None = None, refresh: bool = False
) -> Response:
    """综合态势: open findings by severity, SLA, risk levels, trend, top assets."""
    ids, chosen = _selection(ctx, engagement)
    data = snapshot(ctx, "overview", ids, refresh=refresh)
    return render(
        request,
        "overview.html",
        ctx,
        data=data,
        codes={e["id"]: e["code"] or e["id"] for e in data["engagements"]},
        engagements=visible_engagements(ctx, "findings.read"),
        chosen=chosen,
    )


@router.get("/posture")
def posture_page(
    ctx: PageCtx, request: Request, engagement: str | None = None, refresh: bool = False
) -> Response:
    """脆弱性态势: open findings by source, check, port and age."""
    ids, chosen = _selection(ctx, engagement)
    data = snapshot(ctx, "posture", ids, refresh=refresh)
    return render(
        request,
        "posture.html",
        ctx,
        data=data,
        source_pie=[{"name": r["source_tool"], "value": r["open"]} for r in data["by_source"]],
        engagements=visible_engagements(ctx, "findings.read"),
        chosen=chosen,
    )
