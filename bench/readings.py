"""`python -m bench.readings` (`bijli bench readings`): one meter's 24 hours, with 100 million
readings stored.

Builds a benchmark store on PostgreSQL (or reuses the one built last time): the platform's
own schema and monthly partitions, meters, and readings generated on the server by
``INSERT … SELECT generate_series`` a day at a time, in arrival order (every meter's interval
n, then every meter's interval n+1, as the head-end stores them), on two connections. Each
month is loaded into its own table, indexed once loaded and then attached as a partition,
which leaves it as a closed month is after ``REINDEX``. Then it asks for random meters' days,
through the query the API uses (``Queries.readings``) and through ``GET
/api/v1/meters/{id}/readings`` in process, and prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import httpx
import sqlalchemy as sa
import typer
from fastapi import FastAPI
from rich.console import Console
from sqlalchemy.engine import Engine

from bench import BenchError
from bench.command import OwnDatabaseUrl, Reuse, measured
from bench.database import dedicated_database, scratch_platform
from bijli.access.handlers import create_token
from bijli.access.model import Role
from bijli.adapters.db import engine as db
from bijli.adapters.db import partitions
from bijli.adapters.db.queries import Queries
from bijli.kernel.time import INTERVALS_PER_DAY, IST, ist_midnight
from bijli.web.app import create_app

DEFAULT_URL = "postgresql://postgres@127.0.0.1/bijli_bench"
TARGET_MS = 20.0
METER_PREFIX = "KNBM"
BUILD_TABLE = "bench_build"
LOADERS = 2
"""Connections loading days at once (one per core on the reference machine)."""


# ---------------------------------------------------------------------- building the store


def _plan(readings: int, days: int, today: date) -> tuple[int, datetime, datetime]:
    """How many meters, and the first and last+1 instants, for about `readings` over `days`."""
    meters = max(1, round(readings / (days * INTERVALS_PER_DAY)))
    end = ist_midnight(today)
    return meters, end - timedelta(days=days), end


def _built(url: str) -> dict[str, object] | None:
    """What the last complete build in this database made, if there was one."""
    with _engine(url) as engine, engine.connect() as conn:
        if not conn.execute(sa.text("SELECT to_regclass(:t) IS NOT NULL"), {"t": BUILD_TABLE}).scalar():
            return None
        row = conn.execute(sa.text(f"SELECT * FROM {BUILD_TABLE}")).mappings().first()
    return dict(row) if row else None


_READING_COLUMNS = (
    "meter_id, interval_start, import_wh, import_vah, export_wh, voltage_dv, current_ma, "
    "import_wh_total, quality, received_at"
)
_DAY_OF_READINGS = f"""
INSERT INTO "{{table}}" ({_READING_COLUMNS})
SELECT '{METER_PREFIX}' || lpad(m::text, 7, '0'), ts, w, w * 109 / 100, 0, v, w * 40000 / v,
       1000000 + m * 1000 + (:day * {INTERVALS_PER_DAY} + i + 1) * 150, 'actual', ts + interval '920 seconds'
FROM generate_series(0, {INTERVALS_PER_DAY - 1}) AS i
CROSS JOIN LATERAL (SELECT CAST(:start AS timestamptz) + i * interval '15 minutes' AS ts) AS t
CROSS JOIN LATERAL generate_series(1, :meters) AS m
CROSS JOIN LATERAL (SELECT 20 + (m * 7919 + i * 104729) % 380 AS w, 2200 + (m * 31 + i * 17) % 200 AS v) AS x
"""
"""One IST day of every meter's readings, interval by interval (the order they arrive in)."""


