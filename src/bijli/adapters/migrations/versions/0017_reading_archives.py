"""Archived months of readings: one row per Parquet file `bijli db archive` wrote.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reading_archives",
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("first_meter", sa.String(32), nullable=False),
        sa.Column("last_meter", sa.String(32), nullable=False),
        sa.Column("meters", sa.Integer(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reading_archives")
