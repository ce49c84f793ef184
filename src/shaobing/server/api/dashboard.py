"""``/api/v1/dashboard``: 综合态势 and 脆弱性态势 over the engagements the user may see."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from shaobing.server.access import engagement_for, visible_engagements
from shaobing.server.api.common import Ctx, action
from shaobing.server.queries import dashboard

router = APIRouter(tags=["dashboard"])


def engagement_ids(ctx: Ctx, engagement: str | None) -> list[int]:
    """One named engagement, or every engagement the user may see."""
    if engagement:
        return [engagement_for(ctx, engagement, "findings.read").id]
    return [e.id for e in visible_engagements(ctx, "findings.read")]


@router.get("/dashboard", **action("findings.read"))
def overview(ctx: Ctx, engagement: str | None = None) -> dict[str, Any]:
    """Open findings by severity, SLA status, risk level, trend, top assets."""
    ids = engagement_ids(ctx, engagement)
    return dashboard.overview(ctx.db, engagement_ids=ids, today=datetime.now(UTC).date())


@router.get("/dashboard/vulnerabilities", **action("findings.read"))
def vulnerabilities(ctx: Ctx, engagement: str | None = None) -> dict[str, Any]:
    """Open findings by source, check, port and age; the fixed rate."""
    ids = engagement_ids(ctx, engagement)
    return dashboard.vulnerability_posture(
        ctx.db, engagement_ids=ids, today=datetime.now(UTC).date()
    )
