"""baseline runs and hardening runs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 06:21:45.656359
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shaobing.core.models import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "baseline_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engagement_id", sa.Integer(), nullable=False),
        sa.Column("profile", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("os", sa.String(length=200), nullable=True),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column(
            "counts",
            _JSON,
            nullable=False,
        ),
        sa.Column(
            "results",
            _JSON,
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_baseline_runs_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagements.id"],
            name=op.f("fk_baseline_runs_engagement_id_engagements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_baseline_runs")),
    )
    with op.batch_alter_table("baseline_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_baseline_runs_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_baseline_runs_engagement_id"), ["engagement_id"], unique=False
        )

    op.create_table(
        "hardening_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engagement_id", sa.Integer(), nullable=False),
        sa.Column("profile", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column(
            "target_spec",
            _JSON,
            nullable=False,
        ),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column(
            "rules",
            _JSON,
            nullable=False,
        ),
        sa.Column(
            "plan",
            _JSON,
            nullable=False,
        ),
        sa.Column(
            "backups",
            _JSON,
            nullable=False,
        ),
        sa.Column("backup_dir", sa.String(length=1000), nullable=True),
        sa.Column("before_run_id", sa.Integer(), nullable=True),
        sa.Column("after_run_id", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("applied_at", UTCDateTime(), nullable=True),
        sa.Column("rolled_back_at", UTCDateTime(), nullable=True),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["after_run_id"],
            ["baseline_runs.id"],
            name=op.f("fk_hardening_runs_after_run_id_baseline_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["before_run_id"],
            ["baseline_runs.id"],
            name=op.f("fk_hardening_runs_before_run_id_baseline_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_hardening_runs_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagements.id"],
            name=op.f("fk_hardening_runs_engagement_id_engagements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hardening_runs")),
    )
    with op.batch_alter_table("hardening_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hardening_runs_client_id"), ["client_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_hardening_runs_engagement_id"), ["engagement_id"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("hardening_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hardening_runs_engagement_id"))
        batch_op.drop_index(batch_op.f("ix_hardening_runs_client_id"))

    op.drop_table("hardening_runs")
    with op.batch_alter_table("baseline_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_baseline_runs_engagement_id"))
        batch_op.drop_index(batch_op.f("ix_baseline_runs_client_id"))

    op.drop_table("baseline_runs")
