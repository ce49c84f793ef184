"""基线核查 pages: the runs of an engagement, and one run's results per rule."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from shaobing.baseline.models import BaselineRun
from shaobing.baseline.results import STATUS_LABELS
from shaobing.server.access import tenant_object
from shaobing.server.api.baseline import list_runs, parse_status, run_results, run_summary
from shaobing.server.context import RequestContext, request_context
from shaobing.server.pages.render import render
from shaobing.server.pages.scans import pick_engagement

router = APIRouter()
PageCtx = Annotated[RequestContext, Depends(request_context)]


@router.get("/baseline")
def baseline_page(ctx: PageCtx, request: Request, engagement: str | None = None) -> Response:
    """Baseline check runs with score and counts."""
    choices, chosen = pick_engagement(ctx, engagement, "baseline.read")
    if chosen is None:
        ctx.authorize("baseline.read", client_id=ctx.tenant)
    runs = [run_summary(r) for r in list_runs(ctx, chosen)]
    return render(
        request,
        "baseline.html",
        ctx,
        engagements=choices,
        chosen=chosen,
        runs=runs,
        labels={s.value: label for s, label in STATUS_LABELS.items()},
    )


@router.get("/baseline/{run_id}")
def baseline_run_page(
    ctx: PageCtx, request: Request, run_id: int, status: str | None = None
) -> Response:
    """One run: score, counts, and the rules (failures first, with advice) by status."""
    run = tenant_object(ctx, BaselineRun, run_id, "baseline.read", "baseline_run")
    chosen = parse_status([status]) if status else set()
    return render(
        request,
        "baseline_detail.html",
        ctx,
        run=run_summary(run),
        results=run_results(run, chosen),
        filter_status=status or "",
        labels={s.value: label for s, label in STATUS_LABELS.items()},
    )
