"""data security assessment

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 08:00:17.553010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shaobing.core.models import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "datasec_assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engagement_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_datasec_assessments_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagements.id"],
            name=op.f("fk_datasec_assessments_engagement_id_engagements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasec_assessments")),
    )
    with op.batch_alter_table("datasec_assessments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_datasec_assessments_client_id"), ["client_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_datasec_assessments_engagement_id"), ["engagement_id"], unique=False
        )

    op.create_table(
        "datasec_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(length=100), nullable=False),
        sa.Column("answer", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("finding_ids", _JSON, nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["datasec_assessments.id"],
            name=op.f("fk_datasec_answers_assessment_id_datasec_assessments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_datasec_answers_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasec_answers")),
        sa.UniqueConstraint(
            "assessment_id",
            "question_id",
            name=op.f("uq_datasec_answers_assessment_id_question_id"),
        ),
    )
    with op.batch_alter_table("datasec_answers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_datasec_answers_assessment_id"), ["assessment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_datasec_answers_client_id"), ["client_id"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("datasec_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_datasec_answers_client_id"))
        batch_op.drop_index(batch_op.f("ix_datasec_answers_assessment_id"))

    op.drop_table("datasec_answers")
    with op.batch_alter_table("datasec_assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_datasec_assessments_engagement_id"))
        batch_op.drop_index(batch_op.f("ix_datasec_assessments_client_id"))

    op.drop_table("datasec_assessments")
