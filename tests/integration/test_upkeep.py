"""The autovacuum stand-in: on a server without autovacuum, a table that churns is vacuumed
and analyzed by autovacuum's rule; on SQLite nothing is done."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from bijli.adapters.db import engine as db
from bijli.adapters.db.upkeep import Upkeep, autovacuum_stand_in


def _dead(conn: sa.Connection) -> int:
    q = sa.text("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'churn'")
    return int(conn.execute(q).scalar_one_or_none() or 0)


@pytest.mark.postgres
def test_a_churning_table_is_vacuumed_where_the_server_has_no_autovacuum(pg_url: str) -> None:
    engine = db.create(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE churn (id int PRIMARY KEY, n int NOT NULL)"))
            conn.execute(sa.text("INSERT INTO churn SELECT g, 0 FROM generate_series(1, 200) g"))
        for _ in range(5):  # each row updated five times: 1,000 dead rows beside 200 live ones
            with engine.begin() as conn:
                conn.execute(sa.text("UPDATE churn SET n = n + 1"))
        with engine.connect() as conn:
            autovacuum = conn.execute(sa.text("SELECT current_setting('autovacuum')")).scalar_one()
            deadline = time.monotonic() + 30
            while autovacuum == "off" and _dead(conn) < 1000 and time.monotonic() < deadline:
                conn.execute(sa.text("SELECT pg_stat_force_next_flush()"))
                conn.rollback()
                time.sleep(0.2)

        done = autovacuum_stand_in(engine)

        if autovacuum == "on":  # the server does it itself
            assert done == Upkeep()
            return
        assert "churn" in done.vacuumed
        with engine.connect() as conn:
            deadline = time.monotonic() + 30
            while _dead(conn) and time.monotonic() < deadline:
                conn.rollback()
                time.sleep(0.2)
            assert _dead(conn) == 0
        assert "churn" not in autovacuum_stand_in(engine).vacuumed  # nothing left to do for it
    finally:
        engine.dispose()


def test_sqlite_needs_no_upkeep(tmp_path: Path) -> None:
    engine = db.create(db.sqlite_url(tmp_path))
    try:
        assert autovacuum_stand_in(engine) == Upkeep()
    finally:
        engine.dispose()
