"""Verifiable purge of an engagement's data (J3): plan, delete, verify, destruction record.

What an engagement owns is read from the schema, not listed by hand: every table with an
``engagement_id`` column, and every table whose rows die with an owned row (an
``ON DELETE CASCADE`` foreign key into an owned table), transitively. A table added later is
therefore covered without touching this module; a table that points at engagement data in
any other way (``SET NULL``, ``RESTRICT``) is neither owned nor silently ignored:
:func:`uncovered_tables` names it and the purge refuses until someone decides.

Files the engagement owns are found from the rows that record them (report builds,
deliverable files, hardening backups) and the engineer's notes folder of the engagement.
The destruction record is an audit event (the audit log has no foreign key to clients or
engagements, so it outlives the purge) and a JSON file under ``$SHAOBING_HOME/destruction``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Engine,
    ForeignKeyConstraint,
    MetaData,
    Table,
    and_,
    delete,
    exists,
    false,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from shaobing import __version__
from shaobing.core.audit import record_event
from shaobing.core.db import session_scope
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.core.schema import load_all_models
from shaobing.core.settings import get_settings
from shaobing.engagements.models import Client, Engagement
from shaobing.engagements.service import resolve_client, resolve_engagement

ROOT_TABLE = "engagements"
OWNER_COLUMN = "engagement_id"
# Tables that mention engagements but are deliberately kept: the hash-chained audit log
# (deleting from it would break verification, and it carries the destruction record).
KEPT_TABLES: frozenset[str] = frozenset({"audit_events", "audit_head"})
# Tables that point at engagement rows only through SET NULL and keep their rows when the
# engagement goes (the pointer is cleared by the database). None today; a table listed
# here must be one whose rows belong to someone else (the client, the platform).
DETACHED_TABLES: frozenset[str] = frozenset()
RECORD_HASH_ALG = "sha256"
# Files are hashed for the destruction record in blocks of this size.
_BLOCK = 1 << 20


# ---------------------------------------------------------------- ownership (schema walk)


def _cascades(fk: ForeignKeyConstraint) -> bool:
    return (fk.ondelete or "").strip().upper() == "CASCADE"


def _referred(fk: ForeignKeyConstraint) -> Table:
    return fk.referred_table


@dataclass(frozen=True)
class Ownership:
    """The engagement-owned tables of a schema and how to select one engagement's rows."""

    metadata: MetaData
    #: owned tables, children before parents (the order to delete in); the root is last
    tables: tuple[Table, ...]

    @property
    def names(self) -> list[str]:
        """Names of the owned tables in deletion order."""
        return [tbl.name for tbl in self.tables]

    def edges(self, table: Table) -> list[ForeignKeyConstraint]:
        """The cascading foreign keys of ``table`` into other owned tables."""
        owned = {tbl.name for tbl in self.tables}
        return [
            fk
            for fk in sorted(table.foreign_key_constraints, key=lambda c: str(c.name))
            if _cascades(fk) and _referred(fk).name in owned and _referred(fk) is not table
        ]

    def condition(self, table: Table, engagement_id: int) -> ColumnElement[bool]:
        """Rows of ``table`` that belong to the engagement (directly or through a parent)."""
        return self._condition(table, engagement_id, frozenset())

    def _condition(
        self, table: Table, engagement_id: int, visiting: frozenset[str]
    ) -> ColumnElement[bool]:
        if table.name == ROOT_TABLE:
            return table.c.id == engagement_id
        parts: list[ColumnElement[bool]] = []
        if OWNER_COLUMN in table.c:
            parts.append(table.c[OWNER_COLUMN] == engagement_id)
        inner = visiting | {table.name}
        for fk in self.edges(table):
            parent = _referred(fk)
            if parent.name in inner:
                continue  # a cycle of cascades: the rows are reached by another path
            local = [element.parent for element in fk.elements]
            remote = [element.column for element in fk.elements]
            if parent.name == ROOT_TABLE and len(local) == 1 and remote[0].name == "id":
                if local[0].name != OWNER_COLUMN:
                    parts.append(local[0] == engagement_id)
                continue
            keys = select(*remote).where(self._condition(parent, engagement_id, inner))
            target: Any = local[0] if len(local) == 1 else tuple_(*local)
            parts.append(target.in_(keys))
        return or_(*parts) if parts else false()

    def orphans(self, table: Table) -> ColumnElement[bool] | None:
        """Rows of ``table`` whose cascading parent no longer exists (None: no such edges).

        After the parents of an engagement are gone, any child row the purge missed would
        point at a missing parent: this catches what a recount through the parents cannot.
        """
        parts: list[ColumnElement[bool]] = []
        for fk in self.edges(table):
            parent = _referred(fk)
            local: list[Column[Any]] = [element.parent for element in fk.elements]
            match = and_(*(e.column == e.parent for e in fk.elements))
            parts.append(
                and_(
                    *(col.is_not(None) for col in local),
                    ~exists().where(match).select_from(parent).correlate(table),
                )
            )
        return or_(*parts) if parts else None


