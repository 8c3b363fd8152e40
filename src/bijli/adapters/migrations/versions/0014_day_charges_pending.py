"""Day charges that settle with HOT updates, and close once their readings have stopped coming.

`day_charges.pending` marks a day whose charge is not all on the ledger (the partial index
that finds days to close is on it, instead of on the charge columns every settlement changes,
so a running day's updates leave every index as it was and PostgreSQL makes them HOT updates
in the room `fillfactor` 70 leaves on each page); `changed_at` is when settlement last changed
the day, so a day closes only once its readings have stopped coming for a while (a meter
delivering its buffer after an outage gets one correction, not one per batch).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

WAS_OPEN = "(charge_paise <> posted_paise OR duty_paise <> posted_duty_paise OR energy_wh <> posted_energy_wh)"


def upgrade() -> None:
    with op.batch_alter_table("day_charges") as batch:
        batch.add_column(sa.Column("pending", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(f"UPDATE day_charges SET pending = {WAS_OPEN}")
    op.drop_index("ix_day_charges_open", table_name="day_charges")
    op.create_index(
        "ix_day_charges_pending",
        "day_charges",
        ["day"],
        postgresql_where=sa.text("pending"),
        sqlite_where=sa.text("pending"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE day_charges SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE day_charges RESET (fillfactor)")
    op.drop_index("ix_day_charges_pending", table_name="day_charges")
    op.create_index(
        "ix_day_charges_open",
        "day_charges",
        ["day"],
        postgresql_where=sa.text(WAS_OPEN),
        sqlite_where=sa.text(WAS_OPEN),
    )
    with op.batch_alter_table("day_charges") as batch:
        batch.drop_column("changed_at")
        batch.drop_column("pending")
