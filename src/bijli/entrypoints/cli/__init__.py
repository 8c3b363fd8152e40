"""The `bijli` command: one module per command or group of commands.

Every command that works on the store opens the platform with `platform.opened`, which
disposes of it however the command ends.
"""

from __future__ import annotations

import logging
import sys

import typer
from rich.markup import escape

from bijli.adapters.keyfile import KeyFileError
from bijli.entrypoints.cli import (
    access,
    alerts,
    bench,
    broker,
    db,
    keys,
    mdm,
    meter,
    meters,
    quarantine,
    report,
    scenario,
    theft,
    token,
)
from bijli.entrypoints.cli.demo import demo
from bijli.entrypoints.cli.onboard import onboard
from bijli.entrypoints.cli.options import console
from bijli.entrypoints.cli.pay import pay
from bijli.entrypoints.cli.serve import serve
from bijli.entrypoints.cli.simulate import simulate

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Operate smart prepaid electricity meters.")
app.command()(demo)
app.command()(serve)
app.command()(simulate)
app.command()(onboard)
app.command()(pay)
app.add_typer(access.app, name="access")
app.add_typer(alerts.app, name="alerts")
app.add_typer(db.app, name="db")
app.add_typer(token.app, name="token")
app.add_typer(keys.app, name="keys")
app.add_typer(broker.app, name="broker")
app.add_typer(meter.app, name="meter")
app.add_typer(report.app, name="report")
app.add_typer(mdm.app, name="mdm")
app.add_typer(meters.app, name="meters")
app.add_typer(quarantine.app, name="quarantine")
app.add_typer(scenario.app, name="scenario")
app.add_typer(theft.app, name="theft")
app.add_typer(bench.app, name="bench")


def main() -> None:
    """`bijli`: logging for the operator, then the command asked for."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app()
    except KeyFileError as e:  # a wrong data folder, a missing or weak key file: say so, change nothing
        console.print(f"[red]{escape(str(e))}[/red]")
        sys.exit(2)
