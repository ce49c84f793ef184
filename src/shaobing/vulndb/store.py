"""Batched upserts of CVE records and enrichment values (one import's transaction).

Core records: a CVE not yet stored is inserted; a stored one is replaced (row and all its
criteria) when the incoming record is newer from the same feed, or — between NVD and CVE
JSON 5 — by the rule in :func:`replaces`; otherwise it is left unchanged, so importing the
same data twice changes nothing. Enrichment (KEV, EPSS, CNVD/CNNVD) lives in its own
columns that a core-record replacement never touches; a CVE known only to an enrichment
feed gets a stub row (``source`` NULL) that the core record later fills in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, bindparam, delete, select, update
from sqlalchemy.orm import Session

from shaobing.core.bulk import bulk_insert
from shaobing.vulndb.enrich import EpssEntry, KevEntry, MappingEntry
from shaobing.vulndb.models import CpeCriterionRecord, Cve
from shaobing.vulndb.records import CveRecord

#: Records per database round (organisation-defined: big enough to amortise the lookup
#: query, small enough for flat memory and SQLite's bound-parameter limit of 32,766).
BATCH_SIZE = 1_000

CVES: Table = Cve.__table__  # type: ignore[assignment]
CRITERIA: Table = CpeCriterionRecord.__table__  # type: ignore[assignment]
_ENRICHMENT_DEFAULTS: dict[str, Any] = {
    "kev": False,
    "kev_date_added": None,
    "kev_due_date": None,
    "kev_ransomware": None,
    "epss_score": None,
    "epss_percentile": None,
    "epss_date": None,
    "cnvd_ids": [],
    "cnnvd_ids": [],
}
_CORE_COLUMNS = [c for c in CveRecord.__dataclass_fields__ if c not in {"id", "criteria"}] + [
    "criteria_count"
]
_EMPTY_CORE: dict[str, Any] = {
    name: ([] if name in {"cwe_ids", "reference_urls"} else None) for name in _CORE_COLUMNS
} | {"rejected": False, "criteria_count": 0}


@dataclass
class Counts:
    """What one import did."""

    records: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    newest_modified: datetime | None = None


def replaces(old: Any, new: CveRecord) -> bool:
    """Whether ``new`` should replace the stored core record ``old``.

    Same feed: only a strictly newer ``modified``. NVD over CVE 5: when NVD has criteria
    (its CPE configurations are what matching needs) or is at least as new. CVE 5 over NVD:
    only when NVD has no criteria (not analysed yet) and CVE 5 is newer. The asymmetry
    keeps alternating imports of both feeds from flipping a record back and forth.
    """
    if old.source is None:
        return True
    if new.modified is None:
        return False
    newer = old.modified is None or new.modified > old.modified
    if old.source == new.source:
        return newer
    if new.source == "nvd":
        return bool(new.criteria) or old.modified is None or new.modified >= old.modified
    return old.criteria_count == 0 and newer


class CveWriter:
    """Buffers core records and writes them in batches."""

    def __init__(self, session: Session, counts: Counts) -> None:
        self._session = session
        self._counts = counts
        self._pending: dict[str, CveRecord] = {}
        self._update = (
            update(CVES)
            .where(CVES.c.id == bindparam("p_id"))
            .values({name: bindparam(f"p_{name}") for name in _CORE_COLUMNS})
        )

    def add(self, record: CveRecord) -> None:
        """Queue one record (a later duplicate in the same batch wins if newer)."""
        counts = self._counts
        counts.records += 1
        if record.modified and (
            counts.newest_modified is None or record.modified > counts.newest_modified
        ):
            counts.newest_modified = record.modified
        earlier = self._pending.get(record.id)
        if earlier is not None:
            counts.unchanged += 1  # the duplicate that loses changes nothing
            if earlier.modified and (not record.modified or record.modified <= earlier.modified):
                return
        self._pending[record.id] = record
        if len(self._pending) >= BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        """Write the queued records."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        existing = {
            row.id: row
            for row in self._session.execute(
                select(CVES.c.id, CVES.c.source, CVES.c.modified, CVES.c.criteria_count).where(
                    CVES.c.id.in_(list(pending))
                )
            )
        }
        inserts: list[CveRecord] = []
        replaced: list[CveRecord] = []
        filled = 0  # stub rows of enrichment feeds that get their first core record
        for record in pending.values():
            old = existing.get(record.id)
            if old is None:
                inserts.append(record)
            elif replaces(old, record):
                replaced.append(record)
                filled += old.source is None
            else:
                self._counts.unchanged += 1
        bulk_insert(
            self._session,
            CVES,
            [{"id": r.id, **r.core_row(), **_ENRICHMENT_DEFAULTS} for r in inserts],
        )
        if replaced:
            self._session.execute(
                delete(CRITERIA).where(CRITERIA.c.cve_id.in_([r.id for r in replaced]))
            )
            rows = []
            for record in replaced:
                core = record.core_row()
                rows.append({"p_id": record.id} | {f"p_{k}": core[k] for k in _CORE_COLUMNS})
            self._session.execute(self._update, rows)
        criteria = [
            {"cve_id": r.id, **_criterion_row(c)} for r in (*inserts, *replaced) for c in r.criteria
        ]
        bulk_insert(self._session, CRITERIA, criteria)
        self._counts.inserted += len(inserts) + filled
        self._counts.updated += len(replaced) - filled


