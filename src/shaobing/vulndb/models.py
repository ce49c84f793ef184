"""Offline vulnerability database tables (B5).

CVE data is shared reference data, not tenant data: these tables carry no ``client_id``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shaobing.core.models import Base, JSONType, utcnow


class Cve(Base):
    """One CVE: the core record from NVD or CVE JSON 5, plus KEV/EPSS/CNVD enrichment.

    ``source`` is the feed that supplied the core record; it is None for a row created by
    an enrichment feed (KEV, EPSS, CNVD mapping) before the CVE itself was imported.
    """

    __tablename__ = "cves"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str | None] = mapped_column(String(8))
    published: Mapped[datetime | None] = mapped_column()
    modified: Mapped[datetime | None] = mapped_column(index=True)
    rejected: Mapped[bool] = mapped_column(default=False, index=True)
    description: Mapped[str | None] = mapped_column(Text)
    cvss3_vector: Mapped[str | None] = mapped_column(String(200))
    cvss3_score: Mapped[float | None] = mapped_column(Float)
    cvss3_severity: Mapped[str | None] = mapped_column(String(16))
    cvss4_vector: Mapped[str | None] = mapped_column(String(300))
    cvss4_score: Mapped[float | None] = mapped_column(Float)
    cvss4_severity: Mapped[str | None] = mapped_column(String(16))
    cwe_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    reference_urls: Mapped[list[str]] = mapped_column(JSONType, default=list)
    criteria_count: Mapped[int] = mapped_column(Integer, default=0)
    kev: Mapped[bool] = mapped_column(default=False, index=True)
    kev_date_added: Mapped[date | None] = mapped_column()
    kev_due_date: Mapped[date | None] = mapped_column()
    kev_ransomware: Mapped[bool | None] = mapped_column()
    epss_score: Mapped[float | None] = mapped_column(Float)
    epss_percentile: Mapped[float | None] = mapped_column(Float)
    epss_date: Mapped[date | None] = mapped_column()
    cnvd_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    cnnvd_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)


class CpeCriterionRecord(Base):
    """One NVD ``cpeMatch`` entry with its place in the configuration tree.

    A CVE applies when any configuration evaluates true; a configuration combines its nodes
    with ``config_operator`` (then ``config_negate``), a node combines its criteria with
    ``node_operator`` (then ``node_negate``). ``vendor``/``product``/``version`` are the
    unescaped, lower-case fields of ``criteria`` for indexed candidate lookup.
    """

    __tablename__ = "cpe_criteria"
    __table_args__ = (Index("ix_cpe_criteria_product_vendor", "product", "vendor"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cve_id: Mapped[str] = mapped_column(
        ForeignKey("cves.id", ondelete="CASCADE"), index=True, nullable=False
    )
    config_index: Mapped[int] = mapped_column(Integer)
    config_operator: Mapped[str] = mapped_column(String(3))
    config_negate: Mapped[bool] = mapped_column()
    node_index: Mapped[int] = mapped_column(Integer)
    node_operator: Mapped[str] = mapped_column(String(3))
    node_negate: Mapped[bool] = mapped_column()
    vulnerable: Mapped[bool] = mapped_column()
    criteria: Mapped[str] = mapped_column(String(500))
    part: Mapped[str] = mapped_column(String(1))
    vendor: Mapped[str] = mapped_column(String(200))
    product: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(200))
    version_start_including: Mapped[str | None] = mapped_column(String(100))
    version_start_excluding: Mapped[str | None] = mapped_column(String(100))
    version_end_including: Mapped[str | None] = mapped_column(String(100))
    version_end_excluding: Mapped[str | None] = mapped_column(String(100))


class VulndbImport(Base):
    """One imported feed file (or CVE JSON 5 folder): for incremental updates and status."""

    __tablename__ = "vulndb_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), index=True)
    source_name: Mapped[str] = mapped_column(String(1000))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    records: Mapped[int] = mapped_column(Integer, default=0)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    newest_modified: Mapped[datetime | None] = mapped_column()
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
