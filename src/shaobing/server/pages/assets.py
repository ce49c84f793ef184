"""资产台账: the client's ledger with filters, upload import, export links, one asset."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from shaobing.assets import service as assets
from shaobing.assets.kinds import ASSET_TYPE_LABELS
from shaobing.assets.models import Asset
from shaobing.core.errors import ShaobingError
from shaobing.core.i18n import t
from shaobing.engagements.models import Client
from shaobing.server.access import tenant_object
from shaobing.server.api import assets as api
from shaobing.server.context import RequestContext
from shaobing.server.pages.page_forms import CSRF_PAGE, PageCtx, helpers, refused, see_other
from shaobing.server.pages.render import render

router = APIRouter()


def _clients(ctx: RequestContext) -> list[Client]:
    ctx.authorize("asset.read", client_id=ctx.tenant)
    query = select(Client).order_by(Client.name)
    if ctx.tenant is not None:
        query = query.where(Client.id == ctx.tenant)
    return list(ctx.db.scalars(query))


def _ledger_page(
    ctx: RequestContext,
    request: Request,
    client: int | None,
    q: str | None,
    kind: str | None,
    *,
    notice: str | None = None,
    error: str | None = None,
    row_errors: list[str] | None = None,
    status: int = 200,
) -> Response:
    choices = _clients(ctx)
    if client is None and ctx.tenant is None and choices:
        client = choices[0].id
    owner = api.ledger_client(ctx, client, "asset.read") if choices else None
    rows = api.ledger_rows(ctx, owner, q, kind) if owner else []
    return render(
        request,
        "assets.html",
        ctx,
        status=status,
        clients=choices,
        owner=owner,
        rows=rows,
        params={"q": q or "", "type": kind or ""},
        types=[(k.value, labels[0]) for k, labels in ASSET_TYPE_LABELS.items()],
        can_import=owner is not None and ctx.can("asset.import", client_id=owner.id),
        can_export=owner is not None and ctx.can("asset.export", client_id=owner.id),
        notice=notice,
        error=error,
        row_errors=row_errors or [],
        **helpers(),
    )


@router.get("/assets")
def ledger(
    ctx: PageCtx,
    request: Request,
    client: int | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    type: Annotated[str | None, Query(max_length=50)] = None,
    created: Annotated[int | None, Query(ge=0)] = None,
    updated: Annotated[int | None, Query(ge=0)] = None,
    unchanged: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """The ledger of one client (a client user: its own), by name."""
    notice = None
    if created is not None:
        notice = t(
            "server_pages.assets.imported",
            created=created,
            updated=updated or 0,
            unchanged=unchanged or 0,
        )
    return _ledger_page(ctx, request, client, q, type, notice=notice)


@router.post("/assets/import", dependencies=CSRF_PAGE)
async def ledger_import(
    ctx: PageCtx,
    request: Request,
    file: Annotated[UploadFile, File()],
    client: Annotated[int | None, Form()] = None,
    skip_bad: Annotated[bool, Form()] = False,
) -> Response:
    """Merge an uploaded ledger (the same reader, limits and checks as ``asset import``)."""
    try:
        owner = api.ledger_client(ctx, client, "asset.import")
        owner_id = owner.id
        with tempfile.TemporaryDirectory(prefix="shaobing-upload-") as tmp:
            path = await api.save_upload(file, Path(tmp))
            summary = await run_in_threadpool(
                api.import_ledger,
                ctx,
                owner,
                path,
                source_name=api.upload_name(file.filename),
                skip_bad=skip_bad,
            )
    except assets.LedgerImportRefused as exc:
        message, code = refused(ctx, exc)
        details = [e.message() for e in exc.errors]
        return await run_in_threadpool(
            _ledger_page,
            ctx,
            request,
            client,
            None,
            None,
            error=message,
            row_errors=details,
            status=code,
        )
    except ShaobingError as exc:
        message, code = refused(ctx, exc)
        return await run_in_threadpool(
            _ledger_page, ctx, request, client, None, None, error=message, status=code
        )
    return see_other(
        "/assets",
        client=owner_id,
        created=summary.created,
        updated=summary.updated,
        unchanged=summary.unchanged,
    )


@router.get("/assets/{asset_id}")
def asset_page(ctx: PageCtx, request: Request, asset_id: int) -> Response:
    """One asset: ledger fields, ports and services seen, change history."""
    asset = tenant_object(ctx, Asset, asset_id, "asset.read", "asset")
    return render(request, "assets_detail.html", ctx, a=api.asset_detail(ctx, asset), **helpers())
