"""The store under test: its own limits (binary COPY, the head-end's write alone), waiting on
it without loading it, and what it holds against what was published."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from bench import BenchError
from bench.ingest_frames import Rounds, interval_rows
from bijli.adapters.db import engine as db
from bijli.adapters.db import partitions
from bijli.adapters.db.store import Store
from bijli.kernel.time import INTERVAL
from bijli.mdm.model import IntervalRow

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
STALL_S = 30.0
"""Give up waiting for the store (and count what is missing as lost) after this long without progress."""


def _pg_value(kind: str, value: Any) -> bytes:
    if kind == "integer":
        return struct.pack(">ii", 4, value)
    if kind == "bigint":
        return struct.pack(">iq", 8, value)
    if kind == "smallint":
        return struct.pack(">ih", 2, value)
    if kind == "timestamp with time zone":
        delta = value - PG_EPOCH
        return struct.pack(">iq", 8, (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds)
    if kind.startswith(("character varying", "text")):
        data = str(value).encode()
        return struct.pack(">i", len(data)) + data
    raise BenchError(f"the copy limit does not know how to write a {kind} column")


def _psycopg_url(url: str) -> str:
    return make_url(db.normalise_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)


def _scratch_readings(conn: sa.Connection, name: str) -> None:
    """A partitioned table `name` made like `readings`: columns, key, monthly partitions."""
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
    conn.execute(
        sa.text(
            f"CREATE TABLE {name} (LIKE public.readings INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
            "PARTITION BY RANGE (interval_start)"
        )
    )
    conn.execute(sa.text(f"ALTER TABLE {name} ADD PRIMARY KEY (meter_id, interval_start)"))
    for i, p in enumerate(partitions.partitions(conn)):
        bounds = "DEFAULT" if p.start is None or p.end is None else f"FOR VALUES FROM ('{p.start}') TO ('{p.end}')"
        conn.execute(sa.text(f"CREATE TABLE {name}_{i} PARTITION OF {name} {bounds}"))


def copy_limit(engine: Engine, url: str, rows: list[dict[str, Any]], tries: int = 3) -> float:
    """Rows per second of a binary COPY into a scratch table made like `readings`; best of `tries`."""
    with engine.begin() as conn:
        _scratch_readings(conn, "copy_bench")
        columns = conn.execute(
            sa.text(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = 'readings'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
            )
        ).all()
    known = [(name, kind) for name, kind in columns if name in rows[0]]
    head = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
    field_count = struct.pack(">h", len(known))
    body = b"".join(field_count + b"".join(_pg_value(kind, row[name]) for name, kind in known) for row in rows)
    data = head + body + struct.pack(">h", -1)
    names = ", ".join(name for name, _ in known)
    best = float("inf")
    with psycopg.connect(_psycopg_url(url)) as conn:
        for _ in range(tries):
            conn.execute("TRUNCATE copy_bench")
            conn.commit()
            t = time.perf_counter()
            with conn.cursor() as cur, cur.copy(f"COPY copy_bench ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                for at in range(0, len(data), 1 << 20):
                    copy.write(data[at : at + (1 << 20)])
            conn.commit()
            best = min(best, time.perf_counter() - t)
        conn.execute("DROP TABLE copy_bench")
        conn.commit()
    return len(rows) / best


STAGE_SCHEMA = "store_stage"


def store_stage(main: Engine, url: str, rounds: Rounds, batch: int, writers: int, tries: int = 3) -> float:
    """Readings per second of the head-end's own readings write (`Readings.store` of the SQL store:
    binary COPY in a savepoint), alone: the same readings in batches of `batch`, one
    transaction each, shared by `writers` threads as the workers share them, into a scratch
    `readings` of its own schema; best of `tries`."""
    rows = interval_rows(rounds)
    engine = sa.create_engine(db.normalise_url(url), connect_args={"options": f"-c search_path={STAGE_SCHEMA},public"})
    store = Store(engine, {})
    best = float("inf")
    try:
        with main.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {STAGE_SCHEMA}"))
        for _ in range(tries):
            with main.begin() as conn:
                _scratch_readings(conn, f"{STAGE_SCHEMA}.readings")
            now = datetime.now(UTC)
            batches = [rows[at : at + batch] for at in range(0, len(rows), batch)]

            def write(share: list[list[IntervalRow]], at: datetime = now) -> None:
                for one in share:
                    with store.transaction() as tx:
                        tx.readings.store(one, at)

            t = time.perf_counter()
            with ThreadPoolExecutor(writers) as pool:
                list(pool.map(write, [batches[k::writers] for k in range(writers)]))
            best = min(best, time.perf_counter() - t)
        with main.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {STAGE_SCHEMA} CASCADE"))
    finally:
        engine.dispose()
    return len(rows) / best


def count_rows(engine: Engine, table: str = "readings") -> int:
    """How many rows `table` holds."""
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


async def _poll(engine: Engine, table: str, done: Callable[[int], bool]) -> int:
    """Count `table`'s rows until `done(count)`, or until the count has not moved for STALL_S;
    the last count."""
    last, last_change = -1, time.monotonic()
    while not done(n := await asyncio.to_thread(count_rows, engine, table)):
        if n != last:
            last, last_change = n, time.monotonic()
        elif time.monotonic() - last_change > STALL_S:
            break
        await asyncio.sleep(0.1)
    return n


async def until_settled(engine: Engine) -> int:
    """The batches left once the settlement queue is empty, or once it stops emptying."""
    return await _poll(engine, "settlement_queue", lambda n: n == 0)


def checkpoint(engine: Engine) -> None:
    """Write out what the setup dirtied (commissioning, the broker phase's wait), so that a
    checkpoint it would trigger does not land in the measured phase; skipped without the right."""
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("CHECKPOINT"))
    except sa.exc.DBAPIError:
        pass


def compare(engine: Engine, published: list[tuple[list[str], datetime, datetime]]) -> tuple[int, int, dict[str, int]]:
    """The store against what was published (meters, and the intervals from .. to each sent):
    (lost, doubled, quarantined by reason)."""
    inside = 0
    with engine.connect() as conn:
        for ids, lo, hi in published:
            inside += int(
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM readings "
                        "WHERE meter_id = ANY(:ids) AND interval_start >= :lo AND interval_start < :hi"
                    ),
                    {"ids": ids, "lo": lo, "hi": hi},
                ).scalar_one()
            )
        total, distinct = conn.execute(
            sa.text("SELECT count(*), count(DISTINCT (meter_id, interval_start)) FROM readings")
        ).one()
        reasons: dict[str, int] = dict(
            conn.execute(sa.text("SELECT reason, count(*) FROM quarantine GROUP BY reason")).all()
        )
    expected = sum(len(ids) * round((hi - lo) / INTERVAL) for ids, lo, hi in published)
    return expected - inside, (int(total) - int(distinct)) + (int(total) - inside), reasons
