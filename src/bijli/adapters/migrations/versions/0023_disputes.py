"""Disputes: a household disputes a day's charge, with the day's figures as evidence; the
utility answers within seven days (`due_at`). One dispute per account and day.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "disputes",
        sa.Column("dispute_id", _ID, autoincrement=True, nullable=False),
        sa.Column("account_no", sa.String(length=32), nullable=False),
        sa.Column("meter_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("raised_by", sa.String(length=64), nullable=False),
        sa.Column("raised_at", _AT, nullable=False),
        sa.Column("due_at", _AT, nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("answer", sa.String(length=500), nullable=True),
        sa.Column("answered_by", sa.String(length=64), nullable=True),
        sa.Column("answered_at", _AT, nullable=True),
        sa.ForeignKeyConstraint(["account_no"], ["accounts.account_no"], name="fk_disputes_account_no_accounts"),
        sa.PrimaryKeyConstraint("dispute_id", name="pk_disputes"),
        sa.UniqueConstraint("account_no", "day", name="uq_disputes_account_no"),
    )
    op.create_index("ix_disputes_answered_at_due_at", "disputes", ["answered_at", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_disputes_answered_at_due_at", table_name="disputes")
    op.drop_table("disputes")
