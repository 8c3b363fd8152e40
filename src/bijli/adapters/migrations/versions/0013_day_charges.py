"""One debit per account and IST day: the ledger stops taking a row per interval.

`day_charges` holds each account's running charge per day (energy, fixed charge, duty, the
tariff version) next to what of it is on the ledger; settlement adds to it, and a day that has
ended goes on the ledger as one `day_charge` entry (later readings as a `day_correction`).
Interval charges are derived from the readings (docs/billing.md). Ledgers written before keep
their `energy_charge` and `fixed_charge` rows as history, under references never posted again.

`billing_months.opening_read_at` says when a month's opening register was read, so a late
reading from before the month can move it; openings recorded before keep NULL and stay as they
are. `ledger.tariff_version` names the tariff version a charge used.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

DAY_OPEN = "(charge_paise <> posted_paise OR duty_paise <> posted_duty_paise OR energy_wh <> posted_energy_wh)"


def upgrade() -> None:
    op.add_column("ledger", sa.Column("tariff_version", sa.String(32), nullable=True))
    op.add_column("billing_months", sa.Column("opening_read_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "day_charges",
        sa.Column("account_no", sa.String(32), sa.ForeignKey("accounts.account_no"), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("charge_paise", sa.BigInteger(), nullable=False),
        sa.Column("duty_paise", sa.BigInteger(), nullable=False),
        sa.Column("energy_wh", sa.BigInteger(), nullable=False),
        sa.Column("tariff_version", sa.String(32), nullable=False),
        sa.Column("posted_paise", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("posted_duty_paise", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("posted_energy_wh", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("postings", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index(
        "ix_day_charges_open",
        "day_charges",
        ["day"],
        postgresql_where=sa.text(DAY_OPEN),
        sqlite_where=sa.text(DAY_OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_day_charges_open", table_name="day_charges")
    op.drop_table("day_charges")
    with op.batch_alter_table("billing_months") as batch:
        batch.drop_column("opening_read_at")
    with op.batch_alter_table("ledger") as batch:
        batch.drop_column("tariff_version")
