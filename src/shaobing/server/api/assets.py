"""``/api/v1/assets``: the client's asset ledger — list, show, import (upload), export."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from shaobing.assets import ledger_io
from shaobing.assets import service as assets
from shaobing.assets.kinds import AssetType, parse_asset_type
from shaobing.assets.models import Asset
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings
from shaobing.engagements.models import Client
from shaobing.server.access import client_for, tenant_object
from shaobing.server.api.common import CSRF, Ctx, action
from shaobing.server.context import RequestContext

router = APIRouter(tags=["assets"])

LEDGER_FORMATS = ("csv", "xlsx")
# Copying an upload stops one byte past the ledger reader's own limit: the reader then
# refuses the file with its usual message, and the disk never holds more than that.
_COPY_LIMIT = ledger_io.MAX_FILE_BYTES + 1
_CHUNK = 1024 * 1024
_SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff]+")


def ledger_client(ctx: RequestContext, client: int | None, action_name: str) -> Client:
    """The client whose ledger is meant: a client user's own, else the one named."""
    if client is None:
        if ctx.tenant is None:
            raise ValidationError(t("server_pages.assets.need_client"))
        client = ctx.tenant
    return client_for(ctx, client, action_name)


def _asset_type(kind: str | None) -> AssetType | None:
    if not kind:
        return None
    parsed = parse_asset_type(kind)
    if parsed is None:
        raise ValidationError(t("cli.bad_asset_type", value=kind))
    return parsed


def _matches(row: dict[str, Any], needle: str) -> bool:
    fields = [row["name"], row["hostname"], row["url"], row["system"], row["owner"], row["zone"]]
    haystack = " ".join(str(f) for f in [*fields, *row["addresses"]] if f)
    return needle in haystack.lower()


def ledger_rows(
    ctx: RequestContext, owner: Client, q: str | None, kind: str | None
) -> list[dict[str, Any]]:
    """The client's assets as dicts, filtered by type and a free-text search."""
    systems = assets.system_names(ctx.db, owner)
    rows = [
        assets.asset_as_dict(a, systems)
        for a in assets.list_assets(ctx.db, owner, asset_type=_asset_type(kind))
    ]
    needle = (q or "").strip().lower()
    return [r for r in rows if _matches(r, needle)] if needle else rows


def asset_detail(ctx: RequestContext, asset: Asset) -> dict[str, Any]:
    """One asset with its services and change history (the API answer and the page's data)."""
    owner = ctx.db.get_one(Client, asset.client_id)
    data = assets.asset_as_dict(asset, assets.system_names(ctx.db, owner))
    data["client"] = {"id": owner.id, "name": owner.name}
    data["services"] = [
        {
            "port": svc.port,
            "protocol": svc.protocol,
            "state": svc.state,
            "service": svc.service,
            "product": svc.product,
            "version": svc.version,
            "cpe": list(svc.cpe or []),
            "source": svc.source,
            "first_seen": svc.first_seen.isoformat(),
            "last_seen": svc.last_seen.isoformat(),
        }
        for svc in assets.asset_services(ctx.db, owner, asset.id)
    ]
    data["history"] = [
        {
            "at": c.changed_at.isoformat(),
            "actor": c.actor,
            "source": c.source,
            "kind": c.kind,
            "changes": c.changes,
        }
        for c in assets.asset_history(ctx.db, owner, asset.id)
    ]
    return data


def upload_name(name: str | None) -> str:
    """A safe display name for an uploaded file (history and messages only)."""
    base = Path(name or "ledger").name
    cleaned = _SAFE_NAME.sub("_", base).strip("._") or "ledger"
    return cleaned[-120:]


async def save_upload(upload: UploadFile, folder: Path) -> Path:
    """Copy an uploaded ledger into ``folder`` (bounded), under a cleaned name: messages
    about the file name it as the user knows it."""
    target = folder / upload_name(upload.filename)
    copied = 0
    with target.open("wb") as out:
        while copied < _COPY_LIMIT:
            chunk = await upload.read(min(_CHUNK, _COPY_LIMIT - copied))
            if not chunk:
                break
            out.write(chunk)
            copied += len(chunk)
    return target


