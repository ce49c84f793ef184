"""Tables of the risk assessment (E1): per-engagement inputs and the stored assessment runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shaobing.core.models import Base, JSONType, TenantScoped, utcnow


class RiskThreat(TenantScoped, Base):
    """An engagement's edit of a catalogue threat: set fields override the shipped data."""

    __tablename__ = "risk_threats"
    __table_args__ = (UniqueConstraint("engagement_id", "threat_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    threat_id: Mapped[str] = mapped_column(String(32))
    #: only the fields that were edited, e.g. {"frequency": 5, "timing": "重大活动期间"}
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_by: Mapped[str] = mapped_column(String(100), default="system")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RiskVulnerability(TenantScoped, Base):
    """A vulnerability entered by hand (questionnaire, interview): technical or management.

    Without an asset or a system it applies to the whole engagement (every system asset).
    """

    __tablename__ = "risk_vulnerabilities"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(500))
    vuln_type: Mapped[str] = mapped_column(String(16))  # technical | management
    vuln_class: Mapped[str] = mapped_column(String(64))
    severity: Mapped[int] = mapped_column(Integer)
    asset_id: Mapped[int | None] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), index=True
    )
    system_id: Mapped[int | None] = mapped_column(
        ForeignKey("business_systems.id", ondelete="CASCADE"), index=True
    )
    #: pin the entry to one threat instead of every threat exploiting its class
    threat_id: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RiskMeasure(TenantScoped, Base):
    """An existing security measure: preventive (lowers likelihood) or protective (lowers loss).

    It acts on the threats and vulnerability classes listed (all when empty) of its asset,
    system or, without either, the whole engagement. An ineffective measure becomes a
    vulnerability instead.
    """

    __tablename__ = "risk_measures"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(500))
    measure_type: Mapped[str] = mapped_column(String(16))  # preventive | protective
    effect: Mapped[int] = mapped_column(Integer, default=1)
    threat_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    vuln_classes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    asset_id: Mapped[int | None] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), index=True
    )
    system_id: Mapped[int | None] = mapped_column(
        ForeignKey("business_systems.id", ondelete="CASCADE"), index=True
    )
    effective: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RiskBusiness(TenantScoped, Base):
    """A business (业务) in the assessment's scope with its importance (1–5)."""

    __tablename__ = "risk_businesses"
    __table_args__ = (UniqueConstraint("engagement_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    importance: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)


class RiskBusinessSystem(TenantScoped, Base):
    """A system asset bearing a business, with how closely it is tied to it (1–5)."""

    __tablename__ = "risk_business_systems"
    __table_args__ = (UniqueConstraint("business_id", "system_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(
        ForeignKey("risk_businesses.id", ondelete="CASCADE"), index=True
    )
    system_id: Mapped[int] = mapped_column(
        ForeignKey("business_systems.id", ondelete="CASCADE"), index=True
    )
    relevance: Mapped[int] = mapped_column(Integer)


class RiskSettings(TenantScoped, Base):
    """An engagement's stored override of the method parameters (partial YAML mapping)."""

    __tablename__ = "risk_settings"
    __table_args__ = (UniqueConstraint("engagement_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    override: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source_name: Mapped[str | None] = mapped_column(String(500))
    updated_by: Mapped[str] = mapped_column(String(100), default="system")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RiskRun(TenantScoped, Base):
    """One stored assessment: method, parameters used, every risk and the summary."""

    __tablename__ = "risk_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    method: Mapped[str] = mapped_column(String(16))
    #: the full method parameters in force (so an old run stays explainable)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
