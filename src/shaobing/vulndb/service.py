"""Importing feed files (one transaction per file) and the database status summary."""

from __future__ import annotations

import hashlib
import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from shaobing.core.db import session_scope
from shaobing.core.errors import NotFoundError, ValidationError
from shaobing.core.i18n import t
from shaobing.vulndb.cve5 import cve5_record
from shaobing.vulndb.enrich import read_epss, read_kev_csv, read_kev_json, read_mapping
from shaobing.vulndb.jsonstream import MAX_VALUE_CHARS, JsonStream
from shaobing.vulndb.models import CpeCriterionRecord, Cve, VulndbImport
from shaobing.vulndb.nvd import read_nvd
from shaobing.vulndb.sources import (
    MAX_FEED_BYTES,
    FeedKind,
    file_sha256,
    head_text,
    open_feed,
    sniff_kind,
)
from shaobing.vulndb.store import Counts, CveWriter, write_enrichment

# cvelistV5 names each record file after its CVE (cves/2024/1xxx/CVE-2024-1234.json).
_CVE5_NAME_RE = re.compile(r"CVE-\d{4}-\d{4,}\.json", re.IGNORECASE)
_FEED_SUFFIXES = (".json", ".json.gz", ".csv", ".csv.gz", ".gz")


@dataclass
class ImportUnit:
    """What one transaction imports: a feed file, or every CVE 5 record file of a folder."""

    kind: FeedKind
    path: Path
    files: list[Path] = field(default_factory=list)


@dataclass
class ImportSummary:
    """The outcome of one unit, as printed by ``vulndb import``."""

    path: str
    kind: str
    records: int
    inserted: int
    updated: int
    unchanged: int
    seconds: float
    already_imported: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


# --------------------------------------------------------------------------- planning
def plan_units(
    paths: list[Path], kind: FeedKind | None = None
) -> tuple[list[ImportUnit], list[Path]]:
    """Import units for the given files and folders, and the folder files not recognised.

    Folders are walked (hidden entries skipped); CVE 5 record files of one folder form one
    unit. A file named explicitly must be recognisable (or ``kind`` given).
    """
    units: list[ImportUnit] = []
    skipped: list[Path] = []
    for path in paths:
        if path.is_dir():
            records: list[Path] = []
            for file in _walk(path):
                found = kind or _kind_of(file)
                if found is FeedKind.CVE5:
                    records.append(file)
                elif found is None:
                    skipped.append(file)
                else:
                    units.append(ImportUnit(found, file))
            if records:
                units.append(ImportUnit(FeedKind.CVE5, path, records))
        elif path.is_file():
            found = kind or _kind_of(path)
            if found is None:
                raise ValidationError(t("vulndb.unknown_kind", file=path))
            units.append(ImportUnit(found, path, [path] if found is FeedKind.CVE5 else []))
        else:
            raise NotFoundError(t("vulndb.not_found", path=path))
    return units, skipped


def _walk(folder: Path) -> Iterator[Path]:
    for file in sorted(folder.rglob("*")):
        relative = file.relative_to(folder).parts
        if any(part.startswith(".") for part in relative) or not file.is_file():
            continue
        if file.name.lower().endswith(_FEED_SUFFIXES):
            yield file


def _kind_of(path: Path) -> FeedKind | None:
    if _CVE5_NAME_RE.fullmatch(path.name) and head_text(path).startswith("{"):
        return FeedKind.CVE5
    return sniff_kind(path)


# --------------------------------------------------------------------------- importing
def import_unit(
    session: Session, unit: ImportUnit, *, limit: int = MAX_FEED_BYTES
) -> ImportSummary:
    """Import one unit in the session's transaction (the caller commits or rolls back);
    ``limit`` caps the decompressed bytes read from a feed file."""
    started = time.perf_counter()
    counts = Counts()
    if unit.kind is FeedKind.CVE5:
        digest = _import_cve5(session, unit.files, counts)
    else:
        digest = file_sha256(unit.path)
        previous = session.scalar(
            select(VulndbImport)
            .where(VulndbImport.kind == unit.kind.value, VulndbImport.sha256 == digest)
            .order_by(VulndbImport.id.desc())
            .limit(1)
        )
        if previous is not None:
            # The identical file was imported before; every record would be unchanged.
            return ImportSummary(
                str(unit.path),
                unit.kind.value,
                previous.records,
                0,
                0,
                previous.records,
                round(time.perf_counter() - started, 3),
                already_imported=True,
            )
        _import_file(session, unit, counts, limit)
    seconds = round(time.perf_counter() - started, 3)
    session.add(
        VulndbImport(
            kind=unit.kind.value,
            source_name=str(unit.path)[-1000:],
            sha256=digest,
            records=counts.records,
            inserted=counts.inserted,
            updated=counts.updated,
            unchanged=counts.unchanged,
            seconds=seconds,
            newest_modified=counts.newest_modified,
        )
    )
    session.flush()
    return ImportSummary(
        str(unit.path),
        unit.kind.value,
        counts.records,
        counts.inserted,
        counts.updated,
        counts.unchanged,
        seconds,
    )


