"""The readings by time as well as by meter: a BRIN index on `interval_start` (PostgreSQL), so a
question about the whole fleet's one day (the collection report of the dashboard, the API's
reports) reads that day's blocks of its month's partition, not the month. Readings arrive in
time order, round after round, so a block range summary of a few kilobytes a month is enough;
it costs ingest next to nothing. SQLite keeps its tables as they are.

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX ix_readings_interval_start_brin ON readings USING brin (interval_start)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_readings_interval_start_brin")
