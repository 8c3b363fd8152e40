"""Settlement queue: what the head-end stored, waiting to be validated, charged and added up.

PostgreSQL: meter_state keeps half of each page free for in-place updates.

The head-end's acknowledged path only stores what meters sent; validation flags, ledger
charges and daily aggregates follow from this queue, one row per ingest batch.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "settlement_queue",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("readings", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_queue")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Every batch rewrites its meters' frame counters: room on each page lets PostgreSQL
        # update in place (HOT) instead of moving rows and touching the index.
        op.execute("ALTER TABLE meter_state SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE meter_state RESET (fillfactor)")
    op.drop_table("settlement_queue")