def build(engine: Engine, meters: int, first: datetime, end: datetime, log: list[str]) -> float:
    """Fill the store with `meters` meters' readings from `first` to `end`; seconds taken."""
    t0 = time.perf_counter()
    months = sorted({partitions.month_of(first + timedelta(days=d)) for d in range((end - first).days)})
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {BUILD_TABLE}"))
        conn.execute(
            sa.text(
                "INSERT INTO meters (meter_id, area, feeder, transformer, phases, status, installed_at) "
                f"SELECT '{METER_PREFIX}' || lpad(m::text, 7, '0'), 'Bench', 'BM-F01', 'BM-F01-DT01', 1, "
                "'commissioned', :at FROM generate_series(1, :n) AS m"
            ),
            {"n": meters, "at": first - timedelta(days=1)},
        )
        conn.execute(
            sa.text(
                "INSERT INTO meter_state (meter_id, last_fc) SELECT meter_id, 0 FROM meters WHERE meter_id LIKE :p"
            ),
            {"p": METER_PREFIX + "%"},
        )
        existing = {p.start: p.name for p in partitions.partitions(conn)}
        for month in months:  # months are loaded on their own and attached when indexed
            name = existing.get(partitions.month_start(month))
            if name:
                conn.execute(sa.text(f'ALTER TABLE readings DETACH PARTITION "{name}"'))
                conn.execute(sa.text(f'DROP TABLE "{name}"'))
            name = partitions.partition_name(month)
            conn.execute(sa.text(f'CREATE TABLE "{name}" (LIKE readings INCLUDING DEFAULTS INCLUDING CONSTRAINTS)'))
    log.append(f"loading {meters} meters x {(end - first).days} days into {len(months)} month(s)")

    def load_day(day: int) -> int:
        lo = first + timedelta(days=day)
        table = partitions.partition_name(partitions.month_of(lo))
        with engine.begin() as conn:
            conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
            params = {"day": day, "start": lo, "meters": meters}
            return conn.execute(sa.text(_DAY_OF_READINGS.format(table=table)), params).rowcount

    with ThreadPoolExecutor(LOADERS) as pool:
        loaded = sum(pool.map(load_day, range((end - first).days)))
    log.append(f"loaded {loaded} readings in {time.perf_counter() - t0:.0f} s")

    def index(month: date) -> None:
        name = partitions.partition_name(month)
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(sa.text("SET maintenance_work_mem = '1GB'"))
            conn.execute(sa.text(f'ALTER TABLE "{name}" ADD PRIMARY KEY (meter_id, interval_start)'))
            # The parent's time index (migration 0027), made here so that attaching finds it.
            conn.execute(sa.text(f'CREATE INDEX ON "{name}" USING brin (interval_start)'))
            # And its estimates (migration 0029): none here, so the index is empty.
            conn.execute(sa.text(f"CREATE INDEX ON \"{name}\" (interval_start, meter_id) WHERE quality <> 'actual'"))
            conn.execute(sa.text(f'VACUUM (FREEZE, ANALYZE) "{name}"'))

    with ThreadPoolExecutor(LOADERS) as pool:
        list(pool.map(index, months))
    with engine.begin() as conn:
        for month in months:
            lo, hi = partitions.month_start(month), partitions.month_start(partitions.add_months(month, 1))
            conn.execute(
                sa.text(
                    f'ALTER TABLE readings ATTACH PARTITION "{partitions.partition_name(month)}" '
                    f"FOR VALUES FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')"
                )
            )
        took = time.perf_counter() - t0
        conn.execute(
            sa.text(
                f"CREATE TABLE {BUILD_TABLE} (readings bigint, meters int, first timestamptz, "
                "until timestamptz, build_s double precision, built_at timestamptz)"
            )
        )
        conn.execute(
            sa.text(f"INSERT INTO {BUILD_TABLE} VALUES (:r, :m, :f, :u, :s, now())"),
            {"r": loaded, "m": meters, "f": first, "u": end, "s": took},
        )
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("ANALYZE meters, meter_state"))
    log.append(f"indexed, vacuumed and attached in {time.perf_counter() - t0:.0f} s")
    return took


def stored_bytes(engine: Engine) -> int:
    """Bytes on disk of the readings table: every partition's heap, indexes and TOAST."""
    with engine.connect() as conn:
        return sum(p.bytes for p in partitions.partitions(conn))


# ---------------------------------------------------------------------- measuring


def _days(first: datetime, end: datetime) -> list[datetime]:
    return [first + timedelta(days=d) for d in range((end - first).days)]


def percentile(values: list[float], q: float) -> float:
    """The value at fraction `q` of the way through the sorted values (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _figures(prefix: str, ms: list[float]) -> dict[str, float]:
    return {
        f"{prefix}_p50_ms": round(statistics.median(ms), 2),
        f"{prefix}_p99_ms": round(percentile(ms, 0.99), 2),
        f"{prefix}_max_ms": round(max(ms), 2),
    }


def measure_query(queries: Queries, picks: list[tuple[str, datetime]]) -> tuple[list[float], int]:
    """Milliseconds per `Queries.readings` call for one meter's 24 hours; rows of the last."""
    ms, rows = [], 0
    for meter_id, day in picks:
        t = time.perf_counter()
        rows = len(queries.readings(meter_id, day, day + timedelta(days=1)))
        ms.append((time.perf_counter() - t) * 1000)
    return ms, rows


