"""Meter data management: quality flags and edits, daily usage, ingest log, commands.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("readings") as batch:
        batch.add_column(sa.Column("flags", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("meter_state") as batch:
        batch.add_column(sa.Column("fc_window", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("downlink_fc", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("status_fc", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_table(
        "reading_edits",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("meter_id", sa.String(length=32), nullable=False),
        sa.Column("interval_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reading_edits")),
    )
    op.create_index("ix_reading_edits_meter_id_interval_start", "reading_edits", ["meter_id", "interval_start"])
    op.create_table(
        "meter_daily",
        sa.Column("meter_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("wh", sa.BigInteger(), nullable=False),
        sa.Column("intervals", sa.Integer(), nullable=False),
        sa.Column("last_received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("meter_id", "day", name=op.f("pk_meter_daily")),
    )
    op.create_table(
        "ingest_batches",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("worker", sa.String(length=64), nullable=False),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("readings_stored", sa.Integer(), nullable=False),
        sa.Column("readings_duplicate", sa.Integer(), nullable=False),
        sa.Column("readings_replaced", sa.Integer(), nullable=False),
        sa.Column("quarantined", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_batches")),
    )
    op.create_index("ix_ingest_batches_committed_at", "ingest_batches", ["committed_at"])
    op.create_table(
        "commands",
        sa.Column("command_id", sa.String(length=40), nullable=False),
        sa.Column("idempotency_key", sa.String(length=96), nullable=False),
        sa.Column("meter_id", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("args", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(["meter_id"], ["meters.meter_id"], name=op.f("fk_commands_meter_id_meters")),
        sa.PrimaryKeyConstraint("command_id", name=op.f("pk_commands")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_commands_idempotency_key")),
    )
    op.create_index("ix_commands_meter_id", "commands", ["meter_id"])
    op.create_index("ix_commands_status", "commands", ["status"])
    op.create_table(
        "command_log",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("command_id", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["command_id"], ["commands.command_id"], name=op.f("fk_command_log_command_id_commands")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_command_log")),
    )
    op.create_index("ix_command_log_command_id", "command_log", ["command_id"])


def downgrade() -> None:
    op.drop_table("command_log")
    op.drop_table("commands")
    op.drop_table("ingest_batches")
    op.drop_table("meter_daily")
    op.drop_table("reading_edits")
    with op.batch_alter_table("meter_state") as batch:
        batch.drop_column("status_fc")
        batch.drop_column("downlink_fc")
        batch.drop_column("fc_window")
    with op.batch_alter_table("readings") as batch:
        batch.drop_column("flags")
