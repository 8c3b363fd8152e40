"""`bijli db archive --month YYYY-MM`: a closed month of readings to Parquet, then its partition dropped."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bijli import settings as settings_mod
from bijli.entrypoints.cli.options import DatabaseUrl, DataDir, console
from bijli.entrypoints.cli.platform import opened


def db_archive(
    month: Annotated[str, typer.Option("--month", help="The closed IST month to archive, YYYY-MM.")],
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Folder for the Parquet files (default: <data dir>/archive).")
    ] = None,
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line instead of sentences.")] = False,
) -> None:
    """Write a closed month of readings to Parquet (zstd), verify it, then drop its partition (PostgreSQL)."""
    from bijli.adapters.db import archive, partitions
    from bijli.kernel.time import IST

    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")
    target = directory if directory is not None else data_dir / "archive"
    started = datetime.now(UTC)
    with opened(cfg, migrate=False) as platform:
        try:
            first = archive.parse_month(month)
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            with Progress(*columns, console=console, transient=True) as bar:
                task = bar.add_task(f"archiving {month}", total=None)

                def step(done: int, files: int, rows: int) -> None:
                    bar.update(task, total=files, completed=done, description=f"archiving {month}: {rows:,} readings")

                result = archive.archive_month(platform.store.engine, first, target, started, progress=step)
        except (archive.ArchiveRefused, archive.ArchiveMismatch, partitions.NotPartitioned) as e:
            console.print(f"[red]{e}[/red]")
            raise typer.Exit(2) from e
    took = (datetime.now(UTC) - started).total_seconds()
    if as_json:
        print(
            json.dumps(
                {
                    "month": result.month,
                    "partition": result.partition,
                    "rows": result.rows,
                    "files": len(result.files),
                    "bytes": result.bytes,
                    "bytes_per_reading": round(result.bytes_per_reading, 2),
                    "source_bytes": result.source_bytes,
                    "dropped": result.dropped,
                    "seconds": round(took, 1),
                    "directory": str(target.resolve()),
                }
            )
        )
        return
    print(
        f"archived {result.month}: {result.rows:,} readings in {len(result.files)} Parquet file(s) under "
        f"{target.resolve() / result.month}, {result.bytes / 1e6:,.1f} MB, "
        f"{result.bytes_per_reading:.2f} bytes a reading ({result.source_bytes / 1e6:,.1f} MB in PostgreSQL)"
    )
    print(
        f"verified meter by meter; dropped {result.partition} at {datetime.now(IST):%d %b %Y %H:%M} IST ({took:.0f} s)"
    )
