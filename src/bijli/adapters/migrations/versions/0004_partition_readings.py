"""PostgreSQL: readings partitioned by IST month, with a default partition (SQLite: nothing).

The table keeps its name, columns, defaults and primary key (meter_id, interval_start), so every
query and ``ON CONFLICT DO NOTHING`` insert works as before. The columns are laid out anew,
8-byte ones first and variable-length ones last, which saves the alignment padding (8 bytes
of about 100 in each stored reading); nothing in bijli depends on the physical column order.
Partitions are made for every month that has readings and for the months around now; the
rest are made by ``bijli db partitions`` (see adapters/db/partitions.py and
docs/operations.md).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import NamedTuple

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

from bijli.adapters.db import partitions

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLE = "readings"
OLD = "readings_unpartitioned"
ALIGNMENT_ORDER = {"d": 0, "i": 1, "s": 2, "c": 3}


class Column(NamedTuple):
    name: str
    type: str
    notnull: bool
    default: str | None
    typlen: int
    typalign: str

    def definition(self) -> str:
        default = f" DEFAULT {self.default}" if self.default is not None else ""
        return f"{_q(self.name)} {self.type}{' NOT NULL' if self.notnull else ''}{default}"


class Described(NamedTuple):
    columns: list[Column]
    pk_name: str
    pk_columns: list[str]
    checks: list[tuple[str, str]]
    indexes: list[str]
    """CREATE INDEX statements of the indexes besides the primary key's."""


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _names(names: list[str]) -> str:
    return ", ".join(_q(n) for n in names)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql" or partitions.is_partitioned(conn):
        return
    old = _describe(conn, TABLE)
    conn.execute(sa.text(f"ALTER TABLE {_q(TABLE)} RENAME TO {_q(OLD)}"))
    conn.execute(sa.text(f"ALTER TABLE {_q(OLD)} RENAME CONSTRAINT {_q(old.pk_name)} TO {_q(old.pk_name + '_old')}"))
    laid_out = sorted(old.columns, key=lambda c: (c.typlen < 0, ALIGNMENT_ORDER.get(c.typalign, 9)))
    definitions = [c.definition() for c in laid_out]
    definitions += [f"CONSTRAINT {_q(name)} {body}" for name, body in old.checks]
    definitions.append(f"CONSTRAINT {_q(old.pk_name)} PRIMARY KEY ({_names(old.pk_columns)})")
    conn.execute(sa.text(f"CREATE TABLE {_q(TABLE)} ({', '.join(definitions)}) PARTITION BY RANGE (interval_start)"))
    partitions.ensure_default(conn)
    ist_month = "date_trunc('month', interval_start AT TIME ZONE INTERVAL '05:30')"
    stored = conn.execute(sa.text(f"SELECT DISTINCT {ist_month} FROM {_q(OLD)}")).scalars()
    months = {date(m.year, m.month, 1) for m in stored}
    partitions.ensure(conn, months | set(partitions.window(datetime.now(UTC))))
    names = _names([c.name for c in old.columns])
    conn.execute(sa.text(f"INSERT INTO {_q(TABLE)} ({names}) SELECT {names} FROM {_q(OLD)}"))
    conn.execute(sa.text(f"DROP TABLE {_q(OLD)}"))
    for statement in old.indexes:
        conn.execute(sa.text(statement))


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql" or not partitions.is_partitioned(conn):
        return
    old = _describe(conn, TABLE)
    conn.execute(sa.text(f"ALTER TABLE {_q(TABLE)} RENAME TO {_q(OLD)}"))
    conn.execute(sa.text(f"ALTER TABLE {_q(OLD)} RENAME CONSTRAINT {_q(old.pk_name)} TO {_q(old.pk_name + '_old')}"))
    conn.execute(sa.text(f"CREATE TABLE {_q(TABLE)} (LIKE {_q(OLD)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    pk = f"CONSTRAINT {_q(old.pk_name)} PRIMARY KEY ({_names(old.pk_columns)})"
    conn.execute(sa.text(f"ALTER TABLE {_q(TABLE)} ADD {pk}"))
    names = _names([c.name for c in old.columns])
    conn.execute(sa.text(f"INSERT INTO {_q(TABLE)} ({names}) SELECT {names} FROM {_q(OLD)}"))
    conn.execute(sa.text(f"DROP TABLE {_q(OLD)}"))  # and its partitions with it
    for statement in old.indexes:
        conn.execute(sa.text(statement))


def _describe(conn: Connection, table: str) -> Described:
    """The table's columns, primary key, check constraints and other indexes."""
    columns = [
        Column(*row)
        for row in conn.execute(
            sa.text(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
                "pg_get_expr(d.adbin, d.adrelid), t.typlen, t.typalign "
                "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
                "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
                "WHERE a.attrelid = to_regclass(:t) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
            ),
            {"t": table},
        )
    ]
    pk_name, pk_columns = conn.execute(
        sa.text(
            "SELECT c.conname, array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i) "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i) "
            "FROM pg_constraint c WHERE c.conrelid = to_regclass(:t) AND c.contype = 'p'"
        ),
        {"t": table},
    ).one()
    checks = conn.execute(
        sa.text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = to_regclass(:t) AND contype = 'c' ORDER BY conname"
        ),
        {"t": table},
    ).all()
    indexes = conn.execute(
        sa.text(
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = to_regclass(:t) AND NOT i.indisprimary ORDER BY i.indexrelid"
        ),
        {"t": table},
    ).scalars()
    return Described(
        columns=columns,
        pk_name=str(pk_name),
        pk_columns=[str(c) for c in pk_columns],
        checks=[(str(n), str(b)) for n, b in checks],
        indexes=[str(s) for s in indexes],
    )
