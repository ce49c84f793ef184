"""Tables of the asset ledger (A2): assets, their addresses, and change history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shaobing.core.models import Base, TenantScoped, utcnow


class Asset(TenantScoped, Base):
    """An asset of a client's estate with its C/I/A values and derived asset value."""

    __tablename__ = "assets"
    __table_args__ = (UniqueConstraint("client_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    asset_type: Mapped[str] = mapped_column(String(32))
    system_id: Mapped[int | None] = mapped_column(
        ForeignKey("business_systems.id", ondelete="SET NULL"), index=True
    )
    hostname: Mapped[str | None] = mapped_column(String(255), index=True)
    url: Mapped[str | None] = mapped_column(String(1000))
    os: Mapped[str | None] = mapped_column(String(200))
    zone: Mapped[str | None] = mapped_column(String(100))
    owner: Mapped[str | None] = mapped_column(String(100))
    importance: Mapped[str | None] = mapped_column(String(50))
    confidentiality: Mapped[int] = mapped_column(Integer, default=3)
    integrity: Mapped[int] = mapped_column(Integer, default=3)
    availability: Mapped[int] = mapped_column(Integer, default=3)
    value: Mapped[int] = mapped_column(Integer, default=3)
    value_method: Mapped[str] = mapped_column(String(16), default="log2")
    vendor: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[str | None] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32), default="manual")
    # Digest of what the last scanner result said about this host (ingest skips the
    # comparison when a re-import reports the same).
    scan_digest: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    addresses: Mapped[list[AssetAddress]] = relationship(
        back_populates="asset", cascade="all, delete-orphan", order_by="AssetAddress.id"
    )


class AssetAddress(TenantScoped, Base):
    """An IP address of an asset; unique within a client so scans merge by address."""

    __tablename__ = "asset_addresses"
    __table_args__ = (UniqueConstraint("client_id", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(64))
    family: Mapped[int] = mapped_column(Integer)  # 4 or 6

    asset: Mapped[Asset] = relationship(back_populates="addresses")


class AssetChange(TenantScoped, Base):
    """One change to an asset: who or what changed which fields from what to what.

    ``asset_id`` is kept without a foreign key so history outlives a deleted asset.
    """

    __tablename__ = "asset_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(Integer, index=True)
    asset_name: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # created | updated | deleted
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AssetService(TenantScoped, Base):
    """A port/service seen on an asset by a scan or an imported scanner file."""

    __tablename__ = "asset_services"
    __table_args__ = (UniqueConstraint("asset_id", "port", "protocol"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    port: Mapped[int] = mapped_column(Integer)
    protocol: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16))
    service: Mapped[str | None] = mapped_column(String(100))
    product: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[str | None] = mapped_column(String(200))
    cpe: Mapped[list[str]] = mapped_column(JSON, default=list)
    banner: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(64))
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
