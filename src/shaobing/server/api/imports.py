"""``POST /api/v1/findings/import``: upload a scanner output file into an engagement.

The same path as ``shaobing findings import``: the upload is copied (bounded) into a private
temporary folder under a cleaned name, handed to :func:`shaobing.findings.service.import_file`
(format detection, the importers' own size and structure limits, defusedxml), and removed
afterwards whatever happened. A refused file leaves nothing in the database.
"""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool

from shaobing.core.errors import ShaobingError, ValidationError
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings
from shaobing.engagements.models import Engagement
from shaobing.findings import service
from shaobing.findings.importers import _json, _web, _xml
from shaobing.findings.importers.base import ImportFormatError
from shaobing.findings.importers.registry import get_importer
from shaobing.findings.ingest import IngestOptions
from shaobing.server.access import engagement_for
from shaobing.server.api.common import CSRF, Ctx, action
from shaobing.server.bodylimit import MAX_BODY_BYTES
from shaobing.server.context import RequestContext

router = APIRouter(tags=["findings"])
log = logging.getLogger("shaobing.server.imports")

# The request body cap bounds every upload; the importers' own file limits are larger today,
# but if one is ever lowered the upload is refused before anything is parsed.
MAX_UPLOAD_BYTES = min(
    MAX_BODY_BYTES, _json.MAX_FILE_BYTES, _xml.MAX_FILE_BYTES, _web.JSON_MAX_BYTES
)
GROUPINGS = ("finding", "host")
_CHUNK = 1024 * 1024
_SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff]+")
# Parser failures other than the importers' own ImportFormatError (a hostile file reaching a
# corner the importer did not anticipate) are still the file's fault: a 400, never a 500.
_PARSE_ERRORS = (ValueError, LookupError, RecursionError, UnicodeError, EOFError, SyntaxError)


@dataclass(frozen=True)
class ImportRequest:
    """What the form asked for, checked before the file is read."""

    fmt: str | None
    grouping: str
    close_absent: bool


def upload_name(name: str | None) -> str:
    """The uploaded file's name without folders or unusual characters (history, messages)."""
    base = Path((name or "").replace("\\", "/")).name
    cleaned = _SAFE_NAME.sub("_", base).strip("._") or "upload"
    return cleaned[-120:]


def check_request(fmt: str | None, grouping: str | None, no_close: bool) -> ImportRequest:
    """The CLI's checks of ``--format`` and ``--grouping`` (settings give the default)."""
    chosen_fmt = (fmt or "").strip().lower() or None
    if chosen_fmt is not None:
        get_importer(chosen_fmt)
    chosen = (grouping or "").strip() or get_settings().workorder_grouping
    if chosen not in GROUPINGS:
        raise ValidationError(t("cli.bad_grouping", value=chosen))
    return ImportRequest(chosen_fmt, chosen, not no_close)


def size_text(size: int) -> str:
    """A byte count as people write it (``64 MiB``, ``256 KiB``)."""
    if size >= 1 << 20 and size % (1 << 20) == 0:
        return f"{size >> 20} MiB"
    return f"{size >> 10} KiB" if size >= 1 << 10 else f"{size} B"


async def save_upload(upload: UploadFile, folder: Path, name: str) -> Path:
    """Copy the upload into ``folder``; refuse (not truncate) a file over the limit."""
    target = folder / name
    copied = 0
    with target.open("wb") as out:
        while chunk := await upload.read(_CHUNK):
            copied += len(chunk)
            if copied > MAX_UPLOAD_BYTES:
                raise ValidationError(
                    t("server_more.import.too_large", file=name, limit=size_text(MAX_UPLOAD_BYTES))
                )
            out.write(chunk)
    if copied == 0:
        raise ValidationError(t("server_more.import.empty", file=name))
    return target


def _run_import(
    ctx: RequestContext, engagement: Engagement, path: Path, name: str, request: ImportRequest
) -> dict[str, Any]:
    settings = get_settings()
    options = IngestOptions(
        actor=ctx.actor,
        grouping=request.grouping,
        dedup_scope=settings.dedup_scope,
        close_absent=request.close_absent,
    )
    try:
        summary = service.import_file(ctx.db, engagement, path, fmt=request.fmt, options=options)
    except ImportFormatError as exc:
        ctx.db.rollback()
        # The importers name the temporary path; the user knows the file by its own name.
        problem = exc.problem
        if problem == t("findings.problem.unknown_format"):
            problem = t("server_more.import.unknown_format")
        raise ImportFormatError(name, problem) from None
    except ShaobingError:
        ctx.db.rollback()
        raise
    except _PARSE_ERRORS as exc:
        ctx.db.rollback()
        log.warning("import of %s refused: %s", name, type(exc).__name__)
        raise ImportFormatError(name, t("server_more.import.unreadable")) from None
    return summary.as_dict()


def import_upload(
    ctx: RequestContext, engagement: Engagement, path: Path, name: str, request: ImportRequest
) -> dict[str, Any]:
    """Import a saved upload; the summary as ``findings import --json`` gives it."""
    data = _run_import(ctx, engagement, path, name, request)
    return {
        "file": name,
        "engagement": {"id": engagement.id, "code": engagement.code, "name": engagement.name},
    } | data


async def receive_import(
    ctx: RequestContext,
    engagement_ref: str,
    upload: UploadFile | None,
    *,
    fmt: str | None,
    grouping: str | None,
    no_close: bool,
) -> dict[str, Any]:
    """Authorise, check the options, save the upload and import it (API and page share it)."""
    target = engagement_for(ctx, engagement_ref, "findings.import")
    request = check_request(fmt, grouping, no_close)
    if upload is None or not upload.filename:
        raise ValidationError(t("server_more.import.no_file"))
    name = upload_name(upload.filename)
    with tempfile.TemporaryDirectory(prefix="shaobing-import-") as tmp:
        path = await save_upload(upload, Path(tmp), name)
        # Parsing a large file takes a while: keep the event loop free meanwhile.
        return await run_in_threadpool(import_upload, ctx, target, path, name, request)


@router.post("/findings/import", dependencies=CSRF, **action("findings.import"))
async def import_findings(
    ctx: Ctx,
    file: Annotated[UploadFile, File()],
    engagement: Annotated[str, Form(min_length=1, max_length=64)],
    format: Annotated[str | None, Form(max_length=32)] = None,
    grouping: Annotated[str | None, Form(max_length=16)] = None,
    no_close: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    """Import a scanner output file (format detected unless given); the import summary."""
    return await receive_import(
        ctx, engagement, file, fmt=format, grouping=grouping, no_close=no_close
    )
