"""Energy accounting: each transformer's balance per IST day.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "energy_days",
        sa.Column("transformer", sa.String(32), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("feeder", sa.String(32), nullable=False),
        sa.Column("area", sa.String(64), nullable=False),
        sa.Column("consumers", sa.Integer(), nullable=False),
        sa.Column("supplied_wh", sa.BigInteger(), nullable=False),
        sa.Column("supplied_estimated_wh", sa.BigInteger(), nullable=False),
        sa.Column("billed_wh", sa.BigInteger(), nullable=False),
        sa.Column("billed_estimated_wh", sa.BigInteger(), nullable=False),
        sa.Column("intervals", sa.Integer(), nullable=False),
        sa.Column("consumer_intervals", sa.Integer(), nullable=False),
        sa.Column("slots", sa.Text(), nullable=False),
        sa.Column("unexplained_w", sa.Integer()),
        sa.Column("night_w", sa.Integer()),
        sa.Column("excess_w", sa.Integer()),
        sa.Column("flagged", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_energy_days_day_area", "energy_days", ["day", "area"])


def downgrade() -> None:
    op.drop_index("ix_energy_days_day_area", table_name="energy_days")
    op.drop_table("energy_days")
