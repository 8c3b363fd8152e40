"""How far running charges may lower an account's balance before the supply service looks again.

`supply_state.headroom_paise`: each decision sets it (`bijli.supply.model.headroom`); a
settlement's day charges take their increment off it and make the account due only when it
is used up. NULL: no charge wakes the account (its balance is below zero already). Existing
rows start at 0, so their next charge wakes them as before.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("supply_state", sa.Column("headroom_paise", sa.BigInteger(), nullable=True, server_default="0"))


def downgrade() -> None:
    op.drop_column("supply_state", "headroom_paise")
