"""风险与等保 page: risk level and risk list, MLPS score and gaps, data security score."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from shaobing.assess.risk import service as risk_service
from shaobing.core.errors import ShaobingError
from shaobing.engagements.models import Engagement
from shaobing.server.access import engagement_for
from shaobing.server.api.assess import datasec_document, latest_risk, mlps_documents, run_detail
from shaobing.server.context import RequestContext, csrf_guard, request_context
from shaobing.server.pages.render import render
from shaobing.server.pages.scans import pick_engagement, reraise_refusal

router = APIRouter()
PageCtx = Annotated[RequestContext, Depends(request_context)]
CSRF = [Depends(csrf_guard)]
# The five levels of GB/T 20984, lowest first (heat map axes are 1..5).
AXIS = [1, 2, 3, 4, 5]


def heat_map(risks: list[dict[str, Any]]) -> list[list[int]]:
    """Risk counts per (likelihood, loss) cell, both rounded to the 1–5 scale."""
    cells: dict[tuple[int, int], int] = {}
    for risk in risks:
        x = min(5, max(1, round(float(risk["likelihood"]))))
        y = min(5, max(1, round(float(risk["loss"]))))
        cells[(x, y)] = cells.get((x, y), 0) + 1
    return [[x - 1, y - 1, cells.get((x, y), 0)] for x in AXIS for y in AXIS]


def _risk_section(ctx: RequestContext, engagement: Engagement) -> dict[str, Any] | None:
    run = latest_risk(ctx, engagement)
    if run is None:
        return None
    detail = run_detail(run)
    risks = sorted(detail["risks"], key=lambda r: (-int(r.get("level_rank", 0)), r["asset"]))
    detail["risks"] = risks
    detail["top_level"] = risks[0]["level"] if risks else None
    detail["heat"] = heat_map(risks)
    detail["heat_max"] = max([c[2] for c in detail["heat"]] + [1])
    return detail


def _page(
    ctx: RequestContext,
    request: Request,
    engagement: str | None,
    *,
    message: str | None = None,
    status: int = 200,
) -> Response:
    choices, chosen = pick_engagement(ctx, engagement, "risk.read")
    if chosen is None and choices:
        chosen = choices[0]
    values: dict[str, Any] = {"risk": None, "mlps": None, "datasec": None}
    can = {"mlps": False, "datasec": False, "assess": False}
    if chosen is not None:
        values["risk"] = _risk_section(ctx, chosen)
        can["mlps"] = ctx.can("mlps.read", client_id=chosen.client_id)
        can["datasec"] = ctx.can("datasec.read", client_id=chosen.client_id)
        can["assess"] = ctx.can("risk.assess", client_id=chosen.client_id)
        if can["mlps"]:
            values["mlps"] = mlps_documents(ctx, chosen)
        if can["datasec"]:
            values["datasec"] = datasec_document(ctx, chosen)
    return render(
        request,
        "assessment.html",
        ctx,
        status=status,
        engagements=choices,
        chosen=chosen,
        can=can,
        message=message,
        levels=AXIS,
        **values,
    )


@router.get("/assessment")
def assessment_page(ctx: PageCtx, request: Request, engagement: str | None = None) -> Response:
    """The engagement's latest risk assessment, MLPS score and gaps, data security score."""
    return _page(ctx, request, engagement)


@router.post("/assessment/assess", dependencies=CSRF)
def assess_form(
    ctx: PageCtx,
    request: Request,
    engagement: Annotated[str, Form(min_length=1, max_length=64)],
    method: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Run a new risk assessment from the page."""
    target = engagement_for(ctx, engagement, "risk.assess")
    try:
        risk_service.assess(ctx.db, target, method=method or None, actor=ctx.actor, save=True)
    except ShaobingError as exc:
        reraise_refusal(exc)
        ctx.db.rollback()
        return _page(ctx, request, engagement, message=exc.message, status=400)
    return RedirectResponse(f"/assessment?engagement={target.id}", status_code=303)
