"""The supply service's memory per account, and its due queue.

`supply_state` holds, per account, what the supply service (`bijli.supply`) remembers between
decisions: since when the balance is below zero, the low-balance level last alerted and the
recharge it refers to, the disconnect notices sent, the cutoff permit, whether supply holds the
relay open, the open disconnect and reconnect commands; and `next_check_at`, the due queue:
a fact that changes the balance or the relay sets it to now, the service sets the next
wake-up. Every active account starts due, so the service looks at each once.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "supply_state",
        sa.Column("account_no", sa.String(32), sa.ForeignKey("accounts.account_no"), primary_key=True),
        sa.Column("negative_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recharge_ref", sa.String(96), nullable=True),
        sa.Column("level_alerted", sa.SmallInteger(), nullable=True),
        sa.Column("notices", sa.SmallInteger(), nullable=False, server_default="0"),
        sa.Column("last_warned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("permit_sent", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("cut", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("cut_command_id", sa.String(40), nullable=True),
        sa.Column("reconnect_command_id", sa.String(40), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_supply_state_next_check_at", "supply_state", ["next_check_at"])
    op.execute(
        "INSERT INTO supply_state (account_no, next_check_at) "
        "SELECT account_no, CURRENT_TIMESTAMP FROM accounts WHERE status = 'active'"
    )


def downgrade() -> None:
    op.drop_index("ix_supply_state_next_check_at", table_name="supply_state")
    op.drop_table("supply_state")
