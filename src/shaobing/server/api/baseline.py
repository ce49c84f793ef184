"""``/api/v1/baseline/runs``: stored baseline checks with their per-rule results."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from shaobing.baseline.models import BaselineRun
from shaobing.baseline.results import STATUS_LABELS, Status
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.engagements.models import Engagement
from shaobing.server.access import engagement_for, tenant_object
from shaobing.server.api.common import Ctx, action
from shaobing.server.context import RequestContext

router = APIRouter(tags=["baseline"])

# Failures first: they carry the advice the client acts on.
STATUS_ORDER = {
    Status.FAIL.value: 0,
    Status.ERROR.value: 1,
    Status.NA.value: 2,
    Status.PASS.value: 3,
}


def run_summary(run: BaselineRun) -> dict[str, Any]:
    """A run's row in listings."""
    return {
        "id": run.id,
        "engagement_id": run.engagement_id,
        "profile": run.profile,
        "target": run.target,
        "host": run.host,
        "os": run.os,
        "purpose": run.purpose,
        "score": run.score,
        "counts": dict(run.counts or {}),
        "created_by": run.created_by,
        "started_at": run.started_at.isoformat(timespec="seconds") if run.started_at else None,
        "finished_at": run.finished_at.isoformat(timespec="seconds") if run.finished_at else None,
    }


def parse_status(values: list[str] | None) -> set[str]:
    """Status filter values (pass/fail/na/error or the Chinese words)."""
    if not values:
        return set()
    words = {label: status.value for status, label in STATUS_LABELS.items()}
    chosen: set[str] = set()
    for value in values:
        for part in value.split(","):
            item = part.strip()
            if not item:
                continue
            status = words.get(item, item.lower())
            if status not in STATUS_ORDER:
                raise ValidationError(
                    t("cli.bad_status", value=item, known="pass, fail, na, error")
                )
            chosen.add(status)
    return chosen


def run_results(run: BaselineRun, statuses: set[str]) -> list[dict[str, Any]]:
    """The run's rule results (filtered by status), failures first."""
    rows = [
        dict(r) | {"status_label": STATUS_LABELS.get(Status(r["status"]), r["status"])}
        for r in run.results or []
        if not statuses or r.get("status") in statuses
    ]
    rows.sort(key=lambda r: (STATUS_ORDER.get(r["status"], 9), r["rule_id"]))
    return rows


def list_runs(ctx: RequestContext, engagement: Engagement | None) -> list[BaselineRun]:
    """Baseline runs of one engagement or of every visible one, newest first."""
    query = select(BaselineRun).order_by(BaselineRun.id.desc()).limit(500)
    if engagement is not None:
        query = query.where(BaselineRun.engagement_id == engagement.id)
    elif ctx.tenant is not None:
        query = query.where(BaselineRun.client_id == ctx.tenant)
    return list(ctx.db.scalars(query))


@router.get("/baseline/runs", **action("baseline.read"))
def runs(
    ctx: Ctx, engagement: Annotated[str | None, Query(max_length=64)] = None
) -> dict[str, Any]:
    """Baseline check runs, newest first."""
    target = engagement_for(ctx, engagement, "baseline.read") if engagement else None
    if target is None:
        ctx.authorize("baseline.read", client_id=ctx.tenant)
    return {"items": [run_summary(r) for r in list_runs(ctx, target)]}


@router.get("/baseline/runs/{run_id}", **action("baseline.read"))
def show(
    ctx: Ctx, run_id: int, status: Annotated[list[str] | None, Query()] = None
) -> dict[str, Any]:
    """One run with its results per rule (failures first, with the remediation advice)."""
    run = tenant_object(ctx, BaselineRun, run_id, "baseline.read", "baseline_run")
    return run_summary(run) | {"results": run_results(run, parse_status(status))}
