"""scan run state for pause/resume and control requests

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 01:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("scan_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("options", _JSON, nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("checkpoint", _JSON, nullable=False, server_default="{}"))
        batch_op.add_column(
            sa.Column("control", sa.String(length=16), nullable=False, server_default="run")
        )
        batch_op.add_column(sa.Column("message", sa.Text(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("scan_runs", schema=None) as batch_op:
        batch_op.drop_column("message")
        batch_op.drop_column("control")
        batch_op.drop_column("checkpoint")
        batch_op.drop_column("options")
