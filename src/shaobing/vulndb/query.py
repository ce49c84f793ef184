"""Read API for the matcher: candidate criteria by product, whole configurations, summaries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from shaobing.vulndb.models import CpeCriterionRecord, Cve
from shaobing.vulndb.records import cpe_field

#: Ids per IN (...) query (organisation-defined; under SQLite's 32,766 parameter limit).
_ID_CHUNK = 1_000


@dataclass(frozen=True, slots=True)
class CriterionRow:
    """One stored NVD cpeMatch entry with its configuration/node position.

    A CVE applies when any of its configurations holds; a configuration combines its nodes
    with ``config_operator`` (negated if ``config_negate``), a node its criteria with
    ``node_operator`` (negated if ``node_negate``). The field names follow NVD's cpeMatch
    (``criteria``, ``vulnerable``, ``versionStartIncluding`` → ``version_start_including``).
    """

    cve_id: str
    config_index: int
    config_operator: str
    config_negate: bool
    node_index: int
    node_operator: str
    node_negate: bool
    vulnerable: bool
    criteria: str
    part: str
    vendor: str
    product: str
    version: str
    version_start_including: str | None
    version_start_excluding: str | None
    version_end_including: str | None
    version_end_excluding: str | None


@dataclass(frozen=True, slots=True)
class CveSummary:
    """What ordering and reports need of a CVE."""

    id: str
    severity: str | None
    score: float | None
    cvss_vector: str | None
    kev: bool
    kev_due_date: date | None
    kev_ransomware: bool | None
    epss_score: float | None
    epss_percentile: float | None
    cnvd_ids: tuple[str, ...]
    cnnvd_ids: tuple[str, ...]
    rejected: bool
    description: str | None


_FIELDS = list(CriterionRow.__dataclass_fields__)
_ORDER = (CpeCriterionRecord.cve_id, CpeCriterionRecord.config_index, CpeCriterionRecord.id)


def _rows(session: Session, *where: object) -> list[CriterionRow]:
    columns = [getattr(CpeCriterionRecord, name) for name in _FIELDS]
    statement = select(*columns).where(*where).order_by(*_ORDER)  # type: ignore[arg-type]
    return [CriterionRow(*row) for row in session.execute(statement)]


def candidate_criteria(session: Session, vendor: str | None, product: str) -> list[CriterionRow]:
    """Criteria naming ``product`` (and ``vendor`` when given), via the product index.

    Names are compared as stored: unescaped and lower-case (``node.js``, not ``node\\.js``).
    Rejected CVEs are left out.
    """
    where: list[object] = [CpeCriterionRecord.product == cpe_field(product)]
    if vendor:
        where.append(CpeCriterionRecord.vendor == cpe_field(vendor))
    rejected = select(Cve.id).where(Cve.rejected.is_(True))
    where.append(CpeCriterionRecord.cve_id.not_in(rejected))
    return _rows(session, *where)


def criteria_for_cves(session: Session, cve_ids: Iterable[str]) -> dict[str, list[CriterionRow]]:
    """Every criterion of the given CVEs (to evaluate whole AND/OR configurations)."""
    out: dict[str, list[CriterionRow]] = {}
    ids = sorted(set(cve_ids))
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start : start + _ID_CHUNK]
        for row in _rows(session, CpeCriterionRecord.cve_id.in_(chunk)):
            out.setdefault(row.cve_id, []).append(row)
    return out


def cve_summaries(session: Session, cve_ids: Iterable[str]) -> dict[str, CveSummary]:
    """Summaries of the given CVEs that are stored (unknown ids are absent)."""
    out: dict[str, CveSummary] = {}
    ids = sorted(set(cve_ids))
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start : start + _ID_CHUNK]
        for cve in session.scalars(select(Cve).where(Cve.id.in_(chunk))):
            # CVSS v4 where NVD/the CNA gives it, else v3: the newer version rates better.
            v4 = cve.cvss4_score is not None
            out[cve.id] = CveSummary(
                id=cve.id,
                severity=cve.cvss4_severity if v4 else cve.cvss3_severity,
                score=cve.cvss4_score if v4 else cve.cvss3_score,
                cvss_vector=cve.cvss4_vector if v4 else cve.cvss3_vector,
                kev=cve.kev,
                kev_due_date=cve.kev_due_date,
                kev_ransomware=cve.kev_ransomware,
                epss_score=cve.epss_score,
                epss_percentile=cve.epss_percentile,
                cnvd_ids=tuple(cve.cnvd_ids or ()),
                cnnvd_ids=tuple(cve.cnnvd_ids or ()),
                rejected=cve.rejected,
                description=cve.description,
            )
    return out
