"""risk assessment

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 07:52:53.543060
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shaobing.core.models import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "risk_businesses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engagement_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("importance", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_risk_businesses_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagements.id"],
            name=op.f("fk_risk_businesses_engagement_id_engagements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_businesses")),
        sa.UniqueConstraint(
            "engagement_id", "name", name=op.f("uq_risk_businesses_engagement_id_name")
        ),
    )
    with op.batch_alter_table("risk_businesses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_risk_businesses_client_id"), ["client_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_risk_businesses_engagement_id"), ["engagement_id"], unique=False
        )

    op.create_table(
        "risk_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engagement_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("parameters", _JSON, nullable=False),
        sa.Column("summary", _JSON, nullable=False),
        sa.Column("results", _JSON, nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_risk_runs_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagements.id"],
            name=op.f("fk_risk_runs_engagement_id_engagements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_runs")),
    )
    with op.batch_alter_table("risk_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_runs_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_risk_runs_engagement_id"), ["engagement_id"], unique=False
        )

    op.create_table(
        "risk_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engagement_id", sa.Integer(), nullable=False),
        sa.Column("override", _JSON, nullable=False),
        sa.Column("source_name", sa.String(length=500), nullable=True),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_risk_settings_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagements.id"],
            name=op.f("fk_risk_settings_engagement_id_engagements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_settings")),
        sa.UniqueConstraint("engagement_id", name=op.f("uq_risk_settings_engagement_id")),
    )
    with op.batch_alter_table("risk_settings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_settings_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_risk_settings_engagement_id"), ["engagement_id"], unique=False
        )

    op.create_table(
        "risk_threats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engagement_id", sa.Integer(), nullable=False),
        sa.Column("threat_id", sa.String(length=32), nullable=False),
        sa.Column("changes", _JSON, nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_risk_threats_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagements.id"],
            name=op.f("fk_risk_threats_engagement_id_engagements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_threats")),
        sa.UniqueConstraint(
            "engagement_id", "threat_id", name=op.f("uq_risk_threats_engagement_id_threat_id")
        ),
    )
    with op.batch_alter_table("risk_threats", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_threats_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_risk_threats_engagement_id"), ["engagement_id"], unique=False
        )

    op.create_table(
        "risk_business_systems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("relevance", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["risk_businesses.id"],
            name=op.f("fk_risk_business_systems_business_id_risk_businesses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_risk_business_systems_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["system_id"],
            ["business_systems.id"],
            name=op.f("fk_risk_business_systems_system_id_business_systems"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_business_systems")),
        sa.UniqueConstraint(
            "business_id", "system_id", name=op.f("uq_risk_business_systems_business_id_system_id")
        ),
    )
    with op.batch_alter_table("risk_business_systems", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_risk_business_systems_business_id"), ["business_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_risk_business_systems_client_id"), ["client_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_risk_business_systems_system_id"), ["system_id"], unique=False
        )

    op.create_table(
        "risk_measures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engagement_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("measure_type", sa.String(length=16), nullable=False),
        sa.Column("effect", sa.Integer(), nullable=False),
        sa.Column("threat_ids", _JSON, nullable=False),
        sa.Column("vuln_classes", _JSON, nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=True),
        sa.Column("system_id", sa.Integer(), nullable=True),
        sa.Column("effective", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_risk_measures_asset_id_assets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_risk_measures_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagements.id"],
            name=op.f("fk_risk_measures_engagement_id_engagements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["system_id"],
            ["business_systems.id"],
            name=op.f("fk_risk_measures_system_id_business_systems"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_measures")),
    )
    with op.batch_alter_table("risk_measures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_measures_asset_id"), ["asset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_risk_measures_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_risk_measures_engagement_id"), ["engagement_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_risk_measures_system_id"), ["system_id"], unique=False)

    op.create_table(
        "risk_vulnerabilities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engagement_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("vuln_type", sa.String(length=16), nullable=False),
        sa.Column("vuln_class", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=True),
        sa.Column("system_id", sa.Integer(), nullable=True),
        sa.Column("threat_id", sa.String(length=32), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_risk_vulnerabilities_asset_id_assets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_risk_vulnerabilities_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["engagement_id"],
            ["engagements.id"],
            name=op.f("fk_risk_vulnerabilities_engagement_id_engagements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["system_id"],
            ["business_systems.id"],
            name=op.f("fk_risk_vulnerabilities_system_id_business_systems"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_vulnerabilities")),
    )
    with op.batch_alter_table("risk_vulnerabilities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_risk_vulnerabilities_asset_id"), ["asset_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_risk_vulnerabilities_client_id"), ["client_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_risk_vulnerabilities_engagement_id"), ["engagement_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_risk_vulnerabilities_system_id"), ["system_id"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("risk_vulnerabilities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_vulnerabilities_system_id"))
        batch_op.drop_index(batch_op.f("ix_risk_vulnerabilities_engagement_id"))
        batch_op.drop_index(batch_op.f("ix_risk_vulnerabilities_client_id"))
        batch_op.drop_index(batch_op.f("ix_risk_vulnerabilities_asset_id"))

    op.drop_table("risk_vulnerabilities")
    with op.batch_alter_table("risk_measures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_measures_system_id"))
        batch_op.drop_index(batch_op.f("ix_risk_measures_engagement_id"))
        batch_op.drop_index(batch_op.f("ix_risk_measures_client_id"))
        batch_op.drop_index(batch_op.f("ix_risk_measures_asset_id"))

    op.drop_table("risk_measures")
    with op.batch_alter_table("risk_business_systems", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_business_systems_system_id"))
        batch_op.drop_index(batch_op.f("ix_risk_business_systems_client_id"))
        batch_op.drop_index(batch_op.f("ix_risk_business_systems_business_id"))

    op.drop_table("risk_business_systems")
    with op.batch_alter_table("risk_threats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_threats_engagement_id"))
        batch_op.drop_index(batch_op.f("ix_risk_threats_client_id"))

    op.drop_table("risk_threats")
    with op.batch_alter_table("risk_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_settings_engagement_id"))
        batch_op.drop_index(batch_op.f("ix_risk_settings_client_id"))

    op.drop_table("risk_settings")
    with op.batch_alter_table("risk_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_runs_engagement_id"))
        batch_op.drop_index(batch_op.f("ix_risk_runs_client_id"))

    op.drop_table("risk_runs")
    with op.batch_alter_table("risk_businesses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_businesses_engagement_id"))
        batch_op.drop_index(batch_op.f("ix_risk_businesses_client_id"))

    op.drop_table("risk_businesses")
