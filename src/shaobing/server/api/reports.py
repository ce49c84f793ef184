"""``/api/v1/reports``: build a report (recorded), list the builds, download a file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from shaobing.core.errors import NotFoundError
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings
from shaobing.engagements.models import Engagement
from shaobing.reports import config
from shaobing.reports.models import ReportBuild
from shaobing.server.access import engagement_for, tenant_object
from shaobing.server.api.common import CSRF, Ctx, action
from shaobing.server.context import RequestContext

router = APIRouter(tags=["reports"])

MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
}


class BuildBody(BaseModel):
    """A report to build: type, engagement, format and the period it covers."""

    engagement: str = Field(min_length=1, max_length=64)
    type: str = Field(min_length=1, max_length=32)
    format: str = Field(default="docx", min_length=2, max_length=8)
    period: str | None = Field(default=None, max_length=32)
    deliverable: str | None = Field(default=None, max_length=16)


def build_view(build: ReportBuild) -> dict[str, Any]:
    """A build's row: number, type, period, format, checksum and its download address."""
    kinds = config.report_types().types
    kind = kinds.get(build.report_type)
    return {
        "id": build.id,
        "engagement_id": build.engagement_id,
        "type": build.report_type,
        "title": kind.title if kind else build.report_type,
        "period": build.period,
        "report_no": build.report_no,
        "format": build.format,
        "sha256": build.sha256,
        "size": build.size,
        "deliverable_id": build.deliverable_id,
        "built_by": build.built_by,
        "built_at": build.built_at.isoformat(timespec="seconds"),
        "download": f"/api/v1/reports/{build.id}/download",
    }


def list_builds(ctx: RequestContext, engagement: Engagement | None) -> list[ReportBuild]:
    """Builds of one engagement or of every visible one, newest first."""
    query = select(ReportBuild).order_by(ReportBuild.id.desc()).limit(500)
    if engagement is not None:
        query = query.where(ReportBuild.engagement_id == engagement.id)
    elif ctx.tenant is not None:
        query = query.where(ReportBuild.client_id == ctx.tenant)
    return list(ctx.db.scalars(query))


def _output_path(engagement: Engagement, kind: str, fmt: str, period: str | None) -> Path:
    folder = get_settings().home / "reports" / "builds" / str(engagement.id)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    label = "".join(c for c in (period or "all") if c.isalnum() or c == "-")[:20] or "all"
    return folder / f"{kind}-{label}-{stamp}.{fmt}"


def build(ctx: RequestContext, body: BuildBody) -> ReportBuild:
    """Build the report synchronously through the report service and record the build."""
    from shaobing.reports.service import build_report  # noqa: PLC0415 - heavy imports

    target = engagement_for(ctx, body.engagement, "report.build")
    config.report_type(body.type)
    fmt = body.format.lower()
    result = build_report(
        ctx.db,
        target,
        body.type,
        fmt=fmt,
        out=_output_path(target, body.type, fmt, body.period),
        actor=ctx.actor,
        period=body.period or None,
        deliverable=body.deliverable or None,
    )
    found = ctx.db.get(ReportBuild, result.build_id)
    assert found is not None
    return found


def content_disposition(filename: str) -> str:
    """An attachment header whose file name survives Chinese characters (RFC 6266/5987)."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get("/reports", **action("report.read"))
def builds(
    ctx: Ctx, engagement: Annotated[str | None, Query(max_length=64)] = None
) -> dict[str, Any]:
    """Built reports, newest first."""
    target = engagement_for(ctx, engagement, "report.read") if engagement else None
    if target is None:
        ctx.authorize("report.read", client_id=ctx.tenant)
    return {"items": [build_view(b) for b in list_builds(ctx, target)]}


@router.post("/reports", status_code=201, dependencies=CSRF, **action("report.build"))
def create(ctx: Ctx, body: BuildBody) -> dict[str, Any]:
    """Build report TYPE of the engagement in FORMAT (a few seconds) and record it."""
    return build_view(build(ctx, body))


@router.get("/reports/{build_id}/download", **action("report.download"))
def download(ctx: Ctx, build_id: int) -> FileResponse:
    """The built file, named after the report's title and number."""
    found = tenant_object(ctx, ReportBuild, build_id, "report.download", "report")
    path = Path(found.path)
    view = build_view(found)
    name = f"{view['title']}-{found.report_no}.{found.format}"
    if not path.is_file():
        raise NotFoundError(t("server_work.report.file_missing", name=name))
    return FileResponse(
        path,
        media_type=MEDIA_TYPES.get(found.format, "application/octet-stream"),
        headers={"Content-Disposition": content_disposition(name)},
    )
