"""Daily registers, token redemptions, and the modem's statistics in meter_state.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meter_state") as batch:
        batch.add_column(sa.Column("failovers", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sim1_s", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("sim2_s", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("switched_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "daily_registers",
        sa.Column("meter_id", sa.String(length=32), nullable=False),
        sa.Column("day_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("import_wh_total", sa.BigInteger(), nullable=False),
        sa.Column("export_wh_total", sa.BigInteger(), nullable=False),
        sa.Column("import_vah_total", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("meter_id", "day_start", name=op.f("pk_daily_registers")),
    )
    op.create_table(
        "token_redemptions",
        sa.Column("meter_id", sa.String(length=32), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("amount_paise", sa.BigInteger(), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("meter_id", "token_id", name=op.f("pk_token_redemptions")),
    )


def downgrade() -> None:
    op.drop_table("token_redemptions")
    op.drop_table("daily_registers")
    with op.batch_alter_table("meter_state") as batch:
        batch.drop_column("switched_at")
        batch.drop_column("sim2_s")
        batch.drop_column("sim1_s")
        batch.drop_column("failovers")
