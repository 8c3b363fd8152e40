"""Each meter's key version, and the version a key change is moving it to.

`meter_keys` has a row for a meter once a rotation has looked at it (`bijli keys rotate`):
`version` is the key version the meter holds, `pending` the version a key-change command is
moving it to (NULL when none is under way). A meter without a row holds the site's current
version (it was provisioned with it). `ix_meter_keys_version_pending` counts meters by version.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meter_keys",
        sa.Column("meter_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["meter_id"], ["meters.meter_id"], name="fk_meter_keys_meter_id_meters"),
        sa.PrimaryKeyConstraint("meter_id", name="pk_meter_keys"),
    )
    op.create_index("ix_meter_keys_version_pending", "meter_keys", ["version", "pending"])


def downgrade() -> None:
    op.drop_index("ix_meter_keys_version_pending", table_name="meter_keys")
    op.drop_table("meter_keys")
