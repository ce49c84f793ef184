"""Tables of clients and engagements (A1)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shaobing.core.models import Base, TenantScoped, utcnow


class Client(Base):
    """A client (甲方): the tenant that owns engagements, assets and findings."""

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    code: Mapped[str | None] = mapped_column(String(64), unique=True)
    contact: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EngagementStatus(StrEnum):
    """Life cycle of an engagement."""

    PLANNED = "planned"
    ACTIVE = "active"
    CLOSED = "closed"


class Engagement(TenantScoped, Base):
    """A service engagement (服务项目): period, authorised scope, items, SLA, deliverables."""

    __tablename__ = "engagements"
    __table_args__ = (UniqueConstraint("client_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(64))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    status: Mapped[str] = mapped_column(String(16), default=EngagementStatus.ACTIVE.value)
    description: Mapped[str | None] = mapped_column(Text)
    # An engagement recorded implicitly for an ad-hoc scan whose scope is its own targets.
    adhoc: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    client: Mapped[Client] = relationship()
    scope_entries: Mapped[list[ScopeEntryRecord]] = relationship(
        back_populates="engagement", cascade="all, delete-orphan", order_by="ScopeEntryRecord.id"
    )
    windows: Mapped[list[TimeWindowRecord]] = relationship(
        back_populates="engagement", cascade="all, delete-orphan", order_by="TimeWindowRecord.id"
    )
    service_items: Mapped[list[ServiceItem]] = relationship(
        back_populates="engagement", cascade="all, delete-orphan", order_by="ServiceItem.id"
    )
    sla_terms: Mapped[list[SlaTerm]] = relationship(
        back_populates="engagement", cascade="all, delete-orphan", order_by="SlaTerm.id"
    )
    deliverables: Mapped[list[Deliverable]] = relationship(
        back_populates="engagement", cascade="all, delete-orphan", order_by="Deliverable.due_date"
    )
    systems: Mapped[list[BusinessSystem]] = relationship(
        secondary="engagement_systems", order_by="BusinessSystem.name", viewonly=True
    )


class ScopeEntryRecord(TenantScoped, Base):
    """One authorised (include) or excluded scope entry of an engagement, as written."""

    __tablename__ = "scope_entries"
    __table_args__ = (UniqueConstraint("engagement_id", "mode", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    mode: Mapped[str] = mapped_column(String(8))  # include | exclude
    value: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(500))

    engagement: Mapped[Engagement] = relationship(back_populates="scope_entries")


class TimeWindowRecord(TenantScoped, Base):
    """An allowed testing window (e.g. ``mon-fri 08:00-20:00``)."""

    __tablename__ = "engagement_windows"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    spec: Mapped[str] = mapped_column(String(100))

    engagement: Mapped[Engagement] = relationship(back_populates="windows")


class BusinessSystem(TenantScoped, Base):
    """A business system (业务系统) of the client, e.g. 出入境业务系统."""

    __tablename__ = "business_systems"
    __table_args__ = (UniqueConstraint("client_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(200))
    # MLPS protection level (等保级别 1–5, GB/T 22239-2019) when known.
    mlps_level: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EngagementSystem(TenantScoped, Base):
    """Which business systems an engagement covers."""

    __tablename__ = "engagement_systems"
    __table_args__ = (UniqueConstraint("engagement_id", "system_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    system_id: Mapped[int] = mapped_column(
        ForeignKey("business_systems.id", ondelete="CASCADE"), index=True
    )


class ServiceItem(TenantScoped, Base):
    """A contracted service item with its frequency and schedule (e.g. scan in March and Sept)."""

    __tablename__ = "service_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    frequency: Mapped[str] = mapped_column(String(16))
    months: Mapped[list[int]] = mapped_column(JSON, default=list)
    due_by: Mapped[date | None] = mapped_column(Date)
    deliverable: Mapped[str] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)

    engagement: Mapped[Engagement] = relationship(back_populates="service_items")


class SlaTerm(TenantScoped, Base):
    """A service-level term in minutes (e.g. incident response within 30 minutes)."""

    __tablename__ = "sla_terms"
    __table_args__ = (UniqueConstraint("engagement_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(64))
    minutes: Mapped[int] = mapped_column(Integer)

    engagement: Mapped[Engagement] = relationship(back_populates="sla_terms")


class DeliverableState(StrEnum):
    """States of a deliverable (I2): 计划中/进行中/已提交/已验收."""

    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"


class Deliverable(TenantScoped, Base):
    """One owed document (e.g. the March vulnerability scan report) with its due date."""

    __tablename__ = "deliverables"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    service_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_items.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(64))
    period: Mapped[str | None] = mapped_column(String(16))
    due_date: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default=DeliverableState.PLANNED.value)
    submitted_at: Mapped[datetime | None] = mapped_column()
    accepted_at: Mapped[datetime | None] = mapped_column()
    accepted_by: Mapped[str | None] = mapped_column(String(200))
    file_path: Mapped[str | None] = mapped_column(String(1000))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)

    engagement: Mapped[Engagement] = relationship(back_populates="deliverables")
