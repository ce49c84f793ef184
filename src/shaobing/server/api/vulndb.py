"""Vulnerability knowledge from the console: feed import (``vulndb import``) and template
validation (``template validate``).

Uploads are copied (bounded) into a private temporary folder under a cleaned name and handed
to the same functions the CLI calls: format detection and limits are the CLI's. The folder
is removed whatever happened; messages name the file as the user knows it, never the
temporary path.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from shaobing.core.errors import ShaobingError, ValidationError
from shaobing.core.i18n import t
from shaobing.server.api.common import CSRF, Ctx, action
from shaobing.server.api.imports import size_text, upload_name
from shaobing.server.bodylimit import MAX_BODY_BYTES
from shaobing.server.context import RequestContext
from shaobing.templates.safeyaml import MAX_FILE_BYTES as TEMPLATE_MAX_BYTES
from shaobing.templates.safeyaml import TemplateError, read_yaml_file
from shaobing.templates.validate import SUFFIXES, validate_file
from shaobing.vulndb.models import VulndbImport
from shaobing.vulndb.service import import_unit, plan_units
from shaobing.vulndb.sources import FeedKind, file_sha256

# Organisation-defined: a feed uploaded through the console decompresses to at most 2 GiB
# (a full NVD year is a few hundred MB); the CLI's 16 GiB ceiling is for local dumps.
WEB_FEED_LIMIT = 2 << 30

router = APIRouter(tags=["vulndb"])
log = logging.getLogger("shaobing.server.vulndb")

# A feed upload is bounded by the request body cap (compressed NVD yearly files fit).
MAX_FEED_UPLOAD = MAX_BODY_BYTES
_CHUNK = 1024 * 1024
# Parser failures other than our own errors are still the file's fault: a 400, never a 500.
_PARSE_ERRORS = (ValueError, LookupError, RecursionError, UnicodeError, EOFError, OSError)


def parse_kind(value: str | None) -> FeedKind | None:
    """The ``--kind`` of ``vulndb import`` (empty means detect), with the CLI's message."""
    if not value or not value.strip():
        return None
    try:
        return FeedKind(value.strip().lower())
    except ValueError:
        known = "、".join(k.value for k in FeedKind)
        raise ValidationError(t("vulndb.bad_kind", value=value, known=known)) from None


async def save_bounded(upload: UploadFile | None, folder: Path, limit: int) -> tuple[Path, str]:
    """Copy the upload into ``folder``; refuse (not truncate) a file over ``limit`` bytes."""
    if upload is None or not upload.filename:
        raise ValidationError(t("server_config.upload.no_file"))
    name = upload_name(upload.filename)
    target = folder / name
    copied = 0
    with target.open("wb") as out:
        while chunk := await upload.read(_CHUNK):
            copied += len(chunk)
            if copied > limit:
                raise ValidationError(
                    t("server_config.upload.too_large", file=name, limit=size_text(limit))
                )
            out.write(chunk)
    if copied == 0:
        raise ValidationError(t("server_config.upload.empty", file=name))
    return target, name


def _renamed(exc: ShaobingError, path: Path, name: str) -> ValidationError:
    """The same error naming the upload instead of the temporary path."""
    return ValidationError(exc.message.replace(str(path), name))


def _import_row(ctx: RequestContext, path: Path, kind: str, already: bool) -> VulndbImport | None:
    if already:
        query = select(VulndbImport).where(
            VulndbImport.kind == kind, VulndbImport.sha256 == file_sha256(path)
        )
    else:
        query = select(VulndbImport).where(VulndbImport.source_name == str(path)[-1000:])
    return ctx.db.scalar(query.order_by(VulndbImport.id.desc()).limit(1))


def import_feed(ctx: RequestContext, path: Path, name: str, kind: str | None) -> dict[str, Any]:
    """Import one saved feed file in the request's transaction; the CLI's summary."""
    try:
        units, _skipped = plan_units([path], parse_kind(kind))
        summary = import_unit(ctx.db, units[0], limit=WEB_FEED_LIMIT)
    except ShaobingError as exc:
        ctx.db.rollback()
        raise _renamed(exc, path, name) from None
    except _PARSE_ERRORS as exc:
        ctx.db.rollback()
        log.warning("vulndb import of %s refused: %s", name, type(exc).__name__)
        raise ValidationError(t("server_config.upload.unreadable", file=name)) from None
    row = _import_row(ctx, path, summary.kind, summary.already_imported)
    if row is not None and not summary.already_imported:
        # The import history names the file the user chose, not our temporary folder.
        row.source_name = f"web:{name}"
        ctx.db.flush()
    return summary.as_dict() | {"path": name, "import_id": row.id if row is not None else None}


async def receive_feed(
    ctx: RequestContext, upload: UploadFile | None, kind: str | None
) -> dict[str, Any]:
    """Authorise, save the upload and import it (the API and the page share this)."""
    ctx.authorize("vulndb.import")
    parse_kind(kind)  # a bad --kind is refused before the file is read
    with tempfile.TemporaryDirectory(prefix="shaobing-vulndb-") as tmp:
        path, name = await save_bounded(upload, Path(tmp), MAX_FEED_UPLOAD)
        # A large feed takes a while: keep the event loop free meanwhile.
        return await run_in_threadpool(import_feed, ctx, path, name, kind)


def check_template(path: Path, name: str) -> dict[str, Any]:
    """Validate one saved template; unreadable YAML (size, aliases, tags) is an error."""
    if path.suffix.lower() not in SUFFIXES:
        raise ValidationError(t("server_config.templates.bad_suffix", file=name))
    try:
        read_yaml_file(path)
    except TemplateError as exc:
        raise ValidationError(TemplateError(name, exc.detail).message) from None
    result = validate_file(path, path.parent)
    problems: list[str] = []
    if result.error:
        problems.append(result.error.replace(str(path), name))
    problems += [t("server_config.templates.unsupported", feature=f) for f in result.unsupported]
    if result.error:
        verdict = t("server_config.templates.fails")
    elif result.unsupported:
        verdict = t("server_config.templates.refused", features=", ".join(result.unsupported))
    else:
        verdict = t("server_config.templates.runnable")
    return {
        "file": name,
        "id": result.template.id if result.template else None,
        "loads": result.loads,
        "runnable": result.loads and not result.unsupported,
        "unsupported": result.unsupported,
        "verdict": verdict,
        "problems": problems,
    }


async def receive_template(ctx: RequestContext, upload: UploadFile | None) -> dict[str, Any]:
    """Authorise, save the upload and validate it."""
    ctx.authorize("template.validate")
    with tempfile.TemporaryDirectory(prefix="shaobing-template-") as tmp:
        path, name = await save_bounded(upload, Path(tmp), TEMPLATE_MAX_BYTES)
        return await run_in_threadpool(check_template, path, name)


@router.post("/vulndb/import", dependencies=CSRF, **action("vulndb.import"))
async def vulndb_import(
    ctx: Ctx,
    file: Annotated[UploadFile, File()],
    kind: Annotated[str | None, Form(max_length=16)] = None,
) -> dict[str, Any]:
    """Import one feed file (NVD, CVE 5, KEV, EPSS, CNVD/CNNVD mapping; kind detected)."""
    return await receive_feed(ctx, file, kind)


@router.post("/templates/validate", dependencies=CSRF, **action("template.validate"))
async def template_validate(ctx: Ctx, file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    """Check one Nuclei-format template: whether it loads, runs, and its problems."""
    return await receive_template(ctx, file)
