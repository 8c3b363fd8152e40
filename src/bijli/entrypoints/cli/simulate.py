"""`bijli simulate`: a fleet of meter twins against any MQTT broker."""

from __future__ import annotations

import asyncio
import json
from contextlib import AbstractContextManager, nullcontext
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from bijli import settings as settings_mod
from bijli.adapters.brokers.address import BrokerUrlError
from bijli.adapters.keyfile import KeyFileError
from bijli.bootstrap import Platform
from bijli.entrypoints.cli.options import BrokerCa, DataDir, console
from bijli.entrypoints.cli.platform import opened


def simulate(
    broker_url: Annotated[
        str, typer.Option("--broker-url", help="mqtts://host:port (TLS) or mqtt://host:port the meters publish to.")
    ],
    meters: Annotated[int, typer.Option(min=1)] = 200,
    days: Annotated[
        float | None, typer.Option(help="Simulate this many days up to now, then stop (default: go on live).")
    ] = None,
    start: Annotated[str | None, typer.Option(help="First simulated day, YYYY-MM-DD (default: yesterday).")] = None,
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Also commission the fleet's meters into this store.")
    ] = None,
    commission_into_store: Annotated[bool, typer.Option("--commission/--no-commission")] = True,
    transformer_meters: Annotated[
        bool, typer.Option("--transformer-meters/--no-transformer-meters", help="Also a meter on each transformer.")
    ] = False,
    hotspot_port: Annotated[
        int | None, typer.Option(help="Serve the meters' hotspots on this loopback port (see `bijli meter`).")
    ] = None,
    topic_root: Annotated[str, typer.Option(help="First level of the MQTT topics.")] = "bijli",
    broker_ca: BrokerCa = None,
) -> None:
    """Run a fleet of meter twins against any MQTT broker (each meter with its own credentials)."""
    from bijli.fleet.simulate import run_simulation

    try:
        cfg = settings_mod.build(
            data_dir=data_dir,
            database_url=database_url,
            broker_url=broker_url,
            topic_root=topic_root,
            broker_ca=broker_ca,
        )
    except (BrokerUrlError, KeyFileError) as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from e
    first = date.fromisoformat(start) if start else None
    store: AbstractContextManager[Platform | None] = opened(cfg) if commission_into_store else nullcontext()
    with store as platform:
        summary = asyncio.run(
            run_simulation(
                cfg,
                platform,
                meters=meters,
                days=days,
                start=first,
                console=console,
                transformer_meters=transformer_meters,
                hotspot_port=hotspot_port,
            )
        )
    print(json.dumps(summary))
