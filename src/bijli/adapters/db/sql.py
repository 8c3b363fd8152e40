"""Small pieces every table group's adapter uses: dialect-aware inserts and filters, and
statements straight on the driver's cursor for hot paths."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def is_pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def insert_ignoring(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]], keys: list[str]) -> None:
    """Insert rows, leaving any whose key is already stored as it is."""
    if not rows:
        return
    dialect = postgresql if is_pg(conn) else sqlite
    stmt = dialect.insert(table).on_conflict_do_nothing(index_elements=keys)
    conn.execute(stmt, list(rows))


def among(conn: Connection, column: sa.ColumnElement[Any], values: Sequence[Any]) -> sa.ColumnElement[bool]:
    """`column` is one of `values`: one array parameter on PostgreSQL (a plan that does not
    grow with the list), a list of parameters elsewhere."""
    if is_pg(conn):
        return column == sa.any_(sa.literal(list(values), postgresql.ARRAY(column.type)))
    return column.in_(values)


def raw(conn: Connection, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """A statement straight on the driver's cursor, in this transaction (hot paths)."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []
    finally:
        cursor.close()
