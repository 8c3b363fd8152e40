"""Alerts to consumers: the transactional outbox, and the consumer's e-mail address.

`alerts` holds one row per fact that warrants telling the consumer (unique `fact_key`: the
same fact raised twice is one alert), written in the transaction of the fact itself, with the
consumer's language at that moment; `alert_deliveries` one row per alert and channel (SMS,
e-mail, web live feed) with its state (pending, sending under a lease, sent, failed, skipped),
attempts, the time of the next try, and what the provider answered. The delivery worker
finds its work through the index on (state, next_try_at). `consumers.email` is optional.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain ALTER TABLE on both (a batch copy of `consumers` would trip SQLite's foreign keys).
    op.add_column("consumers", sa.Column("email", sa.String(length=254), nullable=True))
    op.create_table(
        "alerts",
        sa.Column("alert_id", _ID, autoincrement=True, nullable=False),
        sa.Column("account_no", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("fact_key", sa.String(length=160), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("raised_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(["account_no"], ["accounts.account_no"], name="fk_alerts_account_no_accounts"),
        sa.PrimaryKeyConstraint("alert_id", name="pk_alerts"),
        sa.UniqueConstraint("fact_key", name="uq_alerts_fact_key"),
    )
    op.create_index("ix_alerts_account_no_raised_at", "alerts", ["account_no", "raised_at"])
    op.create_table(
        "alert_deliveries",
        sa.Column("alert_id", _ID, nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False, server_default="0"),
        sa.Column("next_try_at", _AT, nullable=True),
        sa.Column("lease_until", _AT, nullable=True),
        sa.Column("sent_at", _AT, nullable=True),
        sa.Column("last_error", sa.String(length=256), nullable=False, server_default=""),
        sa.Column("provider_ref", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.alert_id"], name="fk_alert_deliveries_alert_id_alerts"),
        sa.PrimaryKeyConstraint("alert_id", "channel", name="pk_alert_deliveries"),
    )
    op.create_index("ix_alert_deliveries_state_next_try_at", "alert_deliveries", ["state", "next_try_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_deliveries_state_next_try_at", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_index("ix_alerts_account_no_raised_at", table_name="alerts")
    op.drop_table("alerts")
    op.drop_column("consumers", "email")
