"""`bijli report …`: daily reports."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from bijli import settings as settings_mod
from bijli.entrypoints.cli.options import DatabaseUrl, DataDir
from bijli.entrypoints.cli.platform import opened

app = typer.Typer(no_args_is_help=True, help="Daily reports: data collection, silent meters.")


@app.command("collection")
def report_collection(
    day: Annotated[str, typer.Option(help="IST day, YYYY-MM-DD.")],
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
    silent_hours: Annotated[int, typer.Option(help="List meters silent for this many hours.")] = 24,
    recount: Annotated[
        bool,
        typer.Option(
            "--recount", help="Work the rate out from the day's readings (slow at fleet size), not the daily figures."
        ),
    ] = False,
) -> None:
    """The data-collection rate of a day and the meters not heard from; one JSON line."""
    from datetime import UTC, datetime, timedelta

    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")
    with opened(cfg) as platform:
        asked = date.fromisoformat(day)
        report = platform.reports.recount_collection(asked) if recount else platform.reports.collection(asked)
        result = report.as_dict()
        silent = platform.reports.non_communicating(datetime.now(UTC), timedelta(hours=silent_hours))
        result["non_communicating"] = [m["meter_id"] for m in silent]
    print(json.dumps(result))
