"""Tables of the store. Money in integer paise, energy in integer Wh, time in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite keeps no zone of its own)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is UTC:  # PostgreSQL's: its sessions are in UTC (`engine.create`)
            return value  # type: ignore[no-any-return]
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

meters = sa.Table(
    "meters",
    metadata,
    sa.Column("meter_id", sa.String(32), primary_key=True),
    sa.Column("area", sa.String(64), nullable=False),
    sa.Column("feeder", sa.String(32), nullable=False),
    sa.Column("transformer", sa.String(32), nullable=False),
    sa.Column("phases", sa.SmallInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("installed_at", UtcDateTime, nullable=False),
)

meter_status_changes = sa.Table(
    "meter_status_changes",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("meter_id", sa.ForeignKey("meters.meter_id"), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("from_status", sa.String(16), nullable=False),
    sa.Column("to_status", sa.String(16), nullable=False),
    sa.Column("changed_by", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(256), nullable=False),
    sa.Index("ix_meter_status_changes_meter_id_at", "meter_id", "at"),
)

consumers = sa.Table(
    "consumers",
    metadata,
    sa.Column("consumer_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("mobile", sa.String(16), nullable=False, index=True),  # +91XXXXXXXXXX
    sa.Column("language", sa.String(2), nullable=False),  # hi | en
    sa.Column("address", sa.String(256), nullable=False, server_default=""),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("email", sa.String(254)),  # optional: alerts by e-mail too
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("account_no", sa.String(32), primary_key=True),
    # The meter installed on the account now (NULL once closed); its history is `installations`.
    sa.Column("meter_id", sa.ForeignKey("meters.meter_id"), nullable=True, unique=True),
    sa.Column("consumer_name", sa.String(128), nullable=False),
    sa.Column("mobile", sa.String(16), nullable=False),
    sa.Column("tariff_code", sa.String(32), nullable=False),
    sa.Column("sanctioned_load_w", sa.Integer, nullable=False),
    sa.Column("opened_at", UtcDateTime, nullable=False),
    sa.Column("consumer_id", sa.ForeignKey("consumers.consumer_id"), nullable=False, index=True),
    sa.Column("status", sa.String(8), nullable=False, server_default="active"),  # active | closed
    sa.Column("closed_at", UtcDateTime),
    sa.Column("arrears_share_pct", sa.SmallInteger),  # NULL: the utility's default (settings)
)

installations = sa.Table(
    "installations",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("account_no", sa.ForeignKey("accounts.account_no"), nullable=False),
    sa.Column("meter_id", sa.ForeignKey("meters.meter_id"), nullable=False),
    sa.Column("installed_at", UtcDateTime, nullable=False),
    sa.Column("opening_wh_total", sa.BigInteger, nullable=False),  # import register at installation
    sa.Column("removed_at", UtcDateTime),  # NULL while installed
    sa.Column("closing_wh_total", sa.BigInteger),  # import register at removal
    sa.Column("reason", sa.String(256), nullable=False, server_default=""),
    sa.Index("ix_installations_meter_id_installed_at", "meter_id", "installed_at"),
    sa.Index("ix_installations_account_no_installed_at", "account_no", "installed_at"),
    sa.Index(
        "uq_installations_open_meter",
        "meter_id",
        unique=True,
        postgresql_where=sa.text("removed_at IS NULL"),
        sqlite_where=sa.text("removed_at IS NULL"),
    ),
    sa.Index(
        "uq_installations_open_account",
        "account_no",
        unique=True,
        postgresql_where=sa.text("removed_at IS NULL"),
        sqlite_where=sa.text("removed_at IS NULL"),
    ),
)

meter_state = sa.Table(
    "meter_state",
    metadata,
    sa.Column("meter_id", sa.ForeignKey("meters.meter_id"), primary_key=True),
    sa.Column("last_fc", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("last_seen", UtcDateTime),
    sa.Column("last_interval", UtcDateTime),
    sa.Column("active_sim", sa.SmallInteger),
    sa.Column("operator", sa.String(32)),
    sa.Column("rssi_dbm", sa.SmallInteger),
    sa.Column("relay", sa.SmallInteger),
    sa.Column("balance_mirror_paise", sa.BigInteger),
    sa.Column("failovers", sa.Integer),
    sa.Column("sim1_s", sa.BigInteger),
    sa.Column("sim2_s", sa.BigInteger),
    sa.Column("switched_at", UtcDateTime),
    sa.Column("fc_window", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("downlink_fc", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("status_fc", sa.BigInteger, nullable=False, server_default="0"),
)

readings = sa.Table(
    "readings",
    metadata,
    sa.Column("meter_id", sa.String(32), primary_key=True),
    sa.Column("interval_start", UtcDateTime, primary_key=True),
    sa.Column("import_wh", sa.Integer, nullable=False),
    sa.Column("import_vah", sa.Integer, nullable=False),
    sa.Column("export_wh", sa.Integer, nullable=False),
    sa.Column("voltage_dv", sa.Integer, nullable=False),
    sa.Column("current_ma", sa.Integer, nullable=False),
    sa.Column("import_wh_total", sa.BigInteger, nullable=False),
    sa.Column("quality", sa.String(16), nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("flags", sa.Integer, nullable=False, server_default="0"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("meter_id", sa.String(32), nullable=False),
    sa.Column("code", sa.Integer, nullable=False),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("meter_id", "code", "occurred_at"),
    sa.Index("ix_events_code_occurred_at", "code", "occurred_at"),  # power events for outages
    sa.Index("ix_events_occurred_at", "occurred_at"),  # the API's lists by time
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("received_at", UtcDateTime, nullable=False, index=True),
    sa.Column("topic", sa.String(256), nullable=False),
    sa.Column("meter_id", sa.String(32), index=True),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("reprocessed_at", UtcDateTime),  # when `bijli quarantine reprocess` took it again
    sa.Column("outcome", sa.String(32)),  # what became of it then: stored, duplicate, refused:<reason>
    sa.Index("ix_quarantine_reason_id", "reason", "id"),
)

ledger = sa.Table(
    "ledger",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("account_no", sa.ForeignKey("accounts.account_no"), nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("amount_paise", sa.BigInteger, nullable=False),
    sa.Column("reference", sa.String(96), nullable=False, unique=True),
    sa.Column("period_start", UtcDateTime),
    sa.Column("energy_wh", sa.Integer),
    sa.Column("posted_at", UtcDateTime, nullable=False),
    sa.Column("duty_paise", sa.BigInteger),  # of amount_paise, the duty on the charge
    sa.Column("tariff_version", sa.String(32)),  # the label of the tariff version a charge used
    sa.Index("ix_ledger_account_no_id", "account_no", "id"),
)

billing_months = sa.Table(
    "billing_months",
    metadata,
    sa.Column("account_no", sa.ForeignKey("accounts.account_no"), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("opening_wh_total", sa.BigInteger, nullable=False),
    # When the opening register was read (a reading's end, or the installation); NULL: before 0013.
    sa.Column("opening_read_at", UtcDateTime),
)

DAY_OPEN = "pending"
"""A day whose charge is not all on the ledger yet (what the partial index holds)."""

day_charges = sa.Table(
    "day_charges",
    metadata,
    sa.Column("account_no", sa.ForeignKey("accounts.account_no"), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("charge_paise", sa.BigInteger, nullable=False),
    sa.Column("duty_paise", sa.BigInteger, nullable=False),
    sa.Column("energy_wh", sa.BigInteger, nullable=False),
    sa.Column("tariff_version", sa.String(32), nullable=False),
    sa.Column("posted_paise", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("posted_duty_paise", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("posted_energy_wh", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("postings", sa.Integer, nullable=False, server_default="0"),
    # Set by every change, cleared when the day's charge is all on the ledger: a running day's
    # updates leave the indexed columns as they were, so PostgreSQL makes them HOT updates (no
    # new index entries) in the room fillfactor 70 leaves on each page.
    sa.Column("pending", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("changed_at", UtcDateTime),  # the last settlement that changed it
    sa.Index("ix_day_charges_pending", "day", postgresql_where=sa.text("pending"), sqlite_where=sa.text("pending")),
    postgresql_with={"fillfactor": 70},
)

daily_registers = sa.Table(
    "daily_registers",
    metadata,
    sa.Column("meter_id", sa.String(32), primary_key=True),
    sa.Column("day_start", UtcDateTime, primary_key=True),
    sa.Column("import_wh_total", sa.BigInteger, nullable=False),
    sa.Column("export_wh_total", sa.BigInteger, nullable=False),
    sa.Column("import_vah_total", sa.BigInteger, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
)

token_redemptions = sa.Table(
    "token_redemptions",
    metadata,
    sa.Column("meter_id", sa.String(32), primary_key=True),
    sa.Column("token_id", sa.Integer, primary_key=True),
    sa.Column("status", sa.SmallInteger, nullable=False),
    sa.Column("amount_paise", sa.BigInteger, nullable=False),
    sa.Column("redeemed_at", UtcDateTime, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("matched_at", UtcDateTime),  # when reconciliation matched it against the token register
)

mirror_checks = sa.Table(
    "mirror_checks",
    metadata,
    sa.Column("meter_id", sa.String(32), primary_key=True),
    sa.Column("status_fc", sa.BigInteger, nullable=False),  # the status report last compared with the ledger
    sa.Column("checked_at", UtcDateTime, nullable=False),
    sa.Column("drift_paise", sa.BigInteger),  # beyond the tolerance at that report; NULL: it agreed
)

payments = sa.Table(
    "payments",
    metadata,
    sa.Column("payment_id", sa.String(64), primary_key=True),
    sa.Column("account_no", sa.ForeignKey("accounts.account_no"), nullable=False, index=True),
    sa.Column("amount_paise", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # captured | failed | refunded
    sa.Column("arrears_recovered_paise", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("captured_at", UtcDateTime),
    sa.Column("failed_at", UtcDateTime),
    sa.Column("refunded_at", UtcDateTime),
)

payment_events = sa.Table(
    "payment_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("event_id", sa.String(64)),
    sa.Column("payment_id", sa.String(64), index=True),
    sa.Column("status", sa.String(16)),
    sa.Column("outcome", sa.String(16), nullable=False),  # applied | duplicate | refused
    sa.Column("reason", sa.String(256), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),  # what the caller sent (its first 4 KiB)
)

tokens_issued = sa.Table(
    "tokens_issued",
    metadata,
    sa.Column("meter_id", sa.String(32), primary_key=True),
    sa.Column("token_id", sa.Integer, primary_key=True),
    sa.Column("account_no", sa.String(32), nullable=False),
    sa.Column("payment_id", sa.String(64), nullable=False, index=True),
    sa.Column("amount_paise", sa.BigInteger, nullable=False),
    sa.Column("issued_at", UtcDateTime, nullable=False),
    sa.Column("key_version", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # issued | redeemed | cancelled
    sa.Column("redeemed_at", UtcDateTime),  # by the meter's clock
    sa.Column("reported_at", UtcDateTime),  # when the head-end heard of it
    sa.Index("ix_tokens_issued_account_no_status", "account_no", "status"),
)

reconciliation_items = sa.Table(
    "reconciliation_items",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("meter_id", sa.String(32)),
    sa.Column("account_no", sa.String(32)),
    sa.Column("payment_id", sa.String(64)),
    sa.Column("token_id", sa.Integer),
    sa.Column("amount_paise", sa.BigInteger),
    sa.Column("detail", sa.String(512), nullable=False),
    sa.Column("opened_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("resolved_at", UtcDateTime),
    sa.Index("ix_reconciliation_items_meter_id_kind", "meter_id", "kind"),
)

reading_edits = sa.Table(
    "reading_edits",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("meter_id", sa.String(32), nullable=False),
    sa.Column("interval_start", UtcDateTime, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # estimated | replaced | flagged
    sa.Column("before", sa.Text),
    sa.Column("after", sa.Text, nullable=False),
    sa.Column("reason", sa.String(128), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Index("ix_reading_edits_meter_id_interval_start", "meter_id", "interval_start"),
    sa.Index("ix_reading_edits_at", "at"),  # the edits since a moment: the energy balance's late estimates
)

meter_daily = sa.Table(
    "meter_daily",
    metadata,
    sa.Column("meter_id", sa.String(32), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("wh", sa.BigInteger, nullable=False),
    sa.Column("intervals", sa.Integer, nullable=False),
    sa.Column("last_received_at", UtcDateTime, nullable=False),
    *(sa.Column(n, sa.Integer, nullable=False, server_default="0") for n in ("in_8h", "in_24h")),  # in by 8 h, 24 h
    sa.Index("ix_meter_daily_day", "day"),  # the control room's fleet on one day, and the newest day
)

ingest_batches = sa.Table(
    "ingest_batches",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("worker", sa.String(64), nullable=False),
    sa.Column("committed_at", UtcDateTime, nullable=False, index=True),
    sa.Column("received", sa.Integer, nullable=False),
    sa.Column("readings_stored", sa.Integer, nullable=False),
    sa.Column("readings_duplicate", sa.Integer, nullable=False),
    sa.Column("readings_replaced", sa.Integer, nullable=False),
    sa.Column("quarantined", sa.Integer, nullable=False),
)

commands = sa.Table(
    "commands",
    metadata,
    sa.Column("command_id", sa.String(40), primary_key=True),
    sa.Column("idempotency_key", sa.String(96), nullable=False, unique=True),
    sa.Column("meter_id", sa.ForeignKey("meters.meter_id"), nullable=False, index=True),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("args", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("requested_by", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(256), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_sent_at", UtcDateTime),
    sa.Column("detail", sa.Text, nullable=False, server_default=""),
)

command_log = sa.Table(
    "command_log",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("command_id", sa.ForeignKey("commands.command_id"), nullable=False, index=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)

meter_keys = sa.Table(
    "meter_keys",
    metadata,
    sa.Column("meter_id", sa.ForeignKey("meters.meter_id"), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),  # the key version the meter holds
    sa.Column("pending", sa.Integer),  # the version a key change moves it to (NULL: none)
    sa.Column("changed_at", UtcDateTime, nullable=False),
    sa.Index("ix_meter_keys_version_pending", "version", "pending"),
)

settlement_queue = sa.Table(
    "settlement_queue",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("enqueued_at", UtcDateTime, nullable=False),
    sa.Column("readings", sa.LargeBinary, nullable=False),
    # msgpack [[meter_id, interval start, sent at (epoch seconds)], ...]: actual readings an
    # ingest batch stored (up to 500 a row), waiting to be validated, charged and added up.
)

# Access: staff, integrations' tokens, sessions, login attempts, one-time codes, bulk requests.
# Only hashes of passwords, codes, tokens and session keys are stored.
staff = sa.Table(
    "staff",
    metadata,
    sa.Column("username", sa.String(48), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("totp_secret", sa.String(64)),
    sa.Column("totp_last_step", sa.BigInteger),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("mobile", sa.String(16)),  # +91XXXXXXXXXX: a case's alert by SMS
    sa.Column("email", sa.String(254)),  # optional: a case's alert by e-mail too
    sa.Column("language", sa.String(2), nullable=False, server_default="en"),  # hi | en
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("name", sa.String(48), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("revoked_at", UtcDateTime),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("key_hash", sa.String(64), primary_key=True),
    sa.Column("subject", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
)

login_attempts = sa.Table(
    "login_attempts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("subject", sa.String(80), nullable=False),
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Index("ix_login_attempts_subject_at", "subject", "at"),
    sa.Index("ix_login_attempts_address_at", "address", "at"),
)

login_codes = sa.Table(
    "login_codes",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("mobile", sa.String(16), nullable=False),
    sa.Column("code_hash", sa.String(255), nullable=False),
    sa.Column("sent_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("wrong_tries", sa.Integer, nullable=False, server_default="0"),
    sa.Column("used_at", UtcDateTime),
    sa.Index("ix_login_codes_mobile_sent_at", "mobile", "sent_at"),
)

bulk_requests = sa.Table(
    "bulk_requests",
    metadata,
    sa.Column("request_id", sa.String(40), primary_key=True),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("meter_ids", sa.Text, nullable=False),  # a JSON list
    sa.Column("reason", sa.String(256), nullable=False),
    sa.Column("requested_by", sa.String(64), nullable=False),
    sa.Column("requested_at", UtcDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("decided_by", sa.String(64)),
    sa.Column("decided_at", UtcDateTime),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
)
