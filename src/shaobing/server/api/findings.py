"""``/api/v1/findings``: list (keyset pages), show with history, transitions, bulk, export."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from shaobing.cli.findings import parse_severities, parse_statuses
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.findings import service
from shaobing.findings.exporters import EXPORT_FORMATS, export_findings
from shaobing.findings.models import Finding
from shaobing.findings.service import FindingFilter
from shaobing.server.access import engagement_for, tenant_object
from shaobing.server.api.common import CSRF, Ctx, action
from shaobing.server.queries.findings_page import findings_page
from shaobing.server.workflow_role import workflow_role

router = APIRouter(tags=["findings"])

# Organisation-defined page size limits: 50 by default, 500 at most per request.
MAX_PAGE = 500
# A bulk action touches at most this many findings per request (bounded transaction).
MAX_BULK = 1000


class FilterParams(BaseModel):
    """Filters shared by the list and the export."""

    severity: list[str] | None = None
    status: list[str] | None = None
    asset: int | None = None
    host: str | None = None
    source: str | None = None
    search: str | None = Field(default=None, max_length=200)
    open: bool = False

    def to_filter(self) -> FindingFilter:
        """The service-layer filter."""
        return FindingFilter(
            severities=parse_severities(self.severity),
            statuses=parse_statuses(self.status),
            asset_id=self.asset,
            host=self.host,
            source=self.source,
            search=self.search,
            open_only=self.open,
        )


class TransitionBody(BaseModel):
    """A state change with its reason (required by the state machine for some moves)."""

    to: str = Field(min_length=1, max_length=32)
    reason: str | None = Field(default=None, max_length=2000)
    until: date | None = None


class BulkTransitionBody(TransitionBody):
    """The same state change for many findings of one engagement."""

    ids: list[int] = Field(min_length=1, max_length=MAX_BULK)


def _status(value: str) -> str:
    parsed = parse_statuses([value])
    if not parsed or len(parsed) != 1:
        raise ValidationError(t("cli.bad_status", value=value, known=""))
    return parsed[0].value


@router.get("/findings", **action("findings.read"))
def list_findings(
    ctx: Ctx,
    engagement: str,
    flt: Annotated[FilterParams, Query()],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """One page of an engagement's findings, most severe first; follow ``next_cursor``."""
    target = engagement_for(ctx, engagement, "findings.read")
    page = findings_page(
        ctx.db, engagement_id=target.id, flt=flt.to_filter(), limit=limit, after=after
    )
    return {
        "engagement": {"id": target.id, "name": target.name, "code": target.code},
        "items": [service.finding_as_dict(f) for f in page.items],
        "next_cursor": page.next_cursor,
        "total": page.total,
        "total_capped": page.total_capped,
    }


@router.get("/findings/export", **action("findings.export"))
def export(
    ctx: Ctx,
    engagement: str,
    flt: Annotated[FilterParams, Query()],
    format: Annotated[str, Query(max_length=10)] = "xlsx",
) -> FileResponse:
    """The engagement's findings as CSV, XLSX, JSON or SARIF (same filters as the list)."""
    fmt = format.lower()
    if fmt not in EXPORT_FORMATS:
        raise ValidationError(
            t("findings.export_format", format=format, known=", ".join(EXPORT_FORMATS))
        )
    target = engagement_for(ctx, engagement, "findings.export")
    query = service.filtered_query(target, flt.to_filter())
    folder = Path(tempfile.mkdtemp(prefix="shaobing-export-"))
    suffix = {"json": "json", "sarif": "sarif", "csv": "csv", "xlsx": "xlsx"}[fmt]
    path = folder / f"findings-{target.code or target.id}.{suffix}"
    export_findings(path, ctx.db.scalars(query.execution_options(yield_per=2000)), fmt)
    return FileResponse(
        path,
        filename=path.name,
        background=BackgroundTask(_remove, folder),
    )


def _remove(folder: Path) -> None:
    for child in folder.iterdir():
        child.unlink(missing_ok=True)
    folder.rmdir()


@router.get("/findings/{finding_id}", **action("findings.read"))
def show(ctx: Ctx, finding_id: int) -> dict[str, Any]:
    """One finding with its history."""
    finding = tenant_object(ctx, Finding, finding_id, "findings.read", "finding")
    data = service.finding_as_dict(finding)
    data["history"] = [
        service.event_as_dict(e) for e in service.history(ctx.db, finding_id=finding.id)
    ]
    return data


@router.post(
    "/findings/{finding_id}/transition", dependencies=CSRF, **action("findings.transition")
)
def transition(ctx: Ctx, finding_id: int, body: TransitionBody) -> dict[str, Any]:
    """Move one finding (误报、风险接受、忽略 …) through the state machine."""
    finding = tenant_object(ctx, Finding, finding_id, "findings.transition", "finding")
    service.move_finding(
        ctx.db,
        finding,
        _status(body.to),
        actor=ctx.actor,
        role=workflow_role(ctx.user.role),
        reason=body.reason,
        until=body.until,
    )
    return service.finding_as_dict(finding)


@router.post("/findings/bulk-transition", dependencies=CSRF, **action("findings.transition"))
def bulk_transition(ctx: Ctx, engagement: str, body: BulkTransitionBody) -> dict[str, Any]:
    """Move many findings of one engagement; every id is checked before anything moves."""
    target = engagement_for(ctx, engagement, "findings.transition")
    status = _status(body.to)
    findings = [service.get_finding(ctx.db, target, fid) for fid in dict.fromkeys(body.ids)]
    moved, refused = 0, []
    for finding in findings:
        if finding.status == status:
            continue
        try:
            with ctx.db.begin_nested():
                service.move_finding(
                    ctx.db,
                    finding,
                    status,
                    actor=ctx.actor,
                    role=workflow_role(ctx.user.role),
                    reason=body.reason,
                    until=body.until,
                )
            moved += 1
        except ValidationError as exc:
            refused.append({"id": finding.id, "error": exc.message})
    return {"moved": moved, "refused": refused}
