"""mlps assessment

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 07:57:28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shaobing.core.models import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "mlps_assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engagement_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("packs", _JSON, nullable=False),
        sa.Column("flags", _JSON, nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_mlps_assessments_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagements.id"],
            name=op.f("fk_mlps_assessments_engagement_id_engagements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlps_assessments")),
    )
    with op.batch_alter_table("mlps_assessments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mlps_assessments_client_id"), ["client_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_mlps_assessments_engagement_id"), ["engagement_id"], unique=False
        )

    op.create_table(
        "mlps_objects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=True),
        sa.Column("hosts", _JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["mlps_assessments.id"],
            name=op.f("fk_mlps_objects_assessment_id_mlps_assessments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_mlps_objects_asset_id_assets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_mlps_objects_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlps_objects")),
        sa.UniqueConstraint(
            "assessment_id", "name", name=op.f("uq_mlps_objects_assessment_id_name")
        ),
    )
    with op.batch_alter_table("mlps_objects", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mlps_objects_assessment_id"), ["assessment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_mlps_objects_asset_id"), ["asset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_mlps_objects_client_id"), ["client_id"], unique=False)

    op.create_table(
        "mlps_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("result", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("finding_ids", _JSON, nullable=False),
        sa.Column("baseline_run_ids", _JSON, nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["mlps_assessments.id"],
            name=op.f("fk_mlps_records_assessment_id_mlps_assessments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_mlps_records_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["object_id"],
            ["mlps_objects.id"],
            name=op.f("fk_mlps_records_object_id_mlps_objects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mlps_records")),
        sa.UniqueConstraint("object_id", "item_id", name=op.f("uq_mlps_records_object_id_item_id")),
    )
    with op.batch_alter_table("mlps_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mlps_records_assessment_id"), ["assessment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_mlps_records_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_mlps_records_object_id"), ["object_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("mlps_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mlps_records_object_id"))
        batch_op.drop_index(batch_op.f("ix_mlps_records_client_id"))
        batch_op.drop_index(batch_op.f("ix_mlps_records_assessment_id"))

    op.drop_table("mlps_records")
    with op.batch_alter_table("mlps_objects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mlps_objects_client_id"))
        batch_op.drop_index(batch_op.f("ix_mlps_objects_asset_id"))
        batch_op.drop_index(batch_op.f("ix_mlps_objects_assessment_id"))

    op.drop_table("mlps_objects")
    with op.batch_alter_table("mlps_assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mlps_assessments_engagement_id"))
        batch_op.drop_index(batch_op.f("ix_mlps_assessments_client_id"))

    op.drop_table("mlps_assessments")
