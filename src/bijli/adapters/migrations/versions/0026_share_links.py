"""Share links: a household's read-only view of its account for a family member, by a random
token of which only the hash is kept; who made and revoked each, and when; when it expires.

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "share_links",
        sa.Column("link_id", _ID, autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_no", sa.String(length=32), nullable=False),
        sa.Column("meter_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=True),
        sa.Column("made_by", sa.String(length=64), nullable=False),
        sa.Column("made_at", _AT, nullable=False),
        sa.Column("expires_at", _AT, nullable=False),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
        sa.Column("revoked_at", _AT, nullable=True),
        sa.ForeignKeyConstraint(["account_no"], ["accounts.account_no"], name="fk_share_links_account_no_accounts"),
        sa.PrimaryKeyConstraint("link_id", name="pk_share_links"),
        sa.UniqueConstraint("token_hash", name="uq_share_links_token_hash"),
    )
    op.create_index("ix_share_links_account_no", "share_links", ["account_no"])


def downgrade() -> None:
    op.drop_index("ix_share_links_account_no", table_name="share_links")
    op.drop_table("share_links")
