"""Batches go to PostgreSQL as array literals: whatever the values, PostgreSQL reads back
exactly the list that was sent."""

from __future__ import annotations

from datetime import UTC, date, datetime
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
    ("date", [date(2026, 11, 28), None, date(2027, 1, 1)]),
]


@pytest.mark.parametrize(("kind", "values"), CASES)
def test_postgresql_reads_back_the_list_that_was_sent(pg_url: str, kind: Kind, values: list[Any]) -> None:
    engine = sa.create_engine(db.normalise_url(pg_url))
    sql_type = {"text": "text", "int": "bigint", "date": "date"}[kind]
    try:
        with engine.connect() as conn:
            got = conn.execute(sa.text(f"SELECT CAST(:a AS {sql_type}[])"), {"a": literal(kind, values)}).scalar_one()
    finally:
        engine.dispose()
    assert got == values


def test_times_go_as_epoch_seconds_and_come_back_as_the_same_instants(pg_url: str) -> None:
    moments = [datetime(2026, 11, 28, 5, 15, tzinfo=UTC), None, datetime(1999, 12, 31, 18, 30, tzinfo=UTC)]
    engine = sa.create_engine(db.normalise_url(pg_url))
    try:
        with engine.connect() as conn:
            got = conn.execute(
                sa.text(
                    "SELECT array_agg(to_timestamp(e) ORDER BY n) "
                    "FROM unnest(CAST(:a AS bigint[])) WITH ORDINALITY AS u(e, n)"
                ),
                {"a": literal("epoch", moments)},
            ).scalar_one()
    finally:
        engine.dispose()
    assert got == moments
