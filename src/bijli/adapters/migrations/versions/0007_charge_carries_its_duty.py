"""A charge carries its own duty: one ledger entry per interval (and per day's fixed charge)
instead of two.

`ledger.duty_paise` is the part of a charge's `amount_paise` that is electricity duty. Entries
posted before keep their separate `electricity_duty` rows, and their references stay as they
were, so nothing already charged is charged again.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ledger", sa.Column("duty_paise", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        batch.drop_column("duty_paise")
