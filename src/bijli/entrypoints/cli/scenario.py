"""`bijli scenario …`: scenario files, what happens to a simulated city."""

from __future__ import annotations

import asyncio
import json
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Annotated

import typer

from bijli import settings as settings_mod
from bijli.adapters.brokers.address import BrokerUrlError
from bijli.adapters.keyfile import KeyFileError
from bijli.bootstrap import Platform
from bijli.entrypoints.cli.options import BrokerCa, DatabaseUrl, DataDir, console
from bijli.entrypoints.cli.platform import opened

app = typer.Typer(no_args_is_help=True, help="Scenario files: what happens to a simulated city.")


@app.command("run")
def scenario_run(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The scenario (TOML).")],
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
    broker_url: Annotated[
        str | None,
        typer.Option("--broker-url", help="mqtts://… or mqtt://… to publish to; none: run the head-end in-process."),
    ] = None,
    broker_ca: BrokerCa = None,
    truth: Annotated[Path | None, typer.Option(help="Where to write the ground truth (JSON lines).")] = None,
    topic_root: Annotated[str, typer.Option(help="First level of the MQTT topics.")] = "bijli",
    meters: Annotated[
        int | None, typer.Option("--meters", min=1, help="Consumer meters, instead of what the file says.")
    ] = None,
    days: Annotated[
        float | None, typer.Option("--days", min=0.01, help="Simulated days, instead of what the file says.")
    ] = None,
) -> None:
    """Run a scenario file through the platform; prints one JSON summary line."""
    from bijli.entrypoints import scenario_run as runner
    from bijli.fleet.scenario import ScenarioError, load

    try:
        scenario = load(file, meters=meters, days=days)
    except ScenarioError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from e
    try:
        cfg = settings_mod.build(
            data_dir=data_dir,
            database_url=database_url,
            broker_url=broker_url or "memory",
            topic_root=topic_root,
            broker_ca=broker_ca,
            new_site=not broker_url,  # in process, like the demo; over a broker, the site's own keys
        )
    except (BrokerUrlError, KeyFileError) as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from e
    truth_path = truth or cfg.data_dir / f"{file.stem}.truth.jsonl"
    in_store = bool(database_url or not broker_url)
    store: AbstractContextManager[Platform | None] = opened(cfg) if in_store else nullcontext()
    with store as platform:
        try:
            if broker_url:
                summary = asyncio.run(
                    runner.run_over_mqtt(
                        platform,
                        scenario,
                        cfg.site_keys,
                        cfg.meters_broker_address(),
                        topic_root,
                        cfg.tariff_code,
                        truth_path,
                        console,
                    )
                )
            else:
                assert platform is not None
                summary = asyncio.run(runner.run_in_process(platform, scenario, truth_path, console))
        except ScenarioError as e:
            console.print(f"[red]{e}[/red]")
            raise typer.Exit(2) from e
    print(json.dumps(summary))
