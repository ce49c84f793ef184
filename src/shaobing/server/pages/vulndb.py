"""漏洞库 page: search the offline vulnerability database, import a feed file, check a template."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response

from shaobing.core.errors import ShaobingError
from shaobing.core.i18n import t
from shaobing.server.api.catalog import MAX_HITS, vulndb_search
from shaobing.server.api.vulndb import receive_feed, receive_template
from shaobing.server.context import RequestContext
from shaobing.server.pages.page_forms import CSRF_PAGE, PageCtx, refused, see_other
from shaobing.server.pages.render import render
from shaobing.vulndb.models import VulndbImport
from shaobing.vulndb.service import status
from shaobing.vulndb.sources import FeedKind

router = APIRouter()


def import_notice(ctx: RequestContext, import_id: int | None) -> str | None:
    """The confirmation of an import, read from the import history (never from the URL)."""
    row = ctx.db.get(VulndbImport, import_id) if import_id else None
    if row is None:
        return None
    return t(
        "server_config.vulndb.imported",
        id=row.id,
        file=row.source_name.removeprefix("web:"),
        kind=row.kind,
        records=row.records,
        inserted=row.inserted,
        updated=row.updated,
        unchanged=row.unchanged,
        at=row.imported_at.isoformat(timespec="seconds"),
    )


def _page(
    ctx: RequestContext,
    request: Request,
    *,
    q: str = "",
    message: str | None = None,
    notice: str | None = None,
    checked: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    ctx.authorize("vulndb.read")
    results: list[dict[str, Any]] | None = None
    search_error = None
    if q.strip():
        try:
            results = vulndb_search(ctx, q, MAX_HITS)["items"]
        except ShaobingError as exc:
            search_error = exc.message
    return render(
        request,
        "vulndb.html",
        ctx,
        status=status_code,
        q=q,
        results=results,
        search_error=search_error,
        db_status=status(ctx.db),
        kinds=[k.value for k in FeedKind],
        can={"import": ctx.can("vulndb.import"), "validate": ctx.can("template.validate")},
        checked=checked,
        message=message,
        notice=notice,
    )


@router.get("/vulndb")
def vulndb_page(
    ctx: PageCtx,
    request: Request,
    q: Annotated[str, Query(max_length=200)] = "",
    imported: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Search form and results, database status, import and template check forms."""
    return _page(ctx, request, q=q, notice=import_notice(ctx, imported))


@router.post("/vulndb/import", dependencies=CSRF_PAGE)
async def import_form(
    ctx: PageCtx,
    request: Request,
    file: Annotated[UploadFile | None, File()] = None,
    kind: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Import the uploaded feed, then back to the page with the import's summary."""
    try:
        summary = await receive_feed(ctx, file, kind or None)
    except ShaobingError as exc:
        message, code = refused(ctx, exc)
        return _page(ctx, request, message=message, status_code=code)
    return see_other("/vulndb", imported=summary["import_id"])


@router.post("/vulndb/template-check", dependencies=CSRF_PAGE)
async def template_form(
    ctx: PageCtx, request: Request, file: Annotated[UploadFile | None, File()] = None
) -> Response:
    """Validate the uploaded template and show the verdict (nothing is stored)."""
    try:
        checked = await receive_template(ctx, file)
    except ShaobingError as exc:
        message, code = refused(ctx, exc)
        return _page(ctx, request, message=message, status_code=code)
    return _page(ctx, request, checked=checked)
