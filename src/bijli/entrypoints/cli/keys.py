"""`bijli keys …`: the site's master secrets, by key version."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from bijli.adapters import keyfile
from bijli.entrypoints.cli.options import DataDir, console

app = typer.Typer(no_args_is_help=True, help="The site's keys: make them, see them, rotate and retire versions.")


def _key_file(data_dir: Path) -> Path:
    path = keyfile.where(data_dir.expanduser())
    if path is None:
        console.print(f"[red]the site keys are given in {keyfile.ENV} itself; this command needs a key file[/red]")
        raise typer.Exit(2)
    return path


@app.command("init")
def keys_init(data_dir: DataDir = Path(".bijli-demo")) -> None:
    """Make a new site's keys: random frame, MQTT and token master secrets (key version 1) in
    site.keys (mode 0600). Never replaces a key file that is there."""
    path = _key_file(data_dir)
    site = keyfile.create(path)
    Console(highlight=False, soft_wrap=True).print(
        f"site keys made in {escape(str(path))} (mode 0600): key version {site.current}, "
        "separate frame, MQTT and token master secrets; keep a copy in the site's secret store"
    )
