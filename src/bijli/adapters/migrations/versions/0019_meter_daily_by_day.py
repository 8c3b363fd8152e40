"""The daily table by day: the control room reads the whole fleet's one day, and the newest day with data.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_meter_daily_day", "meter_daily", ["day"])


def downgrade() -> None:
    op.drop_index("ix_meter_daily_day", table_name="meter_daily")
