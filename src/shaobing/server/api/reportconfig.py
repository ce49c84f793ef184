"""Report configuration and the deliverables index: ``report branding``, ``report template``
and ``deliverables index`` from the console.

Branding and templates are the platform's configuration (report.configure, no client); the
index is one engagement's (deliverables.read, tenant rule applied).
"""

from __future__ import annotations

import tempfile
from datetime import date
from importlib import resources
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from shaobing.engagements import deliverables as svc
from shaobing.reports import config
from shaobing.server.access import engagement_for
from shaobing.server.api.common import Ctx, action
from shaobing.server.api.reports import MEDIA_TYPES, content_disposition
from shaobing.server.context import RequestContext

router = APIRouter(tags=["reports"])


def branding_view() -> dict[str, Any]:
    """The branding reports are built with (the organisation's file, else the packaged one)."""
    own = (config.reports_home() / "branding.yaml").is_file()
    branding = config.load_branding()
    data = branding.model_dump(mode="json")
    # The logo's folder is the server's business; its file name is enough to recognise it.
    data["logo"] = branding.logo.name if branding.logo is not None else None
    return {"source": "organisation" if own else "packaged", "branding": data}


def default_template(report_type: str) -> str:
    """The built-in template text of a report type (what ``report template`` writes)."""
    config.report_type(report_type)  # unknown types: not found, naming the known ones
    return (
        resources.files("shaobing.reports")
        .joinpath("templates", f"{report_type}.md.j2")
        .read_text("utf-8")
    )


def index_file(ctx: RequestContext, engagement_ref: str, fmt: str) -> tuple[bytes, str]:
    """The engagement's deliverables index as ``fmt`` (``deliverables index``) and its name."""
    target = engagement_for(ctx, engagement_ref, "deliverables.read")
    chosen = fmt.strip().lower()
    with tempfile.TemporaryDirectory(prefix="shaobing-index-") as tmp:
        path = svc.export_index(
            ctx.db, target, fmt=chosen, out=FsPath(tmp) / f"index.{chosen}", today=date.today()
        )
        content = path.read_bytes()
    return content, f"{target.code}-交付物清单.{chosen}"


@router.get("/reports/branding", **action("report.configure"))
def branding(ctx: Ctx) -> dict[str, Any]:
    """The effective report branding and where it comes from."""
    ctx.authorize("report.configure")
    return branding_view()


@router.get("/reports/templates/{report_type}", **action("report.configure"))
def template(ctx: Ctx, report_type: Annotated[str, Path(min_length=1, max_length=32)]) -> Response:
    """Download the built-in template of a report type for editing."""
    ctx.authorize("report.configure")
    text = default_template(report_type)
    return Response(
        text.encode("utf-8"),
        media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": content_disposition(f"{report_type}.md.j2")},
    )


@router.get("/deliverables/index", **action("deliverables.read"))
def deliverables_index(
    ctx: Ctx,
    engagement: Annotated[str, Query(min_length=1, max_length=64)],
    format: Annotated[str, Query(min_length=1, max_length=8)] = "xlsx",
) -> Response:
    """Download the engagement's index of deliverables (xlsx or docx)."""
    content, name = index_file(ctx, engagement, format)
    return Response(
        content,
        media_type=MEDIA_TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream"),
        headers={"Content-Disposition": content_disposition(name)},
    )
