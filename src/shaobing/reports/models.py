"""Table of built reports: every build is recorded with its number, file and checksum."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shaobing.core.models import Base, TenantScoped, utcnow


class ReportBuild(TenantScoped, Base):
    """One built report file.

    The report number belongs to (engagement, type, period): building the same report again,
    or in another format, keeps its number so the DOCX and the PDF of one report agree.
    """

    __tablename__ = "report_builds"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    report_type: Mapped[str] = mapped_column(String(32))
    period: Mapped[str | None] = mapped_column(String(16))
    report_no: Mapped[str] = mapped_column(String(120))
    seq: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(1000))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    deliverable_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliverables.id", ondelete="SET NULL"), index=True
    )
    built_by: Mapped[str] = mapped_column(String(100), default="system")
    built_at: Mapped[datetime] = mapped_column(default=utcnow)