async def measure_api(app: FastAPI, token: str, picks: list[tuple[str, datetime]]) -> tuple[list[float], int]:
    """Milliseconds per ``GET /api/v1/meters/{id}/readings`` for one meter's IST day, in process,
    with a bearer token as another system would call it."""
    ms, rows = [], 0
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost", headers=headers) as client:
        for meter_id, day in picks:
            local = day.astimezone(IST)
            params = {"start": local.isoformat(), "end": (local + timedelta(days=1)).isoformat()}
            t = time.perf_counter()
            r = await client.get(f"/api/v1/meters/{meter_id}/readings", params=params)
            ms.append((time.perf_counter() - t) * 1000)
            if r.status_code != 200:
                raise BenchError(f"the API answered {r.status_code}: {r.text[:200]}")
            rows = len(r.json()["items"])
    return ms, rows


@contextmanager
def _engine(url: str) -> Iterator[Engine]:
    engine = db.create(url)
    try:
        yield engine
    finally:
        engine.dispose()


def run(
    database_url: str = DEFAULT_URL,
    *,
    readings: int = 100_000_000,
    days: int = 30,
    samples: int = 1000,
    reuse: bool = False,
    seed: int = 1,
    today: date | None = None,
    log: list[str] | None = None,
) -> dict[str, object]:
    """Build (or reuse) the store, then time one meter's day `samples` times each way."""
    log = log if log is not None else []
    load = os.getloadavg()[0]
    today = today or datetime.now(IST).date()
    meters, first, end = _plan(readings, days, today)
    dedicated_database(database_url, fresh=False)
    built = _built(database_url)
    reused = False
    if reuse and built is not None:  # the same size, built for whichever days it was built
        was_first, was_until = built["first"], built["until"]
        if (
            built["meters"] == meters
            and isinstance(was_first, datetime)
            and isinstance(was_until, datetime)
            and was_until - was_first == end - first
        ):
            first, end, reused = was_first, was_until, True
    if reused and built is not None:
        build_s, stored = float(str(built["build_s"])), int(str(built["readings"]))
    else:
        dedicated_database(database_url, fresh=True)
        with _engine(database_url) as engine:
            db.upgrade(engine)
            build_s = build(engine, meters, first, end, log)
        stored = int(str((_built(database_url) or {})["readings"]))

    rng = random.Random(seed)
    ids = [f"{METER_PREFIX}{m:07d}" for m in range(1, meters + 1)]
    day_starts = _days(first, end)
    picks = [(rng.choice(ids), rng.choice(day_starts)) for _ in range(samples)]
    with scratch_platform(database_url) as platform:
        size = stored_bytes(platform.store.engine)
        measure_query(platform.queries, picks[:10])  # open the pool's connections
        query_ms, query_rows = measure_query(platform.queries, picks)
        api_picks = [(rng.choice(ids), rng.choice(day_starts)) for _ in range(samples)]
        web = create_app(platform)
        token = create_token(platform.store, f"bench-{uuid.uuid4().hex[:8]}", Role.AUDITOR, "bench", datetime.now(UTC))
        asyncio.run(measure_api(web, token, api_picks[:10]))
        api_ms, api_rows = asyncio.run(measure_api(web, token, api_picks))
    figures: dict[str, object] = {
        "readings": stored,
        "meters": meters,
        "days": days,
        "first": first.astimezone(UTC).isoformat(),
        "reused": reused,
        "build_s": round(build_s, 1),
        "bytes_per_reading": round(size / max(stored, 1), 1),
        "readings_bytes": size,
        "samples": samples,
        **_figures("query", query_ms),
        **_figures("api", api_ms),
        "rows": query_rows,
        "api_rows": api_rows,
        "target_ms": TARGET_MS,
        "load_average_at_start": round(load, 2),
    }
    figures["meets_target"] = max(percentile(query_ms, 0.99), percentile(api_ms, 0.99)) < TARGET_MS
    return figures


app = typer.Typer(add_completion=False)
console = Console(stderr=True)


@app.command()
def main(
    readings: Annotated[int, typer.Option(min=1, help="Readings to store (about; whole meter-days).")] = 100_000_000,
    days: Annotated[int, typer.Option(min=1, help="Days the readings cover, ending at the start of today (IST).")] = 30,
    samples: Annotated[int, typer.Option(min=1, help="Meter-days asked for, each way.")] = 1000,
    reuse: Reuse = False,
    database_url: OwnDatabaseUrl = DEFAULT_URL,
) -> None:
    """One meter's 24 hours through the store's query and the API, at many stored readings; one JSON line."""
    log: list[str] = []
    figures = measured(
        lambda: run(database_url, readings=readings, days=days, samples=samples, reuse=reuse, log=log), console
    )
    for line in log:
        console.print(line)
    print(json.dumps(figures))


if __name__ == "__main__":
    app()
