"""`bijli mdm …`: meter data management."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bijli import settings as settings_mod
from bijli.entrypoints.cli.options import DatabaseUrl, DataDir
from bijli.entrypoints.cli.platform import opened

app = typer.Typer(no_args_is_help=True, help="Meter data management: validation and estimation.")


@app.command("vee")
def mdm_vee(
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
    lookback_hours: Annotated[int, typer.Option(help="How far back to look for missing intervals.")] = 48,
) -> None:
    """One pass of validation and estimation: estimate what is missing; one JSON line."""
    from datetime import UTC, datetime, timedelta

    from bijli.mdm.handlers import run_vee

    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")
    with opened(cfg) as platform:
        report = run_vee(platform.store, datetime.now(UTC), lookback=timedelta(hours=lookback_hours))
    print(
        json.dumps(
            {
                "from": report.checked_from.isoformat(),
                "to": report.checked_to.isoformat(),
                "meters_incomplete": report.meters_incomplete,
                "intervals_estimated": report.intervals_estimated,
            }
        )
    )
