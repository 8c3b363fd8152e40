"""The control room's meter search from indexes: the meter id's and the account number's prefix
(lower case, pattern order) and a trigram index on the consumer's name (any word of it), so a
search reads the few meters it finds, not all of them. PostgreSQL only (pg_trgm); SQLite keeps
searching without them.

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE INDEX ix_meters_meter_id_lower ON meters (lower(meter_id) text_pattern_ops)")
    op.execute("CREATE INDEX ix_accounts_account_no_lower ON accounts (lower(account_no) text_pattern_ops)")
    op.execute("CREATE INDEX ix_accounts_consumer_name_trgm ON accounts USING gin (lower(consumer_name) gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in ("ix_accounts_consumer_name_trgm", "ix_accounts_account_no_lower", "ix_meters_meter_id_lower"):
        op.execute(f"DROP INDEX IF EXISTS {name}")
