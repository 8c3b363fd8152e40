"""Settlement queue: what the head-end stored, waiting to be validated, charged and added up.

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


def downgrade() -> None:
    op.drop_table("settlement_queue")
