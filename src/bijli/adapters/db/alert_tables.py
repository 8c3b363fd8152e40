"""The alerts' tables: the outbox and each channel's delivery (on the store's one `metadata`)."""

from __future__ import annotations

import sqlalchemy as sa

from bijli.adapters.db.schema import BigId, UtcDateTime, metadata

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("alert_id", BigId, primary_key=True, autoincrement=True),
    sa.Column("account_no", sa.ForeignKey("accounts.account_no")),  # for a consumer, or
    sa.Column("staff_username", sa.ForeignKey("staff.username")),  # for a staff member
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("fact_key", sa.String(160), nullable=False, unique=True),  # one alert per fact
    sa.Column("facts", sa.JSON, nullable=False),
    sa.Column("language", sa.String(2), nullable=False),  # the consumer's when raised: hi | en
    sa.Column("raised_at", UtcDateTime, nullable=False),
    sa.Index("ix_alerts_account_no_raised_at", "account_no", "raised_at"),
    sa.Index("ix_alerts_staff_username_raised_at", "staff_username", "raised_at"),
)

alert_deliveries = sa.Table(
    "alert_deliveries",
    metadata,
    sa.Column("alert_id", sa.ForeignKey("alerts.alert_id"), primary_key=True),
    sa.Column("channel", sa.String(8), primary_key=True),  # sms | email | web
    sa.Column("state", sa.String(8), nullable=False),  # pending | sending | sent | failed | skipped
    sa.Column("attempts", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("next_try_at", UtcDateTime),  # pending: when due; sending: when the lease ends
    sa.Column("lease_until", UtcDateTime),
    sa.Column("sent_at", UtcDateTime),
    sa.Column("last_error", sa.String(256), nullable=False, server_default=""),
    sa.Column("provider_ref", sa.String(128)),
    sa.Index("ix_alert_deliveries_state_next_try_at", "state", "next_try_at"),
)
