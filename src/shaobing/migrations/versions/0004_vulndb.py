"""offline vulnerability database: CVEs, CPE criteria, import state

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 02:12:40.332431
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "cves",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=True),
        sa.Column("published", sa.DateTime(), nullable=True),
        sa.Column("modified", sa.DateTime(), nullable=True),
        sa.Column("rejected", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("cvss3_vector", sa.String(length=200), nullable=True),
        sa.Column("cvss3_score", sa.Float(), nullable=True),
        sa.Column("cvss3_severity", sa.String(length=16), nullable=True),
        sa.Column("cvss4_vector", sa.String(length=300), nullable=True),
        sa.Column("cvss4_score", sa.Float(), nullable=True),
        sa.Column("cvss4_severity", sa.String(length=16), nullable=True),
        sa.Column("cwe_ids", _JSON, nullable=False),
        sa.Column("reference_urls", _JSON, nullable=False),
        sa.Column("criteria_count", sa.Integer(), nullable=False),
        sa.Column("kev", sa.Boolean(), nullable=False),
        sa.Column("kev_date_added", sa.Date(), nullable=True),
        sa.Column("kev_due_date", sa.Date(), nullable=True),
        sa.Column("kev_ransomware", sa.Boolean(), nullable=True),
        sa.Column("epss_score", sa.Float(), nullable=True),
        sa.Column("epss_percentile", sa.Float(), nullable=True),
        sa.Column("epss_date", sa.Date(), nullable=True),
        sa.Column("cnvd_ids", _JSON, nullable=False),
        sa.Column("cnnvd_ids", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cves")),
    )
    with op.batch_alter_table("cves", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cves_kev"), ["kev"], unique=False)
        batch_op.create_index(batch_op.f("ix_cves_modified"), ["modified"], unique=False)
        # The matcher leaves out rejected CVEs; few are, so an index finds them at once.
        batch_op.create_index(batch_op.f("ix_cves_rejected"), ["rejected"], unique=False)

    op.create_table(
        "vulndb_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("source_name", sa.String(length=1000), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("newest_modified", sa.DateTime(), nullable=True),
        sa.Column("stats", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vulndb_imports")),
    )
    with op.batch_alter_table("vulndb_imports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vulndb_imports_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_vulndb_imports_sha256"), ["sha256"], unique=False)

    op.create_table(
        "cpe_criteria",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cve_id", sa.String(length=32), nullable=False),
        sa.Column("config_index", sa.Integer(), nullable=False),
        sa.Column("config_operator", sa.String(length=3), nullable=False),
        sa.Column("config_negate", sa.Boolean(), nullable=False),
        sa.Column("node_index", sa.Integer(), nullable=False),
        sa.Column("node_operator", sa.String(length=3), nullable=False),
        sa.Column("node_negate", sa.Boolean(), nullable=False),
        sa.Column("vulnerable", sa.Boolean(), nullable=False),
        sa.Column("criteria", sa.String(length=500), nullable=False),
        sa.Column("part", sa.String(length=1), nullable=False),
        sa.Column("vendor", sa.String(length=200), nullable=False),
        sa.Column("product", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("version_start_including", sa.String(length=100), nullable=True),
        sa.Column("version_start_excluding", sa.String(length=100), nullable=True),
        sa.Column("version_end_including", sa.String(length=100), nullable=True),
        sa.Column("version_end_excluding", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["cve_id"], ["cves.id"], name=op.f("fk_cpe_criteria_cve_id_cves"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cpe_criteria")),
    )
    with op.batch_alter_table("cpe_criteria", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cpe_criteria_cve_id"), ["cve_id"], unique=False)
        batch_op.create_index("ix_cpe_criteria_product_vendor", ["product", "vendor"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("cpe_criteria", schema=None) as batch_op:
        batch_op.drop_index("ix_cpe_criteria_product_vendor")
        batch_op.drop_index(batch_op.f("ix_cpe_criteria_cve_id"))

    op.drop_table("cpe_criteria")
    with op.batch_alter_table("vulndb_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vulndb_imports_sha256"))
        batch_op.drop_index(batch_op.f("ix_vulndb_imports_kind"))

    op.drop_table("vulndb_imports")
    with op.batch_alter_table("cves", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cves_rejected"))
        batch_op.drop_index(batch_op.f("ix_cves_modified"))
        batch_op.drop_index(batch_op.f("ix_cves_kev"))

    op.drop_table("cves")
