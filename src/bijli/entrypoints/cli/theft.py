"""`bijli theft …`: how well tampering, theft and outages are found, against a scenario's truth."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from bijli import settings as settings_mod
from bijli.entrypoints.cli.options import DatabaseUrl, DataDir, console
from bijli.entrypoints.cli.platform import opened

app = typer.Typer(no_args_is_help=True, help="Tampering, theft and outages against a scenario's ground truth.")


@app.command("evaluate")
def evaluate(
    scenario: Annotated[
        Path, typer.Option("--scenario", exists=True, dir_okay=False, help="The scenario (TOML), e.g. theft-city.")
    ],
    data_dir: DataDir = Path(".bijli-theft"),
    database_url: DatabaseUrl = None,
    truth: Annotated[Path | None, typer.Option(help="Where to write the ground truth (JSON lines).")] = None,
    meters: Annotated[
        int | None, typer.Option("--meters", min=1, help="Consumer meters, instead of what the file says.")
    ] = None,
    days: Annotated[
        float | None, typer.Option("--days", min=0.01, help="Simulated days, instead of what the file says.")
    ] = None,
    round_s: Annotated[
        int, typer.Option("--round-s", min=10, max=900, help="Simulated seconds between the detectors' rounds.")
    ] = 60,
) -> None:
    """Run a scenario through the platform's detectors on its simulated clock; print one JSON line:
    precision and recall per tamper kind and for hooking, outages found and false, theft cases
    opened by outages, time to case (p50, p99, simulated seconds). Needs an empty store."""
    from bijli.entrypoints import theft_evaluate as runner
    from bijli.fleet.scenario import ScenarioError, load

    if 900 % round_s:
        console.print(f"[red]--round-s {round_s}: it must divide 900 (a 15-minute interval)[/red]")
        raise typer.Exit(2)
    try:
        loaded = load(scenario, meters=meters, days=days)
    except ScenarioError as e:
        console.print(f"[red]{escape(str(e))}[/red]")
        raise typer.Exit(2) from e
    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="memory", new_site=True)
    truth_path = truth or cfg.data_dir / f"{scenario.stem}.truth.jsonl"
    with opened(cfg) as platform:
        if platform.queries.count_meters():
            console.print(
                "[red]the store has meters already: evaluate on an empty store (a new --data-dir or database)[/red]"
            )
            raise typer.Exit(2)
        try:
            figures = asyncio.run(runner.evaluate(platform, loaded, truth_path, console, round_s=round_s))
        except ScenarioError as e:
            console.print(f"[red]{escape(str(e))}[/red]")
            raise typer.Exit(2) from e
    print(json.dumps(figures))