def ownership(metadata: MetaData | None = None) -> Ownership:
    """Walk the schema's foreign keys from ``engagements`` to every table it owns."""
    md = metadata if metadata is not None else load_all_models()
    owned: set[str] = {ROOT_TABLE}
    changed = True
    while changed:
        changed = False
        for table in md.tables.values():
            if table.name in owned or table.name in KEPT_TABLES:
                continue
            if OWNER_COLUMN in table.c or any(
                _cascades(fk) and _referred(fk).name in owned
                for fk in table.foreign_key_constraints
            ):
                owned.add(table.name)
                changed = True
    ordered = [tbl for tbl in md.sorted_tables if tbl.name in owned]
    return Ownership(md, tuple(reversed(ordered)))


def uncovered_tables(metadata: MetaData | None = None) -> list[str]:
    """Tables that refer to engagement data but are neither owned, kept nor detached.

    Such a table either would block the purge (RESTRICT) or keep a trace of the engagement
    that no one decided about; the purge refuses while this list is not empty.
    """
    md = metadata if metadata is not None else load_all_models()
    owned = set(ownership(md).names)
    handled = owned | KEPT_TABLES | DETACHED_TABLES
    out = []
    for table in md.tables.values():
        if table.name in handled:
            continue
        if OWNER_COLUMN in table.c or any(
            _referred(fk).name in owned for fk in table.foreign_key_constraints
        ):
            out.append(table.name)
    return sorted(out)


def count_owned(session: Session, owner: Ownership, engagement_id: int) -> dict[str, int]:
    """Rows per owned table that belong to the engagement, in deletion order."""
    return {
        tbl.name: int(
            session.scalar(
                select(func.count()).select_from(tbl).where(owner.condition(tbl, engagement_id))
            )
            or 0
        )
        for tbl in owner.tables
    }


def remaining_rows(session: Session, owner: Ownership, engagement_id: int) -> dict[str, int]:
    """After a purge: rows still selected for the engagement plus orphans left behind."""
    left = count_owned(session, owner, engagement_id)
    for tbl in owner.tables:
        orphan = owner.orphans(tbl)
        if orphan is not None:
            left[tbl.name] += int(
                session.scalar(select(func.count()).select_from(tbl).where(orphan)) or 0
            )
    return {name: n for name, n in left.items() if n}


# ---------------------------------------------------------------- files


@dataclass(frozen=True)
class OwnedFile:
    """A file of the engagement: where it is, what it is, its name in an export archive."""

    path: Path
    category: str
    archive_name: str
    size: int
    sha256: str | None  # None for a symbolic link (never followed)

    def as_json(self) -> dict[str, Any]:
        """Stable JSON form (export manifest, destruction record)."""
        return {
            "path": str(self.path),
            "category": self.category,
            "size": self.size,
            "sha256": self.sha256,
        }


