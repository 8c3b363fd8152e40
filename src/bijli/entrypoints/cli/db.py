"""`bijli db …`: the store's schema and the readings' monthly partitions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bijli import settings as settings_mod
from bijli.entrypoints.cli.db_archive import db_archive
from bijli.entrypoints.cli.options import DatabaseUrl, DataDir, console
from bijli.entrypoints.cli.platform import opened

app = typer.Typer(no_args_is_help=True, help="The store: schema migrations.")
app.command("archive")(db_archive)


@app.command("upgrade")
def db_upgrade(data_dir: DataDir = Path(".bijli-demo"), database_url: DatabaseUrl = None) -> None:
    """Bring the store's schema up to date."""
    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")
    with opened(cfg) as platform:  # opening it brings the schema up to date
        console.print(f"store at revision [bold]{platform.maintenance.revision()}[/bold]")


@app.command("partitions")
def db_partitions(
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
    months_ahead: Annotated[int, typer.Option(min=0, help="Months after the current one to have ready.")] = 3,
    months_behind: Annotated[int, typer.Option(min=0, help="Months before the current one to have.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Make the readings table's missing monthly partitions (PostgreSQL) and list them all."""
    from datetime import UTC, datetime

    from bijli.adapters.db import partitions

    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")
    with opened(cfg, migrate=False) as platform:
        try:
            made, listed = platform.maintenance.ensure_partitions(datetime.now(UTC), months_behind, months_ahead)
        except partitions.NotPartitioned as e:
            console.print(f"[red]{e}[/red]")
            raise typer.Exit(2) from e
    if as_json:
        rows = [
            {
                "name": p.name,
                "month": p.month,
                "start": p.start.isoformat() if p.start else None,
                "end": p.end.isoformat() if p.end else None,
                "rows_estimate": p.rows_estimate,
                "bytes": p.bytes,
            }
            for p in listed
        ]
        print(json.dumps({"made": made, "partitions": rows}))
        return
    for name in made:
        print(f"made {name}")
    print(f"{'partition':<22} {'month':<8} {'rows (estimate)':>16} {'MB':>10}")
    for p in listed:
        rows_text = "-" if p.rows_estimate < 0 else f"{p.rows_estimate:,}"
        print(f"{p.name:<22} {p.month:<8} {rows_text:>16} {p.bytes / 1e6:>10.1f}")


@app.command("retention")
def db_retention(
    keep_months: Annotated[
        int, typer.Option("--keep-months", min=1, help="Whole months to keep before the current one.")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would go; change nothing.")] = False,
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of sentences.")] = False,
) -> None:
    """Detach and drop the readings' month partitions older than --keep-months (PostgreSQL)."""
    from datetime import UTC, datetime

    from bijli.adapters.db import partitions
    from bijli.kernel.time import IST

    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")
    with opened(cfg, migrate=False) as platform:
        try:
            result = platform.maintenance.retire(keep_months, datetime.now(UTC), dry_run)
        except partitions.NotPartitioned as e:
            console.print(f"[red]{e}[/red]")
            raise typer.Exit(2) from e
    if as_json:
        dropped = [
            {"name": p.name, "month": p.month, "rows_estimate": p.rows_estimate, "bytes": p.bytes}
            for p in result.dropped
        ]
        print(
            json.dumps(
                {
                    "cutoff": result.cutoff.isoformat(),
                    "dry_run": dry_run,
                    "dropped": dropped,
                    "default_rows_deleted": result.default_rows_deleted,
                }
            )
        )
        return
    verb = "would drop" if dry_run else "dropped"
    print(f"keeping readings from {result.cutoff.astimezone(IST):%Y-%m-%d} (IST) on")
    for p in result.dropped:
        rows_text = "?" if p.rows_estimate < 0 else f"about {p.rows_estimate:,}"
        print(f"{verb} {p.name} ({p.month}, {rows_text} readings, {p.bytes / 1e6:.1f} MB)")
    if result.default_rows_deleted:
        verb = "would delete" if dry_run else "deleted"
        print(f"{verb} {result.default_rows_deleted} older readings from {partitions.DEFAULT_PARTITION}")
    if not result.dropped and not result.default_rows_deleted:
        print("nothing is that old")
