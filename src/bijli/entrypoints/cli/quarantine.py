"""`bijli quarantine …`: what the head-end set aside, and reprocessing what can be taken now."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bijli import settings as settings_mod
from bijli.entrypoints.cli.options import DatabaseUrl, DataDir, console
from bijli.entrypoints.cli.platform import opened
from bijli.headend.model import SET_ASIDE
from bijli.kernel.time import IST

app = typer.Typer(no_args_is_help=True, help="Frames the head-end set aside: list them, reprocess them.")

ReasonOption = Annotated[
    str | None, typer.Option("--reason", help="Only frames set aside for this reason (e.g. unknown-meter).")
]
MeterOption = Annotated[str | None, typer.Option("--meter", help="Only frames from this meter, e.g. KNCL0000001.")]
TopicRoot = Annotated[str, typer.Option("--topic-root", help="First level of every MQTT topic.")]


def _ist(moment: datetime) -> str:
    return moment.astimezone(IST).strftime("%d %b %Y %H:%M:%S")


def _since(text: str | None) -> datetime | None:
    """A date (from its IST midnight) or a date and time (IST unless it names its offset)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as e:
        raise typer.BadParameter(f"{text!r} is not a date (2026-12-04) or a date and time (2026-12-04T09:30)") from e
    return moment.replace(tzinfo=IST) if moment.tzinfo is None else moment


@app.command("list")
def quarantine_list(
    reason: ReasonOption = None,
    meter: MeterOption = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only frames received since a date or date and time (IST).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most this many, newest first.")] = 100,
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
) -> None:
    """Kept frames, newest first: when they came (IST), from which meter, why they were set
    aside, and whether they were reprocessed and what became of them."""
    after = _since(since)
    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")
    with opened(cfg) as platform:
        found, total = platform.queries.quarantined(reason, meter, after, limit)
    out = Console(highlight=False)
    if not found:
        asked = [f"{name} {value}" for name, value in (("reason", reason), ("meter", meter), ("since", since)) if value]
        out.print("the quarantine is empty" + (f" for {escape(', '.join(asked))}" if asked else ""))
        return
    shown = f"the newest {len(found)} of {total}" if total > len(found) else f"{total}"
    out.print(f"{shown} kept frame{'s' * (total != 1)}; times in IST")
    table = Table()
    for name in ("id", "received (IST)", "meter", "reason"):
        table.add_column(name, no_wrap=True)
    table.add_column("detail", overflow="fold")
    table.add_column("reprocessed", overflow="fold")
    for k in found:
        if k.reprocessed_at is not None:
            done = f"{_ist(k.reprocessed_at)}: {k.outcome}"
        else:
            done = "waiting" if k.reason in SET_ASIDE else "never (the reason stays true)"
        table.add_row(str(k.id), _ist(k.received_at), k.meter_id or "-", k.reason, escape(k.detail), escape(done))
    out.print(table)


@app.command("reprocess")
def quarantine_reprocess(
    reason: Annotated[
        list[str] | None,
        typer.Option("--reason", help=f"Only this reason (repeatable): {', '.join(sorted(SET_ASIDE))}; all by default"),
    ] = None,
    meter: MeterOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would become of each frame; change nothing.")
    ] = False,
    topic_root: TopicRoot = "bijli",
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
) -> None:
    """Run frames set aside for a reason that can change (the store could not take them, the
    meter was not registered, or out of service) through screening and ingest again. Each is
    marked with what became of it and never reprocessed twice; one still refused for such a
    reason stays waiting."""
    from bijli.headend.reprocess import FAILED, WAITING, NotReprocessable, reprocess
    from bijli.kernel.unit import StoreUnavailable

    reasons = tuple(reason) if reason else tuple(sorted(SET_ASIDE))
    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none", topic_root=topic_root)
    with opened(cfg) as platform:
        try:
            report = reprocess(
                platform.store, platform.ring, topic_root, datetime.now(UTC), reasons, meter, dry_run=dry_run
            )
        except NotReprocessable as e:
            raise typer.BadParameter(str(e), param_hint="--reason") from e
        except StoreUnavailable as e:
            console.print(
                f"[red]the store is unavailable ({escape(str(e))}); what was reprocessed stays reprocessed, "
                "the rest is still kept: run this again once the store is back[/red]"
            )
            raise typer.Exit(1) from e
    out = Console(highlight=False)
    if not report.frames:
        out.print("nothing waiting to be reprocessed")
        return
    out.print(
        f"{len(report.frames)} kept frame{'s' * (len(report.frames) != 1)}: "
        f"{report.count('stored')} stored, {report.count('duplicate')} duplicate (nothing new), "
        f"{report.refused} refused, {report.count(WAITING)} still waiting, {report.count(FAILED)} still not storable"
        + ("" if dry_run else f"; {report.readings_stored + report.readings_replaced} readings stored")
        + (" (dry run: nothing changed)" if dry_run else "")
    )
    table = Table()
    for name in ("id", "received (IST)", "meter", "reason", "outcome"):
        table.add_column(name, no_wrap=True)
    for f in report.frames:
        k = f.frame
        table.add_row(str(k.id), _ist(k.received_at), k.meter_id or "-", k.reason, f.outcome)
    out.print(table)
