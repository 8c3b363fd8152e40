"""`bijli demo`: a simulated city on the embedded stack, live or headless."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from bijli import settings as settings_mod
from bijli.entrypoints.cli.options import DataDir, console
from bijli.entrypoints.cli.platform import opened


def demo(
    headless: Annotated[bool, typer.Option(help="Simulate as fast as possible, print a JSON summary, exit.")] = False,
    meters: Annotated[int, typer.Option(min=1, help="How many meters in the simulated city.")] = 200,
    days: Annotated[int, typer.Option(min=1, help="Simulated days (headless).")] = 2,
    start: Annotated[str | None, typer.Option(help="First simulated day, YYYY-MM-DD (headless).")] = None,
    data_dir: DataDir = Path(".bijli-demo"),
    port: Annotated[int, typer.Option(help="Web port.")] = 8000,
    mqtt_port: Annotated[int, typer.Option(help="Port of the in-process MQTT broker (interactive).")] = 1884,
    hotspot_port: Annotated[int, typer.Option(help="Port of the meters' hotspots (interactive).")] = 8100,
) -> None:
    """Run a simulated city of prepaid meters on the embedded stack (a new data folder gets new
    site keys)."""
    from bijli.entrypoints import demo as demo_mod

    if headless:
        cfg = settings_mod.build(data_dir=data_dir, broker_url="memory", new_site=True)
        with opened(cfg) as platform:
            first = date.fromisoformat(start) if start else demo_mod.default_start(days)
            result = asyncio.run(demo_mod.run_headless(platform, meters, days, first))
            logins = demo_mod.demo_logins(platform, datetime.now(UTC))
        print(json.dumps(result))
        console.print(
            f"To look at it: bijli serve --data-dir {data_dir} --sms console, then log in at "
            f"http://127.0.0.1:8000/login as {logins.operator} (password {logins.password}), or as a consumer "
            f"with mobile {logins.consumer_mobile} (the code is printed on the terminal)."
        )
        return
    from bijli.entrypoints.live import run_live

    cfg = settings_mod.build(
        data_dir=data_dir, broker_url="embedded", port=port, sms="console", new_site=True, dev_gateway=True
    )
    with opened(cfg) as platform:
        asyncio.run(run_live(platform, meters=meters, mqtt_port=mqtt_port, hotspot_port=hotspot_port, console=console))