@dataclass
class FileSet:
    """The engagement's files, the folders holding only its files, and what is left alone."""

    files: list[OwnedFile] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)
    #: recorded but not on disk (moved or deleted earlier): (path, category)
    missing: list[tuple[str, str]] = field(default_factory=list)
    #: recorded, but also used by another engagement or not a regular file: (path, reason)
    kept: list[tuple[str, str]] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Total bytes of the files."""
        return sum(f.size for f in self.files)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _owned_file(path: Path, category: str, archive_name: str) -> OwnedFile:
    info = path.lstat()
    if path.is_symlink():
        return OwnedFile(path, category, archive_name, 0, None)
    return OwnedFile(path, category, archive_name, info.st_size, file_sha256(path))


def _safe_part(text: str) -> str:
    # Archive member names: no separators or control characters from recorded file names.
    return re.sub(r"[^\w.\-]", "_", text).strip("._") or "file"


def _recorded_files(
    session: Session, engagement: Engagement, table: Table, column: str, category: str
) -> tuple[list[tuple[int, Path]], list[tuple[str, str]]]:
    """(row id, path) of files recorded in ``table.column``; paths other engagements share."""
    col = table.c[column]
    rows = session.execute(
        select(table.c.id, col)
        .where(table.c[OWNER_COLUMN] == engagement.id, col.is_not(None))
        .order_by(table.c.id)
    ).all()
    paths = {str(r[1]) for r in rows}
    shared = set()
    if paths:
        shared = set(
            session.scalars(
                select(col).where(col.in_(paths), table.c[OWNER_COLUMN] != engagement.id)
            )
        )
    found: list[tuple[int, Path]] = []
    kept: list[tuple[str, str]] = []
    for row_id, raw in rows:
        if raw in shared:
            kept.append(
                (str(raw), t("purge.kept_shared", category=t(f"purge.category.{category}")))
            )
        else:
            found.append((int(row_id), Path(str(raw))))
    return found, kept


def _tree(root: Path, category: str, prefix: str, out: FileSet) -> None:
    """Every file under ``root`` (links not followed); ``root`` itself is removed after."""
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(names + [d for d in dirs if Path(folder, d).is_symlink()]):
            path = Path(folder, name)
            rel = path.relative_to(root).as_posix()
            out.files.append(_owned_file(path, category, f"files/{prefix}/{rel}"))
    out.folders.append(root)


def _notes_key(engagement: Engagement) -> str:
    # Mirrors reports.builders.pentest.default_notes_dir (code, else id).
    return engagement.code or str(engagement.id)


def collect_files(session: Session, engagement: Engagement) -> FileSet:
    """The files the engagement owns on this machine (read-only: nothing is touched)."""
    md = load_all_models()
    out = FileSet()
    seen: set[Path] = set()
    sources = (("report_builds", "path", "report"), ("deliverables", "file_path", "deliverable"))
    for table_name, column, category in sources:
        found, kept = _recorded_files(session, engagement, md.tables[table_name], column, category)
        out.kept.extend(kept)
        for row_id, path in found:
            key = Path(os.path.abspath(path))
            if key in seen:
                continue
            seen.add(key)
            if not path.exists() and not path.is_symlink():
                out.missing.append((str(path), category))
            elif path.is_dir() and not path.is_symlink():
                # Never remove a folder because a row names it: only files are recorded.
                out.kept.append((str(path), t("purge.kept_not_file")))
            else:
                name = f"files/{category}s/{row_id}-{_safe_part(path.name)}"
                out.files.append(_owned_file(path, category, name))
    _hardening_backups(session, engagement, md.tables["hardening_runs"], out)
    _notes(session, engagement, out)
    _scan_logs(session, engagement, md.tables["scan_runs"], out)
    return out


def _scan_logs(session: Session, engagement: Engagement, table: Table, out: FileSet) -> None:
    """Output of scans the console ran in the background (``$SHAOBING_HOME/logs/scan-ID.log``,
    named by shaobing.server.scan_runner.log_path)."""
    folder = get_settings().home / "logs"
    ids = session.scalars(select(table.c.id).where(table.c[OWNER_COLUMN] == engagement.id))
    for scan_id in ids:
        path = folder / f"scan-{scan_id}.log"
        if path.is_file() and not path.is_symlink():
            out.files.append(_owned_file(path, "scan_log", f"files/scan_logs/{path.name}"))


def _hardening_backups(
    session: Session, engagement: Engagement, table: Table, out: FileSet
) -> None:
    root = get_settings().home / "baseline" / "backups"
    rows = session.execute(
        select(table.c.id, table.c.backup_dir)
        .where(table.c[OWNER_COLUMN] == engagement.id)
        .order_by(table.c.id)
    ).all()
    for run_id, recorded in rows:
        candidates = {root / str(run_id)}
        if recorded:
            # The platform names a run's backup folder by the run id; a recorded folder of
            # another shape is not ours to remove.
            path = Path(str(recorded))
            if path.name == str(run_id):
                candidates.add(path)
            else:
                out.kept.append((str(path), t("purge.kept_not_ours")))
        for folder in sorted(candidates):
            if folder.is_dir() and not folder.is_symlink() and folder not in out.folders:
                _tree(folder, "hardening_backup", f"hardening_backups/{run_id}", out)


def _notes(session: Session, engagement: Engagement, out: FileSet) -> None:
    key = _notes_key(engagement)
    folder = get_settings().home / "reports" / "notes" / key
    if not folder.is_dir() or folder.is_symlink():
        return
    others = session.scalar(
        select(func.count())
        .select_from(Engagement)
        .where(
            Engagement.id != engagement.id,
            or_(
                Engagement.code == key,
                and_(
                    Engagement.code.is_(None), Engagement.id == (int(key) if key.isdigit() else -1)
                ),
            ),
        )
    )
    if others:
        out.kept.append((str(folder), t("purge.kept_shared", category=t("purge.category.notes"))))
        return
    _tree(folder, "notes", "notes", out)


def delete_files(files: FileSet) -> list[str]:
    """Delete the files, then their folders; return what could not be deleted."""
    failed: list[str] = []
    for item in files.files:
        try:
            item.path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            failed.append(f"{item.path}: {exc.strerror or exc}")
    for folder in files.folders:
        try:
            shutil.rmtree(folder)
        except FileNotFoundError:
            pass
        except OSError as exc:
            failed.append(f"{folder}: {exc.strerror or exc}")
    return failed


def remaining_files(files: FileSet) -> list[str]:
    """Paths of the engagement's files and folders that still exist."""
    paths: Iterable[Path] = [f.path for f in files.files] + list(files.folders)
    return sorted({str(p) for p in paths if os.path.lexists(p)})


