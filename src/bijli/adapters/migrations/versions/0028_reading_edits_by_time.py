"""The reading edits by time: an index on `at`, so the energy balance finds the estimates made
(or replaced) since a transformer's day was last worked out without reading the whole log.

Revision ID: 0028
Revises: 0027
"""

from __future__ import annotations

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_reading_edits_at", "reading_edits", ["at"])


def downgrade() -> None:
    op.drop_index("ix_reading_edits_at", table_name="reading_edits")
