"""Field staff who can be told: a staff member's areas, mobile number, e-mail and language;
alerts to staff as well as to consumers; and how many field staff a case's opening told.

`staff_areas` holds one row per staff member and area they work (a field engineer may cover
several). `staff` gets `mobile`, `email` (both optional) and `language` (hi | en). An alert is
for an account's consumer (`account_no`) or for a staff member (`staff_username`), never both;
`cases.staff_told` is how many of the area's field staff its opening alerted (NULL: the case's
rule tells no field staff, or it opened before this migration).

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_ACCOUNT_NOT_NULL = '"account_no" VARCHAR(32) NOT NULL'
_ACCOUNT_NOT_NULL_PLAIN = "account_no VARCHAR(32) NOT NULL"


def upgrade() -> None:
    # Plain ALTER TABLE on both (a batch copy of `staff` or `alerts` would trip SQLite's foreign keys).
    op.add_column("staff", sa.Column("mobile", sa.String(length=16), nullable=True))
    op.add_column("staff", sa.Column("email", sa.String(length=254), nullable=True))
    op.add_column("staff", sa.Column("language", sa.String(length=2), nullable=False, server_default="en"))
    op.create_table(
        "staff_areas",
        sa.Column("username", sa.String(length=48), nullable=False),
        sa.Column("area", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["username"], ["staff.username"], name="fk_staff_areas_username_staff"),
        sa.PrimaryKeyConstraint("username", "area", name="pk_staff_areas"),
    )
    op.create_index("ix_staff_areas_area", "staff_areas", ["area"])
    op.add_column("cases", sa.Column("staff_told", sa.SmallInteger(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        if "staff_username" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("alerts")}:
            op.execute('ALTER TABLE alerts ADD COLUMN "staff_username" VARCHAR(48) REFERENCES staff (username)')
        _sqlite_account_no(nullable=True)
    else:
        op.add_column("alerts", sa.Column("staff_username", sa.String(length=48), nullable=True))
        op.create_foreign_key("fk_alerts_staff_username_staff", "alerts", "staff", ["staff_username"], ["username"])
        op.alter_column("alerts", "account_no", existing_type=sa.String(length=32), nullable=True)
    op.create_index("ix_alerts_staff_username_raised_at", "alerts", ["staff_username", "raised_at"])


def downgrade() -> None:
    if op.get_bind().execute(sa.text("SELECT count(*) FROM alerts WHERE account_no IS NULL")).scalar():
        raise RuntimeError("alerts to staff exist: the schema before 0025 cannot hold them")
    op.drop_index("ix_alerts_staff_username_raised_at", table_name="alerts")
    if op.get_bind().dialect.name == "sqlite":
        # The empty column stays: SQLite drops no column with a foreign key, and a copy of
        # `alerts` would trip the deliveries' foreign keys. The upgrade finds it there.
        _sqlite_account_no(nullable=False)
    else:
        op.alter_column("alerts", "account_no", existing_type=sa.String(length=32), nullable=False)
        op.drop_constraint("fk_alerts_staff_username_staff", "alerts", type_="foreignkey")
        op.drop_column("alerts", "staff_username")
    op.drop_column("cases", "staff_told")
    op.drop_index("ix_staff_areas_area", table_name="staff_areas")
    op.drop_table("staff_areas")
    op.drop_column("staff", "language")
    op.drop_column("staff", "email")
    op.drop_column("staff", "mobile")


def _sqlite_account_no(*, nullable: bool) -> None:
    """Make `alerts.account_no` nullable (or not) by editing SQLite's CREATE statement in place
    (a constraint change only: the rows stay as they are)."""
    conn = op.get_bind()
    sql = conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'alerts'")).scalar()
    assert isinstance(sql, str)
    for not_null in (_ACCOUNT_NOT_NULL, _ACCOUNT_NOT_NULL_PLAIN):
        bare = not_null.removesuffix(" NOT NULL")
        if nullable and not_null in sql:
            sql = sql.replace(not_null, bare, 1)
            break
        if not nullable and bare + "," in sql:
            sql = sql.replace(bare + ",", not_null + ",", 1)
            break
    else:
        raise RuntimeError(f"unexpected definition of alerts: {sql}")
    version = conn.execute(sa.text("PRAGMA schema_version")).scalar()
    conn.execute(sa.text("PRAGMA writable_schema = ON"))
    conn.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'alerts'"), {"sql": sql})
    conn.execute(sa.text(f"PRAGMA schema_version = {int(version or 0) + 1}"))
    conn.execute(sa.text("PRAGMA writable_schema = OFF"))
