"""report builds

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 09:11:22.508286
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shaobing.core.models import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "report_builds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engagement_id", sa.Integer(), nullable=False),
        sa.Column("report_type", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=True),
        sa.Column("report_no", sa.String(length=120), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("deliverable_id", sa.Integer(), nullable=True),
        sa.Column("built_by", sa.String(length=100), nullable=False),
        sa.Column("built_at", UTCDateTime(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_report_builds_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["deliverable_id"],
            ["deliverables.id"],
            name=op.f("fk_report_builds_deliverable_id_deliverables"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagements.id"],
            name=op.f("fk_report_builds_engagement_id_engagements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_builds")),
    )
    with op.batch_alter_table("report_builds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_builds_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_report_builds_deliverable_id"), ["deliverable_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_report_builds_engagement_id"), ["engagement_id"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("report_builds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_builds_engagement_id"))
        batch_op.drop_index(batch_op.f("ix_report_builds_deliverable_id"))
        batch_op.drop_index(batch_op.f("ix_report_builds_client_id"))

    op.drop_table("report_builds")
