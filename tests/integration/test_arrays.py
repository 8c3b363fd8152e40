"""Batches go to PostgreSQL as array literals: whatever the values, PostgreSQL reads back
exactly the list that was sent."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from bijli.adapters.db import engine as db
from bijli.adapters.db.arrays import Kind, literal

CASES: list[tuple[Kind, list[Any]]] = [
    ("text", ["KNCL0000001", "KNMR0000002"]),
    ("text", ['a "quoted" id', "back\\slash", "comma,brace{}", ""]),
    ("text", ["airtel", None, "jio"]),
    ("text", []),
    ("int", [0, -5, 2**40, 7]),
    ("int", [1, None, 3]),
    ("int", []),
]


@pytest.mark.parametrize(("kind", "values"), CASES)
def test_postgresql_reads_back_the_list_that_was_sent(pg_url: str, kind: Kind, values: list[Any]) -> None:
    engine = sa.create_engine(db.normalise_url(pg_url))
    sql_type = "text" if kind == "text" else "bigint"
    try:
        with engine.connect() as conn:
            got = conn.execute(sa.text(f"SELECT CAST(:a AS {sql_type}[])"), {"a": literal(kind, values)}).scalar_one()
    finally:
        engine.dispose()
    assert got == values
