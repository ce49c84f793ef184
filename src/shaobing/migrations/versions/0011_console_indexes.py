"""web console dashboard indexes on findings

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22 11:57:38.606672
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_findings_eng_open_changed",
            ["engagement_id", "is_open", "status_changed_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_findings_eng_open_check",
            ["engagement_id", "is_open", "source_tool", "check_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_findings_eng_open_first", ["engagement_id", "is_open", "first_seen"], unique=False
        )
        batch_op.create_index(
            "ix_findings_eng_open_host",
            ["engagement_id", "is_open", "host", "severity_rank"],
            unique=False,
        )
        batch_op.create_index(
            "ix_findings_eng_open_port",
            ["engagement_id", "is_open", "port", "protocol"],
            unique=False,
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index("ix_findings_eng_open_port")
        batch_op.drop_index("ix_findings_eng_open_host")
        batch_op.drop_index("ix_findings_eng_open_first")
        batch_op.drop_index("ix_findings_eng_open_check")
        batch_op.drop_index("ix_findings_eng_open_changed")