# ---------------------------------------------------------------- plan


@dataclass
class PurgePlan:
    """What purging an engagement deletes (rows per table, files) and what it leaves."""

    engagement: dict[str, Any]
    client: dict[str, Any]
    counts: dict[str, int]
    files: FileSet
    retained: dict[str, int]

    @property
    def rows(self) -> int:
        """Total rows to delete."""
        return sum(self.counts.values())

    def as_json(self) -> dict[str, Any]:
        """``engagement purge --json`` without ``--yes``."""
        return {
            "engagement": self.engagement,
            "client": self.client,
            "counts": self.counts,
            "rows": self.rows,
            "files": [f.as_json() for f in self.files.files],
            "files_bytes": self.files.size,
            "files_missing": [{"path": p, "category": c} for p, c in self.files.missing],
            "files_kept": [{"path": p, "reason": r} for p, r in self.files.kept],
            "retained": self.retained,
        }


def describe(engagement: Engagement, client: Client) -> tuple[dict[str, Any], dict[str, Any]]:
    """The identifying fields of an engagement and its client (kept in records)."""
    return (
        {"id": engagement.id, "name": engagement.name, "code": engagement.code},
        {"id": client.id, "name": client.name, "code": client.code},
    )


def _retained(session: Session, md: MetaData, engagement: Engagement) -> dict[str, int]:
    """What stays: the client's asset ledger and the audit events naming the engagement."""
    assets = md.tables["assets"]
    audit = md.tables["audit_events"]
    return {
        "assets": int(
            session.scalar(
                select(func.count())
                .select_from(assets)
                .where(assets.c.client_id == engagement.client_id)
            )
            or 0
        ),
        "audit_events": int(
            session.scalar(
                select(func.count())
                .select_from(audit)
                .where(audit.c[OWNER_COLUMN] == engagement.id)
            )
            or 0
        ),
    }


def plan_purge(session: Session, engagement: Engagement) -> PurgePlan:
    """Count what the purge would delete; refuses while a table is not covered."""
    md = load_all_models()
    loose = uncovered_tables(md)
    if loose:
        raise ValidationError(t("purge.uncovered", tables=", ".join(loose)))
    owner = ownership(md)
    eng, cli = describe(engagement, engagement.client)
    return PurgePlan(
        engagement=eng,
        client=cli,
        counts=count_owned(session, owner, engagement.id),
        files=collect_files(session, engagement),
        retained=_retained(session, md, engagement),
    )


def resolve(session: Session, ref: str, client_ref: str | None) -> Engagement:
    """The engagement named by ``ref`` (within ``client_ref`` when given)."""
    owner = resolve_client(session, client_ref) if client_ref else None
    return resolve_engagement(session, ref, owner)


def show_plan(engine: Engine, ref: str, client_ref: str | None) -> PurgePlan:
    """The plan only: nothing is deleted."""
    with session_scope(engine, readonly=True) as session:
        return plan_purge(session, resolve(session, ref, client_ref))


# ---------------------------------------------------------------- purge and record


