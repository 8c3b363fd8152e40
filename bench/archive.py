"""`python -m bench.archive` (`bijli bench archive`): a closed month of the readings bench store
archived to Parquet, round-tripped through the readings query.

Takes the store `bijli bench readings` built (`--database-url`, by default its own), picks
`--samples` random meters' IST days of `--month`, reads them through `Queries.readings` (the
query behind ``GET /api/v1/meters/{id}/readings``) from PostgreSQL, then runs `bijli db archive`'s
own `archive_month` (write, verify meter by meter, record, drop the partition), reads the
same meter-days again, now from the Parquet files, and checks every answer is the same. Prints
one JSON line: readings, files, Parquet bytes and `bytes_per_reading` (against the 30-byte
target), the partition's bytes before (`source_bytes_per_reading`), the archive's time and
readings per second, and the reads' p50 / p99 / max in ms from PostgreSQL before and from
Parquet after (the first pass over the files, which opens them, and a second).
The archive is for good: the month's partition is gone afterwards (build the store again with
`bijli bench readings`).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import numpy as np
import pyarrow as pa
import sqlalchemy as sa
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench import BenchError
from bench.readings import DEFAULT_URL
from bijli.adapters.db import archive, partitions
from bijli.adapters.db import engine as db
from bijli.adapters.db.queries import Queries, ReadingView
from bijli.fleet.city import build_city
from bijli.fleet.load import household_scale, interval_wh, voltage_dv
from bijli.kernel.time import INTERVAL, INTERVALS_PER_DAY, IST, ist_midnight

TARGET_BYTES = 30.0


def _ms(values: list[float], prefix: str) -> dict[str, float]:
    ordered = sorted(values)
    return {
        f"{prefix}_p50_ms": round(statistics.median(ordered), 2),
        f"{prefix}_p99_ms": round(ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))], 2),
        f"{prefix}_max_ms": round(ordered[-1], 2),
    }


def _read(queries: Queries, picks: list[tuple[str, datetime]]) -> tuple[list[list[ReadingView]], list[float]]:
    answers, ms = [], []
    for meter, day in picks:
        t = time.perf_counter()
        answers.append(queries.readings(meter, day, day + timedelta(days=1)))
        ms.append((time.perf_counter() - t) * 1000)
    return answers, ms


def twin_month_bytes(meters: int, days: int, directory: Path) -> tuple[int, int]:
    """Readings and Parquet bytes of `meters` of the fleet twin's households over `days`, written
    as `bijli db archive` writes a file: the bench store's generated readings repeat a pattern,
    the twin's have the lognormal noise of real consumption and the voltage's own noise."""
    city = build_city(meters)
    sanctioned = np.array([c.sanctioned_load_w for c in city], dtype=np.int64)
    scale = household_scale(sanctioned, 7)
    first = ist_midnight(date(2026, 11, 1))
    n = days * INTERVALS_PER_DAY
    wh = np.empty((n, meters), dtype=np.int64)
    volts = np.empty((n, meters), dtype=np.int64)
    for i in range(n):
        wh[i] = interval_wh(scale, sanctioned, first + i * INTERVAL, 7, i)
        volts[i] = voltage_dv(meters, 7, i)
    by_meter_wh, by_meter_v = wh.T.reshape(-1), volts.T.reshape(-1)
    starts = np.tile(np.arange(n, dtype=np.int64) * 900 + int(first.timestamp()), meters) * 1_000_000
    registers = (np.cumsum(wh.T, axis=1) + 1_000_000).reshape(-1)
    raw = pa.table(
        {
            "meter_id": pa.array(np.repeat([c.meter_id for c in city], n)),
            "interval_start": starts,
            "import_wh": by_meter_wh,
            "import_vah": np.rint(by_meter_wh / 0.92).astype(np.int64),
            "export_wh": np.zeros(n * meters, dtype=np.int64),
            "voltage_dv": by_meter_v,
            "current_ma": np.rint(by_meter_wh * 4 * 1e4 / np.maximum(by_meter_v, 1)).astype(np.int64),
            "import_wh_total": registers,
            "quality": pa.array(["actual"] * (n * meters)),
            "received_at": starts + 920_000_000 + (np.arange(n * meters) % 7_000) * 1000,
            "flags": np.zeros(n * meters, dtype=np.int64),
        }
    )
    path = directory / "twin.parquet"
    directory.mkdir(parents=True, exist_ok=True)
    archive._write(archive._typed(raw), path)
    size = path.stat().st_size
    path.unlink()
    return n * meters, size


def run(
    database_url: str, month: str, directory: Path, samples: int, seed: int, twin_meters: int, console: Console
) -> dict[str, object]:
    load = os.getloadavg()[0]
    first = archive.parse_month(month)
    engine = db.create(database_url)
    try:
        db.upgrade(engine)
        queries = Queries(engine)
        with engine.connect() as conn:
            part = [p for p in partitions.partitions(conn) if p.month == month]
            if not part:
                raise BenchError(f"no partition for {month} in {database_url.rsplit('/', 1)[-1]}")
            lo, hi = part[0].start, part[0].end
            assert lo is not None and hi is not None
            bounds = conn.execute(
                sa.text(f'SELECT min(interval_start), max(interval_start) FROM "{part[0].name}"')
            ).one()
            ids = list(conn.execute(sa.text("SELECT meter_id FROM meters ORDER BY meter_id")).scalars())
        rng = random.Random(seed)
        day0 = bounds[0].astimezone(IST).date()
        days = [
            ist_midnight(day0 + timedelta(days=d)) for d in range((bounds[1].astimezone(IST).date() - day0).days + 1)
        ]
        picks = [(rng.choice(ids), rng.choice(days)) for _ in range(samples)]
        _read(queries, picks[:10])
        before, pg_ms = _read(queries, picks)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        t0 = time.perf_counter()
        with Progress(*columns, console=console) as bar:
            task = bar.add_task(f"archiving {month}", total=None)

            def step(done: int, files: int, rows: int) -> None:
                bar.update(task, total=files, completed=done, description=f"archiving {month}: {rows:,} readings")

            result = archive.archive_month(engine, first, directory, datetime.now(UTC), progress=step)
        took = time.perf_counter() - t0
        after, cold_ms = _read(queries, picks)
        again, warm_ms = _read(queries, picks)
    finally:
        engine.dispose()
    twin_rows, twin_bytes = twin_month_bytes(twin_meters, 30, directory)
    same = sum(a == b for a, b in zip(before, after, strict=True))
    if same != len(picks) or again != after:
        raise BenchError(f"{len(picks) - same} of {len(picks)} meter-days read differently from Parquet")
    return {
        "month": month,
        "readings": result.rows,
        "files": len(result.files),
        "bytes": result.bytes,
        "bytes_per_reading": round(result.bytes_per_reading, 2),
        "target_bytes_per_reading": TARGET_BYTES,
        "source_bytes": result.source_bytes,
        "source_bytes_per_reading": round(result.source_bytes / result.rows, 1) if result.rows else None,
        "twin_readings": twin_rows,
        "twin_bytes_per_reading": round(twin_bytes / twin_rows, 2),
        "archive_s": round(took, 3),
        "archived_per_s": round(result.rows / took),
        "samples": len(picks),
        "rows_per_answer": len(after[0]) if after else 0,
        "same_answers": same,
        **_ms(pg_ms, "postgres"),
        **_ms(cold_ms, "parquet_first"),
        **_ms(warm_ms, "parquet"),
        "load_average_at_start": round(load, 2),
    }


app = typer.Typer(add_completion=False)


@app.command()
def main(
    month: Annotated[str, typer.Option("--month", help="The closed IST month to archive, YYYY-MM.")],
    database_url: Annotated[str, typer.Option("--database-url", help="The readings bench store.")] = DEFAULT_URL,
    directory: Annotated[Path, typer.Option("--dir", help="Folder for the Parquet files.")] = Path("bench-archive"),
    samples: Annotated[int, typer.Option(min=1, help="Meter-days read before and after.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the meter-days picked.")] = 1,
    twin_meters: Annotated[
        int, typer.Option(min=1, help="Fleet twin households written the same way, for 30 days (one file's worth).")
    ] = archive.METERS_PER_FILE,
) -> None:
    """Archive a month of the readings bench store to Parquet and read it back; one JSON line."""
    console = Console(stderr=True)
    try:
        figures = run(database_url, month, directory, samples, seed, twin_meters, console)
    except (BenchError, archive.ArchiveRefused, archive.ArchiveMismatch) as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from e
    print(json.dumps(figures))


if __name__ == "__main__":
    app()