def _import_file(session: Session, unit: ImportUnit, counts: Counts, limit: int) -> None:
    name = str(unit.path)
    with open_feed(unit.path, limit=limit) as reader:
        if unit.kind is FeedKind.NVD:
            writer = CveWriter(session, counts)
            for record in read_nvd(JsonStream(reader, name)):  # type: ignore[arg-type]
                writer.add(record)
            writer.flush()
        elif unit.kind is FeedKind.KEV:
            json_like = head_text(unit.path).startswith("{")
            entries = (
                read_kev_json(JsonStream(reader, name))  # type: ignore[arg-type]
                if json_like
                else read_kev_csv(reader, name)
            )
            write_enrichment(session, entries, counts)
        elif unit.kind is FeedKind.EPSS:
            write_enrichment(session, read_epss(reader, name), counts)
        else:
            write_enrichment(session, read_mapping(reader, name), counts)


def _import_cve5(session: Session, files: list[Path], counts: Counts) -> str:
    digest = hashlib.sha256()
    writer = CveWriter(session, counts)
    for file in files:
        with open_feed(file, limit=MAX_VALUE_CHARS) as reader:
            data = reader.read()
        digest.update(hashlib.sha256(data).digest())
        document = JsonStream(io.BytesIO(data), str(file)).document()
        record = cve5_record(document)
        if record is None:
            raise ValidationError(t("vulndb.bad_cve5", file=file))
        writer.add(record)
    writer.flush()
    return digest.hexdigest()


def import_paths(
    engine: Engine, paths: list[Path], kind: FeedKind | None = None
) -> list[ImportSummary]:
    """Import every unit of ``paths``, each in its own transaction; stops at the first error."""
    units, _skipped = plan_units(paths, kind)
    summaries = []
    for unit in units:
        with session_scope(engine) as session:
            summaries.append(import_unit(session, unit))
    return summaries


# --------------------------------------------------------------------------- status
def _non_empty(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.jsonb_array_length(column) > 0
    return func.json_array_length(column) > 0


def status(session: Session) -> dict[str, Any]:
    """Counts of the database's contents and the latest import of each feed kind."""

    def count(*where: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(Cve).where(*where)) or 0)

    newest = session.scalar(select(func.max(Cve.modified)))
    latest: dict[str, Any] = {}
    for kind in FeedKind:
        row = session.scalar(
            select(VulndbImport)
            .where(VulndbImport.kind == kind.value)
            .order_by(VulndbImport.imported_at.desc(), VulndbImport.id.desc())
            .limit(1)
        )
        latest[kind.value] = (
            None
            if row is None
            else {
                "source": row.source_name,
                "imported_at": row.imported_at.isoformat(),
                "records": row.records,
                "newest_modified": row.newest_modified.isoformat() if row.newest_modified else None,
            }
        )
    return {
        "cves": count(Cve.source.is_not(None)),
        "rejected": count(Cve.rejected.is_(True)),
        "enrichment_only": count(Cve.source.is_(None)),
        "kev": count(Cve.kev.is_(True)),
        "epss": count(Cve.epss_score.is_not(None)),
        "cnvd": count(_non_empty(session, Cve.cnvd_ids)),
        "cnnvd": count(_non_empty(session, Cve.cnnvd_ids)),
        "criteria": int(session.scalar(select(func.count()).select_from(CpeCriterionRecord)) or 0),
        "newest_modified": newest.isoformat() if newest else None,
        "last_import": latest,
    }
