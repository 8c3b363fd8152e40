"""`bijli broker …`: what the production profile's MQTT broker needs from the register."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bijli import settings as settings_mod
from bijli.adapters.brokers import mosquitto_passwords
from bijli.entrypoints.cli.options import DatabaseUrl, DataDir, console, site_keys_in
from bijli.entrypoints.cli.platform import opened
from bijli.headend.key_change import versions_in_service

app = typer.Typer(no_args_is_help=True, help="The MQTT broker's files, made from the register.")


def _worker(spec: str) -> tuple[str, str]:
    """NAME=FILE: a head-end worker's user name and its password (the file's first line)."""
    name, sep, file = spec.partition("=")
    if not sep or not name or not file:
        raise typer.BadParameter(f"{spec!r}: give NAME=FILE, e.g. headend-1=/etc/bijli/headend-1.password")
    try:
        password = Path(file).read_text(encoding="utf-8").splitlines()[0].strip()
    except (OSError, IndexError) as e:
        raise typer.BadParameter(f"{file}: cannot read a password from its first line ({e})") from e
    if not password:
        raise typer.BadParameter(f"{file}: its first line is empty")
    return name, password


@app.command("passwords")
def broker_passwords(
    to: Annotated[Path, typer.Option("--out", help="A new file for Mosquitto (made 0600; never replaced).")],
    headend: Annotated[
        list[str] | None,
        typer.Option(
            "--headend",
            help="A head-end worker's user and the file holding its password, NAME=FILE (repeat for each worker).",
        ),
    ] = None,
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
) -> None:
    """Write Mosquitto's password file from the register: every meter in service (its user
    name is its meter id, its password derived from the site's MQTT secret of the key version
    it holds) and each head-end worker given, hashed as mosquitto_passwd hashes them. Nothing
    in the clear, on the screen or on a command line."""
    workers = [_worker(spec) for spec in headend or []]
    site = site_keys_in(data_dir)
    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")
    with opened(cfg) as platform:
        held = versions_in_service(platform.store, site.current)
    meters = {m: v for m, v in held.items() if v in site.versions}
    clashes = sorted({name for name, _ in workers} & set(meters))
    if clashes:
        console.print(f"[red]{escape(', '.join(clashes))}: a worker may not take a meter's user name[/red]")
        raise typer.Exit(1)
    try:
        fd = os.open(to, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as e:
        console.print(f"[red]{escape(str(to))} exists already; give a new file (then move it over the old one)[/red]")
        raise typer.Exit(1) from e
    progress = Progress(TextColumn("hashing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console)
    with os.fdopen(fd, "w", encoding="utf-8") as f, progress:
        task = progress.add_task("passwords", total=len(meters) + len(workers))
        for name, password in workers:
            f.write(mosquitto_passwords.line(name, password))
        progress.advance(task, len(workers))
        for n, (meter_id, version) in enumerate(sorted(meters.items()), start=1):
            f.write(mosquitto_passwords.line(meter_id, site.mqtt_password(meter_id, version)))
            if n % 1000 == 0:
                progress.advance(task, 1000)
        progress.update(task, completed=len(meters) + len(workers))
    left_out = len(held) - len(meters)
    if not meters:
        console.print("no meter is in service: the file holds the head-end workers only")
    typer.echo(
        f"{len(meters):,} meters in service and {len(workers)} head-end worker(s) written to {to} (mode 0600)"
        + (f"; {left_out:,} meters hold a retired key version and were left out" if left_out else "")
    )
