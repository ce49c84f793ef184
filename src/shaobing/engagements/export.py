"""Full export of an engagement for its client (J3), made before a purge.

A zip archive with one JSON Lines file per engagement-owned table (``tables/<name>.jsonl``,
rows ordered by primary key, timestamps in ISO 8601), the audit events that name the
engagement, the engagement's files under ``files/`` and a ``manifest.json`` with the counts
and the SHA-256 of every member. The tables are the ones :mod:`shaobing.engagements.purge`
would delete, so export and purge can never disagree about what the engagement owns.
The archive is written to a temporary file next to the target and linked into place, so
a reader never sees half an archive and an existing file is never overwritten.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, Table, select
from sqlalchemy.orm import Session

from shaobing import __version__
from shaobing.core.audit import record_event_now
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.core.schema import load_all_models
from shaobing.engagements.purge import (
    OWNER_COLUMN,
    Ownership,
    collect_files,
    describe,
    file_sha256,
    ownership,
    resolve,
)

MANIFEST = "manifest.json"
AUDIT_MEMBER = "tables/audit_events.jsonl"
_BLOCK = 1 << 20
# Rows fetched per round trip while streaming a table into the archive.
_BATCH = 1000


def _jsonable(value: object) -> object:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def row_line(row: dict[str, Any]) -> str:
    """One table row as a JSON Lines record (keys in column order)."""
    return json.dumps(row, ensure_ascii=False, default=_jsonable) + "\n"


class _HashingWriter:
    """Counts and hashes what is written to an archive member."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.digest.update(data)
        self.target.write(data)


def _rows(session: Session, table: Table, where: Any) -> Iterator[dict[str, Any]]:
    order = list(table.primary_key.columns) or list(table.c)
    result = session.execute(
        select(table).where(where).order_by(*order).execution_options(yield_per=_BATCH)
    )
    for row in result.mappings():
        yield dict(row)


@dataclass
class ExportResult:
    """The archive written and its manifest."""

    path: Path
    sha256: str
    manifest: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """``engagement export --json``."""
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "counts": self.manifest["counts"],
            "files": len(self.manifest["files"]),
            "members": len(self.manifest["members"]),
        }


def _check_target(out: Path) -> Path:
    target = Path(os.path.abspath(out))
    if os.path.lexists(target):
        raise ValidationError(t("purge.export_exists", path=target))
    if not target.parent.is_dir():
        raise ValidationError(t("purge.export_no_folder", path=target.parent))
    return target


def _member(name: str) -> zipfile.ZipInfo:
    # Streamed members get no date by default (1980-01-01); stamp them with the export time.
    info = zipfile.ZipInfo(name, date_time=datetime.now().timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _write_table(
    archive: zipfile.ZipFile, name: str, rows: Iterator[dict[str, Any]]
) -> tuple[int, str]:
    count = 0
    with archive.open(_member(name), "w", force_zip64=True) as member:
        writer = _HashingWriter(member)
        for row in rows:
            writer.write(row_line(row).encode("utf-8"))
            count += 1
    return count, writer.digest.hexdigest()


def _write_file(archive: zipfile.ZipFile, name: str, source: Path) -> str:
    with archive.open(_member(name), "w", force_zip64=True) as member, source.open("rb") as fh:
        writer = _HashingWriter(member)
        while block := fh.read(_BLOCK):
            writer.write(block)
    return writer.digest.hexdigest()


def _fill(
    archive: zipfile.ZipFile, session: Session, owner: Ownership, ref: str, client: str | None
) -> dict[str, Any]:
    engagement = resolve(session, ref, client)
    eng, cli = describe(engagement, engagement.client)
    counts: dict[str, int] = {}
    members: dict[str, str] = {}
    # Parents first, so a reader loading the files in manifest order meets keys before uses.
    for table in reversed(owner.tables):
        name = f"tables/{table.name}.jsonl"
        rows = _rows(session, table, owner.condition(table, engagement.id))
        counts[table.name], members[name] = _write_table(archive, name, rows)
    audit = owner.metadata.tables["audit_events"]
    audit_rows = _rows(session, audit, audit.c[OWNER_COLUMN] == engagement.id)
    audit_count, members[AUDIT_MEMBER] = _write_table(archive, AUDIT_MEMBER, audit_rows)
    files = collect_files(session, engagement)
    listed = []
    for item in files.files:
        if item.sha256 is None:
            continue  # a symbolic link: its target is not the engagement's to hand over
        digest = _write_file(archive, item.archive_name, item.path)
        if digest != item.sha256:
            raise ValidationError(t("purge.export_file_changed", path=item.path))
        members[item.archive_name] = digest
        listed.append(item.as_json() | {"member": item.archive_name})
    return {
        "format": "shaobing-engagement-export",
        "format_version": 1,
        "engagement": eng,
        "client": cli,
        "counts": counts,
        "audit_events": audit_count,
        "files": listed,
        "files_missing": [{"path": p, "category": c} for p, c in files.missing],
        "members": members,
        "not_included": {"assets": t("purge.assets_note")},
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "platform": {"name": "shaobing", "version": __version__},
    }


def _link_into_place(tmp: Path, target: Path) -> None:
    try:
        os.link(tmp, target)  # fails instead of replacing a file that appeared meanwhile
    except FileExistsError:
        raise ValidationError(t("purge.export_exists", path=target)) from None
    except OSError:
        # No hard links on this file system: check, then rename (a narrow window only).
        if os.path.lexists(target):
            raise ValidationError(t("purge.export_exists", path=target)) from None
        os.replace(tmp, target)


def export_engagement(
    engine: Engine, ref: str, out: Path, *, client: str | None = None, actor: str = "system"
) -> ExportResult:
    """Write the engagement's archive to ``out`` (refused if it exists) and audit it."""
    target = _check_target(out)
    owner = ownership(load_all_models())
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".export-", suffix=".zip.tmp")
    tmp = Path(tmp_name)
    try:
        # One snapshot for every table: REPEATABLE READ on PostgreSQL (SQLite's read
        # transaction is a snapshot already).
        bind = engine
        if engine.dialect.name == "postgresql":
            bind = engine.execution_options(isolation_level="REPEATABLE READ")
        with (
            os.fdopen(fd, "wb") as raw,
            zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as archive,
            Session(bind.execution_options(sqlite_begin="DEFERRED")) as session,
            session.begin(),
        ):
            manifest = _fill(archive, session, owner, ref, client)
            archive.writestr(
                MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True)
            )
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        digest = file_sha256(tmp)
        _link_into_place(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    record_event_now(
        engine,
        "engagement.export",
        actor=actor,
        client_id=manifest["client"]["id"],
        engagement_id=manifest["engagement"]["id"],
        target=str(target),
        detail={"sha256": digest, "counts": manifest["counts"], "files": len(manifest["files"])},
    )
    return ExportResult(target, digest, manifest)


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of an archive (tests, and whoever checks an archive by hand)."""
    with zipfile.ZipFile(path) as archive:
        data: dict[str, Any] = json.loads(archive.read(MANIFEST))
    return data
