"""Meter status changes: who took a meter out of service or put it back, when and why.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "meter_status_changes",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("meter_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meters.meter_id"], name=op.f("fk_meter_status_changes_meter_id_meters")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_status_changes")),
    )
    op.create_index("ix_meter_status_changes_meter_id_at", "meter_status_changes", ["meter_id", "at"])


def downgrade() -> None:
    op.drop_table("meter_status_changes")
