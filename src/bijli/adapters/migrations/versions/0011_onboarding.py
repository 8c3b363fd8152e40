"""Onboarding: consumers, accounts that open and close, and meters' installations on them.

`consumers` holds the people (a consumer may hold several accounts). `accounts` gains the
consumer it belongs to, its status (active | closed), when it closed, and the share of each
recharge that recovers arrears (NULL: the utility's default from settings); `accounts.meter_id`
stays "the meter installed on the account now" and becomes NULL once the account is closed.
`installations` records each meter's time on an account: opening register at installation,
closing register and reason at removal (`removed_at` NULL while installed); at most one open
installation per meter and per account.

Existing accounts are backfilled: one consumer each (its id is the account number), and one
open installation from the meter's installation time and its first billing month's opening
register (0 where none was claimed yet).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consumers",
        sa.Column("consumer_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("mobile", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("address", sa.String(length=256), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer_id", name="pk_consumers"),
    )
    op.create_index("ix_consumers_mobile", "consumers", ["mobile"])
    op.execute(
        "INSERT INTO consumers (consumer_id, name, mobile, language, address, created_at) "
        "SELECT account_no, consumer_name, mobile, 'hi', '', opened_at FROM accounts"
    )
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_accounts_up()
    else:
        op.add_column("accounts", sa.Column("consumer_id", sa.String(length=32), nullable=True))
        op.add_column("accounts", sa.Column("status", sa.String(length=8), nullable=False, server_default="active"))
        op.add_column("accounts", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        op.add_column("accounts", sa.Column("arrears_share_pct", sa.SmallInteger(), nullable=True))
        op.execute("UPDATE accounts SET consumer_id = account_no")
        op.alter_column("accounts", "consumer_id", existing_type=sa.String(length=32), nullable=False)
        op.alter_column("accounts", "meter_id", existing_type=sa.String(length=32), nullable=True)
        op.create_foreign_key(
            "fk_accounts_consumer_id_consumers", "accounts", "consumers", ["consumer_id"], ["consumer_id"]
        )
    op.create_index("ix_accounts_consumer_id", "accounts", ["consumer_id"])

    op.create_table(
        "installations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("account_no", sa.String(length=32), nullable=False),
        sa.Column("meter_id", sa.String(length=32), nullable=False),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opening_wh_total", sa.BigInteger(), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closing_wh_total", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=256), nullable=False, server_default=""),
        sa.ForeignKeyConstraint(["account_no"], ["accounts.account_no"], name="fk_installations_account_no_accounts"),
        sa.ForeignKeyConstraint(["meter_id"], ["meters.meter_id"], name="fk_installations_meter_id_meters"),
        sa.PrimaryKeyConstraint("id", name="pk_installations"),
    )
    op.create_index("ix_installations_meter_id_installed_at", "installations", ["meter_id", "installed_at"])
    op.create_index("ix_installations_account_no_installed_at", "installations", ["account_no", "installed_at"])
    op.create_index(
        "uq_installations_open_meter",
        "installations",
        ["meter_id"],
        unique=True,
        postgresql_where=sa.text("removed_at IS NULL"),
        sqlite_where=sa.text("removed_at IS NULL"),
    )
    op.create_index(
        "uq_installations_open_account",
        "installations",
        ["account_no"],
        unique=True,
        postgresql_where=sa.text("removed_at IS NULL"),
        sqlite_where=sa.text("removed_at IS NULL"),
    )
    op.execute(
        "INSERT INTO installations (account_no, meter_id, installed_at, opening_wh_total, reason) "
        "SELECT a.account_no, a.meter_id, m.installed_at, "
        "COALESCE((SELECT b.opening_wh_total FROM billing_months b WHERE b.account_no = a.account_no "
        "ORDER BY b.month LIMIT 1), 0), '' "
        "FROM accounts a JOIN meters m ON m.meter_id = a.meter_id"
    )


def downgrade() -> None:
    op.drop_index("uq_installations_open_account", table_name="installations")
    op.drop_index("uq_installations_open_meter", table_name="installations")
    op.drop_index("ix_installations_account_no_installed_at", table_name="installations")
    op.drop_index("ix_installations_meter_id_installed_at", table_name="installations")
    op.drop_table("installations")
    op.drop_index("ix_accounts_consumer_id", table_name="accounts")
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_accounts_down()
    else:
        op.drop_constraint("fk_accounts_consumer_id_consumers", "accounts", type_="foreignkey")
        for column in ("arrears_share_pct", "closed_at", "status", "consumer_id"):
            op.drop_column("accounts", column)
        op.alter_column("accounts", "meter_id", existing_type=sa.String(length=32), nullable=False)
    op.drop_index("ix_consumers_mobile", table_name="consumers")
    op.drop_table("consumers")


# SQLite cannot change a column's NOT NULL in place, and rebuilding `accounts` (batch mode)
# would drop a table the ledger refers to. Its documented way for constraint-only changes
# (the stored rows do not change) is to edit the table's definition in the schema.
_METER = "meter_id VARCHAR(32) NOT NULL,"
_CONSUMER = '"consumer_id" VARCHAR(32)'


def _sqlite_accounts_up() -> None:
    op.execute('ALTER TABLE accounts ADD COLUMN "consumer_id" VARCHAR(32) REFERENCES consumers (consumer_id)')
    op.execute("ALTER TABLE accounts ADD COLUMN \"status\" VARCHAR(8) NOT NULL DEFAULT 'active'")
    op.execute('ALTER TABLE accounts ADD COLUMN "closed_at" DATETIME')
    op.execute('ALTER TABLE accounts ADD COLUMN "arrears_share_pct" SMALLINT')
    op.execute("UPDATE accounts SET consumer_id = account_no")
    _sqlite_redefine(
        "accounts",
        [(_METER, "meter_id VARCHAR(32),"), (_CONSUMER + " REFERENCES", _CONSUMER + " NOT NULL REFERENCES")],
    )


def _sqlite_accounts_down() -> None:
    if op.get_bind().execute(sa.text("SELECT count(*) FROM accounts WHERE meter_id IS NULL")).scalar():
        raise RuntimeError("closed accounts have no meter: the schema before 0011 cannot hold them")
    _sqlite_redefine(
        "accounts",
        [("meter_id VARCHAR(32),", _METER), (_CONSUMER + " NOT NULL REFERENCES consumers (consumer_id)", _CONSUMER)],
    )
    for column in ("arrears_share_pct", "closed_at", "status", "consumer_id"):
        op.execute(f'ALTER TABLE accounts DROP COLUMN "{column}"')


def _sqlite_redefine(table: str, edits: list[tuple[str, str]]) -> None:
    """Edit a SQLite table's CREATE statement in place (constraint changes only)."""
    conn = op.get_bind()
    sql = conn.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}
    ).scalar()
    assert isinstance(sql, str)
    for old, new in edits:
        if old not in sql:
            raise RuntimeError(f"unexpected definition of {table}: {sql}")
        sql = sql.replace(old, new, 1)
    version = conn.execute(sa.text("PRAGMA schema_version")).scalar()
    conn.execute(sa.text("PRAGMA writable_schema = ON"))
    conn.execute(
        sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"), {"sql": sql, "t": table}
    )
    conn.execute(sa.text(f"PRAGMA schema_version = {int(version or 0) + 1}"))
    conn.execute(sa.text("PRAGMA writable_schema = OFF"))
