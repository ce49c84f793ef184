"""``/api/v1/dashboard``: 综合态势 and 脆弱性态势 over the engagements the user may see.

Both are served from snapshots (``queries/snapshots.py``): the answer's ``snapshot`` member
says when the figures were computed; ``refresh=true`` recomputes now.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from shaobing.core.db import session_scope
from shaobing.server.access import engagement_for, visible_engagements
from shaobing.server.api.common import Ctx, action
from shaobing.server.context import RequestContext
from shaobing.server.queries import dashboard
from shaobing.server.queries.snapshots import SnapshotCache

router = APIRouter(tags=["dashboard"])

Figures = Callable[..., dict[str, Any]]


def engagement_ids(ctx: RequestContext, engagement: str | None) -> list[int]:
    """One named engagement, or every engagement the user may see."""
    if engagement:
        return [engagement_for(ctx, engagement, "findings.read").id]
    return [e.id for e in visible_engagements(ctx, "findings.read")]


def _computer(engine: Engine, figures: Figures, ids: list[int]) -> Callable[[], dict[str, Any]]:
    def compute() -> dict[str, Any]:
        session: Session
        with session_scope(engine, readonly=True) as session:
            return figures(session, engagement_ids=ids, today=datetime.now(UTC).date())

    return compute


def snapshot(
    ctx: RequestContext, name: str, ids: list[int], *, refresh: bool = False
) -> dict[str, Any]:
    """The dashboard ``name`` (overview | posture) over ``ids`` with its snapshot metadata."""
    figures: Figures = dashboard.overview if name == "overview" else dashboard.vulnerability_posture
    cache: SnapshotCache = ctx.request_state.snapshots
    key = (name, tuple(sorted(set(ids))), datetime.now(UTC).date())
    # Give this request's connection back before possibly waiting for the computation: the
    # computing thread needs one from the same pool, and many waiting requests would hold
    # them all.
    ctx.db.commit()
    data, meta = cache.get(key, _computer(ctx.engine, figures, ids), force=refresh)
    return data | {"snapshot": meta}


@router.get("/dashboard", **action("findings.read"))
def overview(ctx: Ctx, engagement: str | None = None, refresh: bool = False) -> dict[str, Any]:
    """Open findings by severity, SLA status, risk level, trend, top assets."""
    return snapshot(ctx, "overview", engagement_ids(ctx, engagement), refresh=refresh)


@router.get("/dashboard/vulnerabilities", **action("findings.read"))
def vulnerabilities(
    ctx: Ctx, engagement: str | None = None, refresh: bool = False
) -> dict[str, Any]:
    """Open findings by source, check, port and age; the fixed rate."""
    return snapshot(ctx, "posture", engagement_ids(ctx, engagement), refresh=refresh)
