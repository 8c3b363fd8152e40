"""`bijli meters …`: the utility's registered meters, taken out of service and put back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bijli import settings as settings_mod
from bijli.entrypoints.cli.options import DatabaseUrl, DataDir, console
from bijli.entrypoints.cli.platform import opened
from bijli.mdm.meters import MeterStatus

app = typer.Typer(no_args_is_help=True, help="The utility's registered meters: lifecycle.")

MeterArg = Annotated[str, typer.Argument(help="The meter, e.g. KNCL0000001.")]
ChangedBy = Annotated[str, typer.Option("--by", help="Who makes the change (kept in the status history).")]
Reason = Annotated[str, typer.Option("--reason", help="Why (kept in the status history).")]


def _status_command(name: str, to: MeterStatus, summary: str) -> None:
    """`bijli meters NAME`: move a meter to status `to`, saying who and why."""

    def change(
        meter_id: MeterArg,
        by: ChangedBy,
        reason: Reason,
        data_dir: DataDir = Path(".bijli-demo"),
        database_url: DatabaseUrl = None,
    ) -> None:
        from datetime import UTC, datetime

        from rich.markup import escape

        from bijli.accounts.handlers import change_status
        from bijli.mdm.meters import RefusedChange, UnknownMeter, check_audit

        try:
            check_audit(by, reason)
        except ValueError as e:
            raise typer.BadParameter(str(e)) from e
        cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")
        with opened(cfg) as platform:
            try:
                done, ended = change_status(
                    platform.store, meter_id, to, changed_by=by, reason=reason, now=datetime.now(UTC)
                )
            except UnknownMeter as e:
                console.print(f"[red]meter {escape(meter_id)} is not registered[/red]")
                raise typer.Exit(1) from e
            except RefusedChange as e:
                console.print(f"[red]{escape(str(e))}[/red]")
                raise typer.Exit(1) from e
        Console(highlight=False, soft_wrap=True).print(
            f"meter [bold]{escape(meter_id)}[/bold]: {done.from_status} → [bold]{done.to_status}[/bold]"
            f" by {escape(by)} ({escape(reason)})" + (f"; {ended} unsettled command(s) failed" if ended else "")
        )

    change.__doc__ = summary
    app.command(name)(change)


_status_command(
    "decommission",
    MeterStatus.DECOMMISSIONED,
    "Take a meter out of service: its frames are quarantined, its unsettled commands fail, reports leave it out.",
)
_status_command(
    "recommission",
    MeterStatus.COMMISSIONED,
    "Put a decommissioned meter back in service: its frames are stored again, it takes commands.",
)


@app.command("history")
def meters_history(
    meter_id: MeterArg,
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """A meter's status now and every change of it (who, when, why), newest first."""
    from rich.markup import escape
    from rich.table import Table

    from bijli.kernel.time import IST

    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")
    with opened(cfg) as platform:
        found = platform.queries.status_history(meter_id)
    if found is None:
        console.print(f"[red]meter {escape(meter_id)} is not registered[/red]")
        raise typer.Exit(1)
    status, changes = found
    if as_json:
        items = [
            {
                "at": c.at.isoformat().replace("+00:00", "Z"),
                "from_status": c.from_status,
                "to_status": c.to_status,
                "changed_by": c.changed_by,
                "reason": c.reason,
            }
            for c in changes
        ]
        print(json.dumps({"meter_id": meter_id, "status": status, "items": items}))
        return
    out = Console(highlight=False)
    out.print(f"meter [bold]{escape(meter_id)}[/bold] is [bold]{status}[/bold]")
    if not changes:
        out.print("no status changes since it was registered")
        return
    table = Table()
    for name in ("at (IST)", "from", "to"):
        table.add_column(name, no_wrap=True)
    for name in ("by", "reason"):
        table.add_column(name, overflow="fold")  # a narrow terminal wraps the audit, never cuts it
    for c in changes:
        at = c.at.astimezone(IST).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(at, c.from_status, c.to_status, escape(c.changed_by), escape(c.reason))
    out.print(table)