def canonical_json(data: Mapping[str, Any]) -> str:
    """The canonical JSON the record hash is computed over (sorted keys, no spaces)."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a destruction record."""
    return hashlib.sha256(canonical_json(record).encode("utf-8")).hexdigest()


@dataclass
class PurgeResult:
    """Outcome of a purge: the record as written, its hash and where it is kept."""

    record: dict[str, Any]
    record_hash: str
    audit_seq: int
    record_file: Path | None
    file_problems: list[str]

    @property
    def ok(self) -> bool:
        """Whether verification found nothing left."""
        return bool(self.record["verification"]["ok"])

    def as_json(self) -> dict[str, Any]:
        """``engagement purge --yes --json``."""
        return {
            "record": self.record,
            "record_hash": self.record_hash,
            "record_hash_alg": RECORD_HASH_ALG,
            "audit_seq": self.audit_seq,
            "record_file": str(self.record_file) if self.record_file else None,
            "file_problems": self.file_problems,
        }


def _delete_rows(session: Session, owner: Ownership, engagement_id: int) -> dict[str, int]:
    deleted: dict[str, int] = {}
    for tbl in owner.tables:
        result = session.execute(delete(tbl).where(owner.condition(tbl, engagement_id)))
        deleted[tbl.name] = int(getattr(result, "rowcount", 0) or 0)
    return deleted


def purge(engine: Engine, ref: str, client_ref: str | None, *, actor: str) -> PurgeResult:
    """Delete the engagement's rows (one transaction) and files, verify, and record it.

    Rows left after the deletes roll the whole purge back before any file is touched.
    Files that cannot be deleted are named in the record (outcome ``failure``) and the
    caller reports them: the rows are gone by then, and the record must say so.
    """
    with session_scope(engine) as session:
        engagement = resolve(session, ref, client_ref)
        plan = plan_purge(session, engagement)
        owner = ownership()
        eid = engagement.id
        deleted = _delete_rows(session, owner, eid)
        left = remaining_rows(session, owner, eid)
        if left:
            name, count = next(iter(left.items()))
            raise ValidationError(t("purge.rows_left", table=name, count=count))
        problems = delete_files(plan.files)
        files_left = remaining_files(plan.files)
        record = {
            "type": "engagement-destruction",
            "engagement": plan.engagement,
            "client": plan.client,
            "counts": deleted,
            "rows": sum(deleted.values()),
            "files": [f.as_json() for f in plan.files.files],
            "files_bytes": plan.files.size,
            "files_missing": [{"path": p, "category": c} for p, c in plan.files.missing],
            "files_kept": [{"path": p, "reason": r} for p, r in plan.files.kept],
            "retained": plan.retained,
            "verification": {
                "ok": not files_left,
                "rows_remaining": left,
                "files_remaining": files_left,
            },
            "actor": actor,
            "purged_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "platform": {"name": "shaobing", "version": __version__},
            "database": engine.dialect.name,
        }
        digest = record_hash(record)
        event = record_event(
            session,
            "engagement.purge",
            actor=actor,
            outcome="success" if not files_left else "failure",
            client_id=plan.client["id"],
            engagement_id=eid,
            target=plan.engagement["name"],
            detail={"record": record, "record_hash": digest, "record_hash_alg": RECORD_HASH_ALG},
        )
        seq, chain_hash = event.seq, event.hash
    result = PurgeResult(record, digest, seq, None, problems)
    result.record_file = write_record_file(result, chain_hash)
    return result


def destruction_dir() -> Path:
    """Where destruction records are kept as files: ``$SHAOBING_HOME/destruction``."""
    return get_settings().home / "destruction"


def write_record_file(result: PurgeResult, chain_hash: str) -> Path:
    """Write the record atomically as ``<code or id>-<UTC timestamp>.json``."""
    eng = result.record["engagement"]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = destruction_dir()
    target = folder / f"{_safe_part(str(eng['code'] or eng['id']))}-{stamp}.json"
    body = {
        "record": result.record,
        "record_hash": result.record_hash,
        "record_hash_alg": RECORD_HASH_ALG,
        "audit_seq": result.audit_seq,
        "audit_hash": chain_hash,
    }
    tmp = ""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".record-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise ValidationError(
            t(
                "purge.record_write_failed",
                path=target,
                detail=exc.strerror or exc,
                seq=result.audit_seq,
            )
        ) from None
    return target
