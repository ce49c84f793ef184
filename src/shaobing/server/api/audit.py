"""``/api/v1/audit``: the hash-chained audit log, listed and verified."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from shaobing.core.audit import AuditEvent, verify_chain
from shaobing.server.api.common import Ctx, action

router = APIRouter(tags=["audit"])


def event_as_dict(event: AuditEvent) -> dict[str, Any]:
    """One audit event as ``audit list --json`` shows it."""
    return {
        "seq": event.seq,
        "at": event.occurred_at,
        "actor": event.actor,
        "action": event.action,
        "outcome": event.outcome,
        "client_id": event.client_id,
        "engagement_id": event.engagement_id,
        "target": event.target,
        "detail": json.loads(event.detail),
        "hash": event.hash,
    }


@router.get("/audit", **action("audit.read"))
def list_events(
    ctx: Ctx,
    action_name: Annotated[str | None, Query(alias="action", max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    outcome: Annotated[str | None, Query(max_length=16)] = None,
    client: int | None = None,
    before: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """The newest events first; page back with ``before`` = the last ``seq`` shown."""
    ctx.authorize("audit.read", client_id=client if client is not None else ctx.tenant)
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if action_name:
        query = query.where(AuditEvent.action == action_name)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if outcome:
        query = query.where(AuditEvent.outcome == outcome)
    if client is not None:
        query = query.where(AuditEvent.client_id == client)
    if before is not None:
        query = query.where(AuditEvent.seq < before)
    items = [event_as_dict(e) for e in ctx.db.scalars(query)]
    return {"items": items, "next_before": items[-1]["seq"] if len(items) == limit else None}


@router.get("/audit/verify", **action("audit.verify"))
def verify(ctx: Ctx) -> dict[str, Any]:
    """Recompute the whole chain; names the first event that does not match."""
    ctx.authorize("audit.verify")
    report = verify_chain(ctx.db)
    return {
        "ok": report.ok,
        "events": report.events,
        "head_hash": report.head_hash,
        "broken_at": report.broken_at,
        "problem": report.problem,
    }
