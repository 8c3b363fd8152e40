"""`bijli token …`: issue recharge tokens from the command line."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bijli import settings as settings_mod
from bijli.entrypoints.cli.options import DatabaseUrl, site_keys_in
from bijli.entrypoints.cli.platform import opened
from bijli.headend.key_change import held_version
from bijli.kernel.units import PAISE_PER_RUPEE, Paise, format_rupees
from bijli.protocol import tokens
from bijli.protocol.keys import SiteKeys
from bijli.protocol.topics import METER_ID_PATTERN

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Recharge tokens: the 20 digits typed into a meter.")


@app.callback()
def _group() -> None:
    """Recharge tokens: the 20 digits typed into a meter."""
    # A callback keeps `issue` a subcommand even while it is the only one.


@app.command()
def issue(
    meter_id: Annotated[str, typer.Argument(help="The meter the token is for, e.g. KNCL0000001.")],
    amount: Annotated[str, typer.Argument(help="Whole rupees, e.g. 500 or 500.00.")],
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Folder holding the site keys, site.keys (or set BIJLI_SITE_KEYS).")
    ] = Path(".bijli-demo"),
    at: Annotated[
        str | None, typer.Option("--at", metavar="ISO", help="Issue time with a zone, e.g. 2026-11-27T10:00Z.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Issue a credit token for one meter, with the token key of the key version it holds (from
    the store); the last line of output is the 20 digits."""
    if not METER_ID_PATTERN.fullmatch(meter_id):
        raise typer.BadParameter(
            f"{meter_id!r} is not a meter id: upper-case letters, digits and '-', 3 to 32 long", param_hint="METER_ID"
        )
    amount_paise = _paise(amount)
    issued_at = _moment(at) if at else datetime.now(UTC)
    site = site_keys_in(data_dir)  # a folder without keys is an error, never a new site
    version = _version_held(site, meter_id, data_dir, database_url)
    try:
        token = tokens.issue_token(
            site.token_key(meter_id, version), meter_id, amount_paise, issued_at, key_version=version
        )
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e

    if as_json:
        print(
            json.dumps(
                {
                    "meter_id": token.meter_id,
                    "token": token.digits,
                    "token_id": token.token_id,
                    "amount": format_rupees(token.amount_paise),
                    "issued_at": token.issued_at.isoformat().replace("+00:00", "Z"),
                }
            )
        )
        return
    Console(soft_wrap=True, highlight=False).print(
        f"₹{format_rupees(token.amount_paise)} for {token.meter_id}, id {token.token_id}, "
        f"issued {token.issued_at:%Y-%m-%d %H:%M} UTC: [bold]{token.grouped()}[/bold]"
    )
    print(token.digits)


def _version_held(site: SiteKeys, meter_id: str, data_dir: Path, database_url: str | None) -> int:
    """The key version the meter holds, by the store; with no store at all (keys given in
    ``BIJLI_SITE_KEYS``, no database), the site's current one: no store is made to ask."""
    if not (database_url or os.environ.get("BIJLI_DATABASE_URL") or (data_dir.expanduser() / "bijli.db").exists()):
        return site.current
    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")
    with opened(cfg) as platform:
        return held_version(platform.store, meter_id, site.current)


def _paise(amount: str) -> Paise:
    """Whole rupees as paise; a fraction of a rupee is refused (tokens carry whole rupees)."""
    try:
        rupees = Decimal(amount.strip())
    except InvalidOperation:
        raise typer.BadParameter(f"{amount!r} is not an amount in rupees", param_hint="AMOUNT") from None
    if not rupees.is_finite() or rupees != rupees.to_integral_value():
        raise typer.BadParameter(f"{amount!r}: tokens carry whole rupees only, no paise", param_hint="AMOUNT")
    return int(rupees) * PAISE_PER_RUPEE


def _moment(text: str) -> datetime:
    """An ISO 8601 time that names its zone."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time", param_hint="--at") from None
    if moment.tzinfo is None:
        raise typer.BadParameter(f"{text!r} needs a time zone: add Z or an offset such as +05:30", param_hint="--at")
    return moment
