"""Initial schema: meters, accounts, readings, events, quarantine, ledger.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("meter_id", sa.String(length=32), nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("meter_id", "code", "occurred_at", name=op.f("uq_events_meter_id_code_occurred_at")),
    )
    op.create_table(
        "meters",
        sa.Column("meter_id", sa.String(length=32), nullable=False),
        sa.Column("area", sa.String(length=64), nullable=False),
        sa.Column("feeder", sa.String(length=32), nullable=False),
        sa.Column("transformer", sa.String(length=32), nullable=False),
        sa.Column("phases", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("meter_id", name=op.f("pk_meters")),
    )
    op.create_table(
        "quarantine",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("topic", sa.String(length=256), nullable=False),
        sa.Column("meter_id", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quarantine_meter_id"), ["meter_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_quarantine_received_at"), ["received_at"], unique=False)

    op.create_table(
        "readings",
        sa.Column("meter_id", sa.String(length=32), nullable=False),
        sa.Column("interval_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("import_wh", sa.Integer(), nullable=False),
        sa.Column("import_vah", sa.Integer(), nullable=False),
        sa.Column("export_wh", sa.Integer(), nullable=False),
        sa.Column("voltage_dv", sa.Integer(), nullable=False),
        sa.Column("current_ma", sa.Integer(), nullable=False),
        sa.Column("import_wh_total", sa.BigInteger(), nullable=False),
        sa.Column("quality", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("meter_id", "interval_start", name=op.f("pk_readings")),
    )
    op.create_table(
        "accounts",
        sa.Column("account_no", sa.String(length=32), nullable=False),
        sa.Column("meter_id", sa.String(length=32), nullable=False),
        sa.Column("consumer_name", sa.String(length=128), nullable=False),
        sa.Column("mobile", sa.String(length=16), nullable=False),
        sa.Column("tariff_code", sa.String(length=32), nullable=False),
        sa.Column("sanctioned_load_w", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["meter_id"], ["meters.meter_id"], name=op.f("fk_accounts_meter_id_meters")),
        sa.PrimaryKeyConstraint("account_no", name=op.f("pk_accounts")),
        sa.UniqueConstraint("meter_id", name=op.f("uq_accounts_meter_id")),
    )
    op.create_table(
        "meter_state",
        sa.Column("meter_id", sa.String(length=32), nullable=False),
        sa.Column("last_fc", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_interval", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active_sim", sa.SmallInteger(), nullable=True),
        sa.Column("operator", sa.String(length=32), nullable=True),
        sa.Column("rssi_dbm", sa.SmallInteger(), nullable=True),
        sa.Column("relay", sa.SmallInteger(), nullable=True),
        sa.Column("balance_mirror_paise", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["meter_id"], ["meters.meter_id"], name=op.f("fk_meter_state_meter_id_meters")),
        sa.PrimaryKeyConstraint("meter_id", name=op.f("pk_meter_state")),
    )
    op.create_table(
        "billing_months",
        sa.Column("account_no", sa.String(length=32), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("opening_wh_total", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_no"],
            ["accounts.account_no"],
            name=op.f("fk_billing_months_account_no_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_no", "month", name=op.f("pk_billing_months")),
    )
    op.create_table(
        "ledger",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("account_no", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("amount_paise", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=96), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("energy_wh", sa.Integer(), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_no"], ["accounts.account_no"], name=op.f("fk_ledger_account_no_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger")),
        sa.UniqueConstraint("reference", name=op.f("uq_ledger_reference")),
    )
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_account_no_id", ["account_no", "id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_account_no_id")

    op.drop_table("ledger")
    op.drop_table("billing_months")
    op.drop_table("meter_state")
    op.drop_table("accounts")
    op.drop_table("readings")
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantine_received_at"))
        batch_op.drop_index(batch_op.f("ix_quarantine_meter_id"))

    op.drop_table("quarantine")
    op.drop_table("meters")
    op.drop_table("events")
