"""Tables of the data security assessment: an assessment per engagement and its answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shaobing.core.models import Base, JSONType, TenantScoped, utcnow


class DatasecAssessment(TenantScoped, Base):
    """One data security assessment of an engagement (several over time show the trend)."""

    __tablename__ = "datasec_assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(
        ForeignKey("engagements.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DatasecAnswer(TenantScoped, Base):
    """The answer to one question: manual, or pre-filled from findings (with their ids)."""

    __tablename__ = "datasec_answers"
    __table_args__ = (UniqueConstraint("assessment_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("datasec_assessments.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[str] = mapped_column(String(100))
    answer: Mapped[str] = mapped_column(String(8))
    #: manual | auto
    source: Mapped[str] = mapped_column(String(8), default="manual")
    evidence: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    finding_ids: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    updated_by: Mapped[str] = mapped_column(String(100), default="system")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