def import_ledger(
    ctx: RequestContext,
    owner: Client,
    path: Path,
    *,
    source_name: str,
    fmt: str | None = None,
    skip_bad: bool = False,
) -> assets.ImportSummary:
    """``asset import``: read with the ledger reader's limits, then merge with history.

    Refusals roll the request's transaction back, so nothing of a refused file stays.
    """
    if fmt is not None and fmt.lower() not in LEDGER_FORMATS:
        raise ValidationError(t("cli.bad_ledger_format", value=fmt))
    settings = get_settings()
    try:
        rows, errors = ledger_io.read_ledger(path, fmt=fmt.lower() if fmt else None)
        return assets.import_rows(
            ctx.db,
            owner,
            rows,
            errors,
            source_name=source_name,
            actor=ctx.actor,
            skip_bad=skip_bad,
            method=settings.valuation_method,
            weights=settings.valuation_weights,
        )
    except ValidationError:
        ctx.db.rollback()
        raise


def _remove_tree(folder: Path) -> None:
    for child in folder.iterdir():
        child.unlink(missing_ok=True)
    folder.rmdir()


@router.get("/assets", **action("asset.read"))
def list_assets(
    ctx: Ctx,
    client: int | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    type: Annotated[str | None, Query(max_length=50)] = None,
) -> dict[str, Any]:
    """The client's asset ledger by name (a client user: its own client)."""
    owner = ledger_client(ctx, client, "asset.read")
    items = ledger_rows(ctx, owner, q, type)
    return {"client": {"id": owner.id, "name": owner.name}, "total": len(items), "items": items}


@router.get("/assets/export", **action("asset.export"))
def export_assets(
    ctx: Ctx,
    client: int | None = None,
    format: Annotated[str, Query(max_length=10)] = "xlsx",
) -> FileResponse:
    """The client's ledger as CSV (UTF-8 with BOM) or XLSX, as ``asset export`` writes it."""
    fmt = format.lower()
    if fmt not in LEDGER_FORMATS:
        raise ValidationError(t("cli.bad_ledger_format", value=format))
    owner = ledger_client(ctx, client, "asset.export")
    systems = assets.system_names(ctx.db, owner)
    rows = [assets.asset_to_row(a, systems) for a in assets.list_assets(ctx.db, owner)]
    folder = Path(tempfile.mkdtemp(prefix="shaobing-ledger-"))
    path = folder / f"assets-{owner.code or owner.id}.{fmt}"
    ledger_io.write_ledger(path, rows, fmt=fmt)
    return FileResponse(path, filename=path.name, background=BackgroundTask(_remove_tree, folder))


@router.post("/assets/import", dependencies=CSRF, **action("asset.import"))
async def import_assets(
    ctx: Ctx,
    file: Annotated[UploadFile, File()],
    client: Annotated[int | None, Form()] = None,
    format: Annotated[str | None, Form(max_length=10)] = None,
    skip_bad: Annotated[bool, Form()] = False,
) -> Any:
    """Merge an uploaded ledger (CSV/XLSX); by default any bad row refuses the whole file."""
    owner = ledger_client(ctx, client, "asset.import")
    name = upload_name(file.filename)
    with tempfile.TemporaryDirectory(prefix="shaobing-upload-") as tmp:
        path = await save_upload(file, Path(tmp))
        try:
            # Parsing a large workbook takes a while: keep the event loop free meanwhile.
            summary = await run_in_threadpool(
                import_ledger,
                ctx,
                owner,
                path,
                source_name=name,
                fmt=format or None,
                skip_bad=skip_bad,
            )
        except assets.LedgerImportRefused as refused:
            return JSONResponse(
                {"error": refused.message, "errors": [e.message() for e in refused.errors]},
                status_code=400,
            )
    return {"file": name, "client": {"id": owner.id, "name": owner.name}} | summary.as_dict()


@router.get("/assets/{asset_id}", **action("asset.read"))
def show_asset(ctx: Ctx, asset_id: int) -> dict[str, Any]:
    """One asset with its services (ports seen by scans) and change history."""
    asset = tenant_object(ctx, Asset, asset_id, "asset.read", "asset")
    return asset_detail(ctx, asset)