def _criterion_row(criterion: Any) -> dict[str, Any]:
    return {name: getattr(criterion, name) for name in criterion.__slots__}


# --------------------------------------------------------------------------- enrichment
Merge = Callable[[Row[Any] | None, Any], dict[str, Any] | None]


def _merge_kev(old: Row[Any] | None, entry: KevEntry) -> dict[str, Any] | None:
    values = {
        "kev": True,
        "kev_date_added": entry.date_added,
        "kev_due_date": entry.due_date,
        "kev_ransomware": entry.ransomware,
    }
    if old is not None and all(getattr(old, k) == v for k, v in values.items()):
        return None
    return values


def _merge_epss(old: Row[Any] | None, entry: EpssEntry) -> dict[str, Any] | None:
    values = {
        "epss_score": entry.score,
        "epss_percentile": entry.percentile,
        "epss_date": entry.day,
    }
    if old is not None:
        if old.epss_date is not None and old.epss_date > entry.day:
            return None  # an older EPSS file never overwrites newer scores
        if all(getattr(old, k) == v for k, v in values.items()):
            return None
    return values


def _merge_mapping(old: Row[Any] | None, entry: MappingEntry) -> dict[str, Any] | None:
    cnvd = sorted(set(old.cnvd_ids if old else ()) | set(entry.cnvd))
    cnnvd = sorted(set(old.cnnvd_ids if old else ()) | set(entry.cnnvd))
    if old is not None and cnvd == sorted(old.cnvd_ids) and cnnvd == sorted(old.cnnvd_ids):
        return None
    return {"cnvd_ids": cnvd, "cnnvd_ids": cnnvd}


_COLUMNS: dict[type, tuple[str, ...]] = {
    KevEntry: ("kev", "kev_date_added", "kev_due_date", "kev_ransomware"),
    EpssEntry: ("epss_score", "epss_percentile", "epss_date"),
    MappingEntry: ("cnvd_ids", "cnnvd_ids"),
}
_MERGES: dict[type, Merge] = {
    KevEntry: _merge_kev,
    EpssEntry: _merge_epss,
    MappingEntry: _merge_mapping,
}


def _combine(earlier: Any, entry: Any) -> Any:
    """Two entries for one CVE in the same batch: mappings unite, others: the later wins."""
    if isinstance(entry, MappingEntry):
        return MappingEntry(
            entry.cve_id,
            tuple(dict.fromkeys(earlier.cnvd + entry.cnvd)),
            tuple(dict.fromkeys(earlier.cnnvd + entry.cnnvd)),
        )
    return entry


def write_enrichment(
    session: Session, entries: Iterable[KevEntry | EpssEntry | MappingEntry], counts: Counts
) -> None:
    """Apply enrichment entries in batches, creating stub rows for unknown CVEs."""
    pending: dict[str, Any] = {}
    for entry in entries:
        counts.records += 1
        if entry.cve_id in pending:
            counts.unchanged += 1
            pending[entry.cve_id] = _combine(pending[entry.cve_id], entry)
        else:
            pending[entry.cve_id] = entry
        if len(pending) >= BATCH_SIZE:
            _flush_enrichment(session, pending, counts)
            pending = {}
    _flush_enrichment(session, pending, counts)


def _flush_enrichment(session: Session, pending: dict[str, Any], counts: Counts) -> None:
    if not pending:
        return
    kind = type(next(iter(pending.values())))
    columns, merge = _COLUMNS[kind], _MERGES[kind]
    existing = {
        row.id: row
        for row in session.execute(
            select(CVES.c.id, *(CVES.c[c] for c in columns)).where(CVES.c.id.in_(list(pending)))
        )
    }
    inserts, updates = [], []
    for cve_id, entry in pending.items():
        old = existing.get(cve_id)
        values = merge(old, entry)
        if values is None:
            counts.unchanged += 1
        elif old is None:
            inserts.append({"id": cve_id, "source": None, **_EMPTY_CORE, **_ENRICHMENT_DEFAULTS})
            inserts[-1].update(values)
        else:
            updates.append({"p_id": cve_id} | {f"p_{k}": v for k, v in values.items()})
    bulk_insert(session, CVES, inserts)
    if updates:
        statement = (
            update(CVES)
            .where(CVES.c.id == bindparam("p_id"))
            .values({c: bindparam(f"p_{c}") for c in columns})
        )
        session.execute(statement, updates)
    counts.inserted += len(inserts)
    counts.updated += len(updates)
