"""Tables of the MLPS assessment: assessments, their assessment objects, and per-item records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shaobing.core.models import Base, JSONType, TenantScoped, utcnow


class MlpsAssessment(TenantScoped, Base):
    """One 等保 assessment of an engagement at one level (a new one each year shows the trend)."""

    __tablename__ = "mlps_assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[int] = mapped_column(Integer, default=3)
    #: extension packs assessed besides the general requirements (cloud, mobile, ...)
    packs: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    #: attributes of the assessed system that high-risk rules depend on (high_availability, ...)
    flags: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MlpsObject(TenantScoped, Base):
    """An assessment object (测评对象): a ledger asset, the machine room, the documents, ..."""

    __tablename__ = "mlps_objects"
    __table_args__ = (UniqueConstraint("assessment_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("mlps_assessments.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    object_type: Mapped[str] = mapped_column(String(32))
    asset_id: Mapped[int | None] = mapped_column(
        ForeignKey("assets.id", ondelete="SET NULL"), index=True
    )
    #: host names and addresses the object is known by (to match baseline runs and findings)
    hosts: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MlpsRecord(TenantScoped, Base):
    """The result of one item on one object: manual, or pre-filled from evidence (with links)."""

    __tablename__ = "mlps_records"
    __table_args__ = (UniqueConstraint("object_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("mlps_assessments.id", ondelete="CASCADE"), index=True
    )
    object_id: Mapped[int] = mapped_column(
        ForeignKey("mlps_objects.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[str] = mapped_column(String(32))
    #: 符合 | 部分符合 | 不符合 | 不适用
    result: Mapped[str] = mapped_column(String(8))
    #: manual | auto
    source: Mapped[str] = mapped_column(String(8), default="manual")
    evidence: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    finding_ids: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    baseline_run_ids: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    updated_by: Mapped[str] = mapped_column(String(100), default="system")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
