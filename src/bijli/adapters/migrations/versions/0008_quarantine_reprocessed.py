"""Quarantined frames that were reprocessed say when, and what became of them.

`quarantine.reprocessed_at` and `quarantine.outcome` ("stored", "duplicate", "refused:<reason>")
mark a kept frame that `bijli quarantine reprocess` ran through screening and ingest again, so
it is never reprocessed twice; the row itself stays, with its first reason, as history.
`ix_quarantine_reason_id` finds the frames still waiting for a reason, oldest first.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quarantine") as batch:
        batch.add_column(sa.Column("reprocessed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(length=32), nullable=True))
    op.create_index("ix_quarantine_reason_id", "quarantine", ["reason", "id"])


def downgrade() -> None:
    op.drop_index("ix_quarantine_reason_id", table_name="quarantine")
    with op.batch_alter_table("quarantine") as batch:
        batch.drop_column("outcome")
        batch.drop_column("reprocessed_at")
