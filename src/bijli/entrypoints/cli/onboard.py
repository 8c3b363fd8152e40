"""`bijli onboard FILE.csv`: consumers, accounts and meters put into service from a sheet."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bijli import settings as settings_mod
from bijli.accounts.handlers import onboard as onboard_rows
from bijli.accounts.sheet import SheetError, chunks, read
from bijli.entrypoints.cli.options import DatabaseUrl, DataDir, console
from bijli.entrypoints.cli.platform import opened

CHUNK = 2000
"""Rows taken in one unit of work: a bad row costs nothing, a good one is one of a batch."""


def onboard(
    sheet: Annotated[Path, typer.Argument(help="The CSV file (columns: docs/onboarding.md).", exists=True)],
    by: Annotated[str, typer.Option("--by", help="Who onboards (for the meters' status history).")] = "bijli onboard",
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
) -> None:
    """Put the sheet's consumers, accounts and meters into service. Prints one JSON line:
    {"rows", "created", "updated", "rejected": [{"row", "reason"}]}. A bad row is refused with
    its reason and changes nothing; taking the same file again duplicates nothing. Exit 1 when
    a row was refused, 2 when the file cannot be read."""
    now = datetime.now(UTC)
    total = sum(1 for _ in sheet.open(encoding="utf-8-sig", newline="")) - 1
    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")
    rows = created = updated = 0
    rejected: list[tuple[int, str]] = []
    with sheet.open(encoding="utf-8-sig", newline="") as f, opened(cfg) as platform:
        try:
            found = read(f, now)
        except SheetError as e:
            console.print(f"[red]{escape(str(sheet))}: {escape(str(e))}[/red]")
            raise typer.Exit(2) from e
        if found.ignored:
            console.print(f"columns left alone: {escape(', '.join(found.ignored))}")
        tariffs = list(platform.store.tariffs)
        progress = Progress(
            TextColumn("onboarding"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        )
        with progress:
            task = progress.add_task("rows", total=max(total, 0))
            for good, bad in chunks(found.rows(), CHUNK):
                outcome = onboard_rows(platform.store, good, tariffs, now, by=by)
                rows += len(good) + len(bad)
                created += len(outcome.created)
                updated += len(outcome.updated)
                rejected += [(r.number, r.reason) for r in bad]
                rejected += [(n, str(reason)) for n, reason in outcome.rejected]
                progress.update(task, completed=rows)
    if rows == 0:
        console.print("the sheet has no rows")
    rejected.sort()
    print(
        json.dumps(
            {
                "rows": rows,
                "created": created,
                "updated": updated,
                "rejected": [{"row": n, "reason": reason} for n, reason in rejected],
            },
            ensure_ascii=False,
        )
    )
    if rejected:
        raise typer.Exit(1)
