"""target credentials vault

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22 12:37:10.585835
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shaobing.core.models import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "target_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engagement_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("targets", _JSON, nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        sa.Column("passphrase_enc", sa.Text(), nullable=True),
        sa.Column("fingerprint", sa.String(length=100), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_target_credentials_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagements.id"],
            name=op.f("fk_target_credentials_engagement_id_engagements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_target_credentials")),
        sa.UniqueConstraint(
            "engagement_id", "name", name=op.f("uq_target_credentials_engagement_id_name")
        ),
    )
    with op.batch_alter_table("target_credentials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_target_credentials_client_id"), ["client_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_target_credentials_engagement_id"), ["engagement_id"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("target_credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_target_credentials_engagement_id"))
        batch_op.drop_index(batch_op.f("ix_target_credentials_client_id"))
    op.drop_table("target_credentials")
