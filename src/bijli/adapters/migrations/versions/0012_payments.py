"""Payments taken through the gateway's webhook, the register of recharge tokens issued, and
reconciliation items.

`payments` holds one row per gateway payment id (its state: captured, failed, refunded);
`payment_events` every webhook call, applied or refused, for audit; `tokens_issued` every
token issued, unique per meter and tied to its payment; `reconciliation_items` what did not
add up (a redemption no token explains, a meter's credit mirror drifting from the ledger);
`mirror_checks` the newest status report of each meter compared with the ledger, and
`token_redemptions.matched_at` when a redemption was matched against the register.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("account_no", sa.String(length=32), nullable=False),
        sa.Column("amount_paise", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("arrears_recovered_paise", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("received_at", _AT, nullable=False),
        sa.Column("captured_at", _AT, nullable=True),
        sa.Column("failed_at", _AT, nullable=True),
        sa.Column("refunded_at", _AT, nullable=True),
        sa.ForeignKeyConstraint(["account_no"], ["accounts.account_no"], name="fk_payments_account_no_accounts"),
        sa.PrimaryKeyConstraint("payment_id", name="pk_payments"),
    )
    op.create_index("ix_payments_account_no", "payments", ["account_no"])
    op.create_table(
        "payment_events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("received_at", _AT, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("payment_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=256), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payment_events"),
    )
    op.create_index("ix_payment_events_payment_id", "payment_events", ["payment_id"])
    op.create_table(
        "tokens_issued",
        sa.Column("meter_id", sa.String(length=32), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("account_no", sa.String(length=32), nullable=False),
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("amount_paise", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", _AT, nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("redeemed_at", _AT, nullable=True),
        sa.Column("reported_at", _AT, nullable=True),
        sa.PrimaryKeyConstraint("meter_id", "token_id", name="pk_tokens_issued"),
    )
    op.create_index("ix_tokens_issued_payment_id", "tokens_issued", ["payment_id"])
    op.create_index("ix_tokens_issued_account_no_status", "tokens_issued", ["account_no", "status"])
    op.create_table(
        "reconciliation_items",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("meter_id", sa.String(length=32), nullable=True),
        sa.Column("account_no", sa.String(length=32), nullable=True),
        sa.Column("payment_id", sa.String(length=64), nullable=True),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("amount_paise", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.String(length=512), nullable=False),
        sa.Column("opened_at", _AT, nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
        sa.Column("resolved_at", _AT, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_reconciliation_items"),
    )
    op.create_index("ix_reconciliation_items_meter_id_kind", "reconciliation_items", ["meter_id", "kind"])
    op.create_table(
        "mirror_checks",
        sa.Column("meter_id", sa.String(length=32), nullable=False),
        sa.Column("status_fc", sa.BigInteger(), nullable=False),
        sa.Column("checked_at", _AT, nullable=False),
        sa.Column("drift_paise", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("meter_id", name="pk_mirror_checks"),
    )
    with op.batch_alter_table("token_redemptions") as batch:
        batch.add_column(sa.Column("matched_at", _AT, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("token_redemptions") as batch:
        batch.drop_column("matched_at")
    op.drop_table("mirror_checks")
    op.drop_index("ix_reconciliation_items_meter_id_kind", table_name="reconciliation_items")
    op.drop_table("reconciliation_items")
    op.drop_index("ix_tokens_issued_account_no_status", table_name="tokens_issued")
    op.drop_index("ix_tokens_issued_payment_id", table_name="tokens_issued")
    op.drop_table("tokens_issued")
    op.drop_index("ix_payment_events_payment_id", table_name="payment_events")
    op.drop_table("payment_events")
    op.drop_index("ix_payments_account_no", table_name="payments")
    op.drop_table("payments")
