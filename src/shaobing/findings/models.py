"""Tables of findings and work orders (D1–D4)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from shaobing.core.models import Base, TenantScoped, utcnow


class ImportRun(TenantScoped, Base):
    """One import of a scanner file (or one scan's results) into an engagement."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    scan_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("scan_runs.id", ondelete="SET NULL"), index=True
    )
    format: Mapped[str] = mapped_column(String(32))
    source_tool: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(500))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)


class WorkOrder(TenantScoped, Base):
    """A work order (工单): the unit of assignment, deadline and discussion for findings."""

    __tablename__ = "work_orders"
    __table_args__ = (
        Index("ix_work_orders_eng_state_due", "engagement_id", "state", "due_date"),
        Index("ix_work_orders_group", "engagement_id", "grouping", "group_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed through the composite indexes above (their first column).
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(500))
    grouping: Mapped[str] = mapped_column(String(16))  # finding | host
    group_key: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(32), default="new")
    severity: Mapped[str] = mapped_column(String(16))
    assignee: Mapped[str | None] = mapped_column(String(200))
    due_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()


class Finding(TenantScoped, Base):
    """A finding from any source, de-duplicated by its fingerprint within its dedup scope."""

    __tablename__ = "findings"
    __table_args__ = (
        UniqueConstraint("dedup_scope", "fingerprint"),
        Index("ix_findings_list", "engagement_id", "status", "severity_rank", "id"),
        Index("ix_findings_eng_rank", "engagement_id", "severity_rank", "id"),
        Index("ix_findings_open", "engagement_id", "is_open", "severity_rank", "id"),
        Index(
            "ix_findings_eng_source",
            "engagement_id",
            "source_tool",
            "is_open",
            "severity_rank",
            "id",
        ),
        Index("ix_findings_eng_host", "engagement_id", "host", "severity_rank", "id"),
        Index("ix_findings_eng_asset", "engagement_id", "asset_id", "severity_rank", "id"),
        # Web console dashboards (issue 10): each one covers a grouped count over the open
        # (or closed) findings, so 1,000,000 findings aggregate without reading the table.
        Index("ix_findings_eng_open_first", "engagement_id", "is_open", "first_seen"),
        Index("ix_findings_eng_open_changed", "engagement_id", "is_open", "status_changed_at"),
        Index("ix_findings_eng_open_host", "engagement_id", "is_open", "host", "severity_rank"),
        Index("ix_findings_eng_open_check", "engagement_id", "is_open", "source_tool", "check_id"),
        Index("ix_findings_eng_open_port", "engagement_id", "is_open", "port", "protocol"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed through the composite list indexes (their first column); every index costs
    # time on bulk imports, so none is duplicated.
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id", ondelete="CASCADE"))
    asset_id: Mapped[int | None] = mapped_column(
        ForeignKey("assets.id", ondelete="SET NULL"), index=True
    )
    # Not indexed: scan runs are deleted only with their engagement (which cascades).
    scan_run_id: Mapped[int | None] = mapped_column(ForeignKey("scan_runs.id", ondelete="SET NULL"))
    work_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("work_orders.id", ondelete="SET NULL"), index=True
    )
    first_import_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_runs.id", ondelete="SET NULL")
    )
    last_import_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_runs.id", ondelete="SET NULL"), index=True
    )
    dedup_scope: Mapped[str] = mapped_column(String(32))
    fingerprint: Mapped[str] = mapped_column(String(64))
    tool_unique_id: Mapped[str | None] = mapped_column(String(300))
    # Digest of the reported content (title, severity, texts, CVSS, ids): a re-import
    # compares this instead of reading every field back.
    content_hash: Mapped[str | None] = mapped_column(String(32))
    source_tool: Mapped[str] = mapped_column(String(64))
    check_id: Mapped[str] = mapped_column(String(300))
    title: Mapped[str] = mapped_column(String(1000))
    description: Mapped[str | None] = mapped_column(Text)
    remediation: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16))
    severity_rank: Mapped[int] = mapped_column(Integer)
    cvss_v3_vector: Mapped[str | None] = mapped_column(String(200))
    cvss_v3_score: Mapped[float | None] = mapped_column()
    cvss_v4_vector: Mapped[str | None] = mapped_column(String(300))
    cvss_v4_score: Mapped[float | None] = mapped_column()
    cve_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    cwe_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    cnvd_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    cnnvd_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    references: Mapped[list[str]] = mapped_column(JSON, default=list)
    host: Mapped[str | None] = mapped_column(String(255))
    port: Mapped[int | None] = mapped_column(Integer)
    protocol: Mapped[str | None] = mapped_column(String(16))
    url: Mapped[str | None] = mapped_column(String(2000))
    parameter: Mapped[str | None] = mapped_column(String(500))
    file_path: Mapped[str | None] = mapped_column(String(1000))
    line: Mapped[int | None] = mapped_column(Integer)
    evidence: Mapped[str | None] = mapped_column(Text)
    confidence: Mapped[str | None] = mapped_column(String(32))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(32), default="new")
    # Denormalised from status (新增/待修复) so "open findings, most severe first" is one
    # ordered index range instead of a sort over every open finding.
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    risk_accepted_until: Mapped[date | None] = mapped_column(Date)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    times_seen: Mapped[int] = mapped_column(Integer, default=1)


class FindingEvent(TenantScoped, Base):
    """History of findings and work orders: who, when, from → to, why; comments too."""

    __tablename__ = "finding_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int | None] = mapped_column(
        ForeignKey("findings.id", ondelete="CASCADE"), index=True
    )
    work_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))  # created|transition|assign|comment|retest|...
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class RemediationSla(TenantScoped, Base):
    """Remediation deadline in days per severity for one engagement (overrides the defaults)."""

    __tablename__ = "remediation_sla"
    __table_args__ = (UniqueConstraint("engagement_id", "severity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    severity: Mapped[str] = mapped_column(String(16))
    days: Mapped[int] = mapped_column(Integer)
