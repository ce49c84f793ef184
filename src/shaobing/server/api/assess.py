"""Assessment results: risk runs (and a new assessment), MLPS score and gaps, data security."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from shaobing.assess.datasec import service as datasec_service
from shaobing.assess.mlps import service as mlps_service
from shaobing.assess.risk import service as risk_service
from shaobing.assess.risk.models import RiskRun
from shaobing.core.errors import NotFoundError
from shaobing.engagements.models import Engagement
from shaobing.server.access import engagement_for, tenant_object
from shaobing.server.api.common import CSRF, Ctx, action
from shaobing.server.context import RequestContext

router = APIRouter(tags=["assessment"])
EngagementQuery = Annotated[str, Query(min_length=1, max_length=64)]


class AssessBody(BaseModel):
    """Options of a new risk assessment (the engagement's method when not given)."""

    method: str | None = Field(default=None, max_length=16)


def run_detail(run: RiskRun) -> dict[str, Any]:
    """A stored risk assessment: method, summary, roll-up and every risk."""
    summary = dict(run.summary or {})
    return {
        "id": run.id,
        "engagement_id": run.engagement_id,
        "method": run.method,
        "created_at": run.created_at.isoformat(timespec="seconds"),
        "created_by": run.created_by,
        "summary": summary.get("summary", {}),
        "unacceptable": summary.get("unacceptable", 0),
        "rollup": summary.get("rollup", {}),
        "skipped": summary.get("skipped", {}),
        "risks": [{k: v for k, v in r.items() if k != "explain"} for r in run.results or []],
    }


def latest_risk(ctx: RequestContext, engagement: Engagement) -> RiskRun | None:
    """The engagement's newest stored risk assessment."""
    runs = risk_service.list_runs(ctx.db, engagement)
    return ctx.db.get(RiskRun, runs[0]["id"]) if runs else None


def mlps_documents(ctx: RequestContext, engagement: Engagement) -> dict[str, Any] | None:
    """The MLPS score and gap documents, or None when no assessment was started.

    Scoring refreshes the pre-filled records first; for a read it runs in a savepoint that
    is rolled back, so looking at the results never changes them.
    """
    try:
        assessment = mlps_service.current_assessment(ctx.db, engagement)
    except NotFoundError:
        return None
    savepoint = ctx.db.begin_nested()
    try:
        score = mlps_service.score(ctx.db, assessment, actor=ctx.actor)
        gaps = mlps_service.gaps(ctx.db, assessment, engagement, work_orders=False, actor=ctx.actor)
        level = assessment.level
    finally:
        savepoint.rollback()
    return {"level": level, "score": score, "gaps": gaps}


def datasec_document(ctx: RequestContext, engagement: Engagement) -> dict[str, Any] | None:
    """The data security score document, or None when no assessment was started."""
    try:
        assessment = datasec_service.latest(ctx.db, engagement)
    except NotFoundError:
        return None
    return datasec_service.score_json(ctx.db, assessment) | {
        "gaps": datasec_service.gaps_json(ctx.db, assessment)
    }


@router.get("/risk/runs", **action("risk.read"))
def risk_runs(ctx: Ctx, engagement: EngagementQuery) -> dict[str, Any]:
    """Stored risk assessments of the engagement, newest first."""
    target = engagement_for(ctx, engagement, "risk.read")
    return {"items": risk_service.list_runs(ctx.db, target)}


@router.get("/risk/runs/{run_id}", **action("risk.read"))
def risk_run(ctx: Ctx, run_id: int) -> dict[str, Any]:
    """One stored risk assessment with every risk."""
    return run_detail(tenant_object(ctx, RiskRun, run_id, "risk.read", "risk_run"))


@router.post("/risk/assess", dependencies=CSRF, **action("risk.assess"))
def risk_assess(ctx: Ctx, engagement: EngagementQuery, body: AssessBody) -> dict[str, Any]:
    """Assess the engagement's risks now and store the run (compared with the previous one)."""
    target = engagement_for(ctx, engagement, "risk.assess")
    return risk_service.assess(ctx.db, target, method=body.method, actor=ctx.actor, save=True)


@router.get("/mlps/score", **action("mlps.read"))
def mlps_score(ctx: Ctx, engagement: EngagementQuery) -> dict[str, Any]:
    """The MLPS (等级保护) composite score, per-category results and the gap analysis."""
    target = engagement_for(ctx, engagement, "mlps.read")
    docs = mlps_documents(ctx, target)
    if docs is None:
        # The service's own message ("no assessment for engagement X").
        mlps_service.current_assessment(ctx.db, target)
    assert docs is not None
    return docs


@router.get("/datasec/score", **action("datasec.read"))
def datasec_score(ctx: Ctx, engagement: EngagementQuery) -> dict[str, Any]:
    """The data security assessment score per lifecycle stage, with its gaps."""
    target = engagement_for(ctx, engagement, "datasec.read")
    doc = datasec_document(ctx, target)
    if doc is None:
        datasec_service.latest(ctx.db, target)
    assert doc is not None
    return doc
