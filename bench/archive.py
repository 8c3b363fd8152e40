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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench import BenchError
from bench.readings import DEFAULT_URL
from bijli.adapters.db import archive, partitions
from bijli.adapters.db import engine as db
from bijli.adapters.db.queries import Queries, ReadingView
from bijli.kernel.time import IST, ist_midnight

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


def run(database_url: str, month: str, directory: Path, samples: int, seed: int, console: Console) -> dict[str, object]:
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
        "archive_s": round(took, 1),
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
) -> None:
    """Archive a month of the readings bench store to Parquet and read it back; one JSON line."""
    console = Console(stderr=True)
    try:
        figures = run(database_url, month, directory, samples, seed, console)
    except (BenchError, archive.ArchiveRefused, archive.ArchiveMismatch) as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from e
    print(json.dumps(figures))


if __name__ == "__main__":
    app()
