"""`bijli keys …`: the site's master secrets, by key version, and moving the fleet between them."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bijli import settings as settings_mod
from bijli.adapters import keyfile
from bijli.entrypoints.cli.options import DatabaseUrl, DataDir, console, site_keys_in
from bijli.entrypoints.cli.platform import opened
from bijli.headend.key_change import ChangeUnderWay, held_versions, key_counts, start_key_change, still_moving
from bijli.kernel.time import IST
from bijli.protocol.keys import SiteKeys

app = typer.Typer(no_args_is_help=True, help="The site's keys: make them, see them, rotate and retire versions.")
out = Console(highlight=False, soft_wrap=True)


def _key_file(data_dir: Path) -> Path:
    path = keyfile.where(data_dir.expanduser())
    if path is None:
        console.print(f"[red]the site keys are given in {keyfile.ENV} itself; this command needs a key file[/red]")
        raise typer.Exit(2)
    return path


def _ist(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(IST).strftime("%d %b %Y %H:%M")


def _refuse(message: str) -> typer.Exit:
    console.print(f"[red]{escape(message)}[/red]")
    return typer.Exit(1)


@app.command("init")
def keys_init(data_dir: DataDir = Path(".bijli-demo")) -> None:
    """Make a new site's keys: random frame, MQTT and token master secrets (key version 1) in
    site.keys (mode 0600). Never replaces a key file that is there."""
    path = _key_file(data_dir)
    site = keyfile.create(path)
    out.print(
        f"site keys made in {escape(str(path))} (mode 0600): key version {site.current}, "
        "separate frame, MQTT and token master secrets; keep a copy in the site's secret store"
    )


@app.command("status")
def keys_status(
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead.")] = False,
) -> None:
    """The key versions the site holds (made when, in IST) and how many meters hold each, or
    are moving to it."""
    site = site_keys_in(data_dir)
    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")
    with opened(cfg) as platform:
        counts = key_counts(platform.store, site.current)
    versions = sorted(set(site.versions) | set(counts) | site.retired)
    if as_json:
        rows = {str(v): {"meters": counts.get(v, (0, 0))[0], "moving_to": counts.get(v, (0, 0))[1]} for v in versions}
        print(json.dumps({"current": site.current, "retired": sorted(site.retired), "versions": rows}))
        return
    moving = sum(n for _, n in counts.values())
    out.print(
        f"key version {site.current} is current; "
        + (f"a key change is moving {moving} meter{'s' * (moving != 1)}" if moving else "no key change under way")
    )
    table = Table()
    for name in ("version", "made (IST)", "state", "meters on it", "moving to it"):
        table.add_column(name, no_wrap=True)
    for v in versions:
        held, coming = counts.get(v, (0, 0))
        state = "current" if v == site.current else "retired" if v in site.retired else "held"
        made = site.versions[v].made_at if v in site.versions else None
        table.add_row(str(v), _ist(made), state, f"{held:,}", f"{coming:,}")
    out.print(table)


@app.command("rotate")
def keys_rotate(
    by: Annotated[str, typer.Option("--by", help="Who rotates the keys (for the commands' audit trail).")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the audit trail.")] = "scheduled key rotation",
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
) -> None:
    """Make a new key version (new frame, MQTT and token master secrets) and queue a key-change
    command for every meter in service; a running head-end's dispatcher sends each as its meter
    is online. Frames of the old version are still taken until it is retired."""
    path = _key_file(data_dir)
    site = site_keys_in(data_dir)
    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")
    with opened(cfg) as platform:
        moving = still_moving(platform.store)
        if moving:
            raise _refuse(f"a key change is still under way: {moving} meters not moved yet (bijli keys status)")
        new = site.next_version()
        rotated = replace(site, versions={**site.versions, new: keyfile.new_masters()}, current=new)
        keyfile.save(path, rotated)
        try:
            queued = start_key_change(
                platform.store, site.current, new, datetime.now(UTC), requested_by=by, reason=reason
            )
        except ChangeUnderWay as e:
            raise _refuse(f"{e}; key version {new} is in {path}, no meter was asked to move") from e
    out.print(
        f"key version {new} made in {escape(str(path))}; key changes queued for {queued:,} "
        f"meter{'s' * (queued != 1)} in service, sent as each is online; follow them with `bijli keys status`"
    )


@app.command("retire")
def keys_retire(
    version: Annotated[int, typer.Argument(help="The key version to drop.")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Retire it although meters still hold it (their frames are then refused)."),
    ] = False,
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
) -> None:
    """Drop a key version's secrets: frames sealed with it are refused as unknown-key from then
    on. Refused while meters still hold it (unless --force), and for the current version."""
    path = _key_file(data_dir)
    site = site_keys_in(data_dir)
    if version == site.current:
        raise _refuse(f"key version {version} is current; rotate to a new one first")
    if version not in site.versions:
        state = "retired already" if version in site.retired else "not one the site holds"
        raise _refuse(f"key version {version} is {state}")
    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")
    with opened(cfg) as platform:
        held, coming = key_counts(platform.store, site.current).get(version, (0, 0))
    if (held or coming) and not force:
        raise _refuse(
            f"{held:,} meter{'s' * (held != 1)} still hold key version {version}: their frames would be refused "
            "as unknown-key (bijli keys status; --force retires it anyway)"
        )
    versions = {v: m for v, m in site.versions.items() if v != version}
    keyfile.save(path, SiteKeys(site.identity, versions, site.current, site.retired | {version}))
    out.print(
        f"key version {version} retired: its secrets are gone from {escape(str(path))}; frames sealed with it "
        f"are refused as unknown-key" + (f" ({held:,} meters still held it)" if held else "")
    )


@app.command("passwords")
def keys_passwords(
    to: Annotated[Path, typer.Option("--out", help="A new file for the lines (made 0600; never replaced).")],
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
) -> None:
    """Write every registered meter's MQTT password, of the key version it holds, as
    ``meter_id:password`` lines for `mosquitto_passwd -U` (never on the screen)."""
    site = site_keys_in(data_dir)
    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")
    with opened(cfg) as platform:
        held = held_versions(platform.store, site.current)
    lines = "".join(f"{m}:{site.mqtt_password(m, v)}\n" for m, v in held.items() if v in site.versions)
    try:
        fd = os.open(to, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as e:
        raise _refuse(f"{to} exists already; give a new file") from e
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(lines)
    skipped = len(held) - lines.count("\n")
    out.print(
        f"{lines.count(chr(10)):,} meters' passwords written to {escape(str(to))} (mode 0600)"
        + (f"; {skipped:,} meters hold a retired version and were left out" if skipped else "")
    )
