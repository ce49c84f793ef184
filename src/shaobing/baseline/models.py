"""Baseline check runs and hardening runs: what was checked, found, changed and restored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shaobing.core.models import Base, JSONType, TenantScoped, utcnow


class BaselineRun(TenantScoped, Base):
    """One profile checked on one target, with every rule's result (the evidence of C1/C2)."""

    __tablename__ = "baseline_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    profile: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(500))
    #: the host address findings are filed under (None for offline trees)
    host: Mapped[str | None] = mapped_column(String(255))
    os: Mapped[str | None] = mapped_column(String(200))
    #: check | harden-before | harden-after | sca
    purpose: Mapped[str] = mapped_column(String(32), default="check")
    score: Mapped[float] = mapped_column(default=0.0)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class HardeningRun(TenantScoped, Base):
    """One hardening: the plan, what was applied, the backups, and whether it was rolled back."""

    __tablename__ = "hardening_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    profile: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(500))
    #: the target's connection details (without secrets) to reach it again for rollback
    target_spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: planned | applied | failed-rolled-back | rolled-back | refused
    status: Mapped[str] = mapped_column(String(32), default="planned")
    rules: Mapped[list[str]] = mapped_column(JSONType, default=list)
    plan: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    #: path → {"existed", "mode", "uid", "gid", "backup"} recorded before the first change
    backups: Mapped[dict[str, Any]] = mapped_column(default=dict)
    backup_dir: Mapped[str | None] = mapped_column(String(1000))
    before_run_id: Mapped[int | None] = mapped_column(ForeignKey("baseline_runs.id"))
    after_run_id: Mapped[int | None] = mapped_column(ForeignKey("baseline_runs.id"))
    message: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column()
    rolled_back_at: Mapped[datetime | None] = mapped_column()
