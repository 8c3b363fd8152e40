"""The `bijli` command."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bijli import settings as settings_mod
from bijli.bootstrap import bootstrap
from bijli.kernel.heap import settle_heap
from bijli.mdm.meters import MeterStatus
from bijli.meter_cli import meter_app
from bijli.tokens_cli import token_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Operate smart prepaid electricity meters.")
db_app = typer.Typer(no_args_is_help=True, help="The store: schema migrations.")
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(meter_app, name="meter")
report_app = typer.Typer(no_args_is_help=True, help="Daily reports: data collection, silent meters.")
app.add_typer(report_app, name="report")
mdm_app = typer.Typer(no_args_is_help=True, help="Meter data management: validation and estimation.")
app.add_typer(mdm_app, name="mdm")
meters_app = typer.Typer(no_args_is_help=True, help="The utility's registered meters: lifecycle.")
app.add_typer(meters_app, name="meters")
scenario_app = typer.Typer(no_args_is_help=True, help="Scenario files: what happens to a simulated city.")
app.add_typer(scenario_app, name="scenario")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks: figures, not pass/fail.")
app.add_typer(bench_app, name="bench")
console = Console(stderr=True)

DataDir = Annotated[Path, typer.Option("--data-dir", help="Folder for the embedded store and site key.")]
DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help="postgresql://… (default: SQLite in the data folder).")
]


@app.command()
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
    """Run a simulated city of prepaid meters on the embedded stack."""
    from bijli import demo as demo_mod

    if headless:
        cfg = settings_mod.build(data_dir=data_dir, broker_url="memory")
        platform = bootstrap(cfg)
        first = date.fromisoformat(start) if start else demo_mod.default_start(days)
        result = asyncio.run(demo_mod.run_headless(platform, meters, days, first))
        platform.store.dispose()
        print(json.dumps(result))
        return
    from bijli.live import run_live

    cfg = settings_mod.build(data_dir=data_dir, broker_url="embedded", port=port)
    asyncio.run(
        run_live(bootstrap(cfg), meters=meters, mqtt_port=mqtt_port, hotspot_port=hotspot_port, console=console)
    )


@app.command()
def serve(
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
    broker_url: Annotated[
        str | None, typer.Option("--broker-url", help="mqtt://host:port to ingest from; none: web only.")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind (loopback until authentication lands).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Web port.")] = 8000,
    topic_root: Annotated[str, typer.Option(help="First level of the MQTT topics.")] = "bijli",
    worker_id: Annotated[
        str, typer.Option(help="This head-end worker's name; each of several workers needs its own.")
    ] = "1",
) -> None:
    """Run the platform: web and API, and ingest from a broker when one is given."""
    from bijli.serve import run_serve

    if host not in ("127.0.0.1", "localhost", "::1"):
        raise typer.BadParameter("until authentication lands, bijli serves on loopback only", param_hint="--host")
    cfg = settings_mod.build(
        data_dir=data_dir,
        database_url=database_url,
        broker_url=broker_url or "none",
        topic_root=topic_root,
        host=host,
        port=port,
    )
    platform = bootstrap(cfg)
    settle_heap()
    asyncio.run(run_serve(platform, console, worker=worker_id))


@app.command()
def simulate(
    broker_url: Annotated[str, typer.Option("--broker-url", help="mqtt://host:port the meters publish to.")],
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
) -> None:
    """Run a fleet of meter twins against any MQTT broker."""
    from bijli.fleet.simulate import run_simulation

    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url=broker_url, topic_root=topic_root)
    first = date.fromisoformat(start) if start else None
    platform = bootstrap(cfg) if commission_into_store else None
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


@scenario_app.command("run")
def scenario_run(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The scenario (TOML).")],
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
    broker_url: Annotated[
        str | None, typer.Option("--broker-url", help="mqtt://… to publish to; none: run the head-end in-process.")
    ] = None,
    truth: Annotated[Path | None, typer.Option(help="Where to write the ground truth (JSON lines).")] = None,
    topic_root: Annotated[str, typer.Option(help="First level of the MQTT topics.")] = "bijli",
) -> None:
    """Run a scenario file through the platform; prints one JSON summary line."""
    from bijli import scenario_run as runner
    from bijli.fleet.scenario import ScenarioError, load

    try:
        scenario = load(file)
    except ScenarioError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from e
    cfg = settings_mod.build(
        data_dir=data_dir, database_url=database_url, broker_url=broker_url or "memory", topic_root=topic_root
    )
    truth_path = truth or cfg.data_dir / f"{file.stem}.truth.jsonl"
    platform = bootstrap(cfg) if database_url or not broker_url else None
    try:
        if broker_url:
            summary = asyncio.run(
                runner.run_over_mqtt(
                    platform, scenario, cfg.site_secret, broker_url, topic_root, cfg.tariff_code, truth_path, console
                )
            )
        else:
            assert platform is not None
            summary = asyncio.run(runner.run_in_process(platform, scenario, truth_path, console))
    except ScenarioError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from e
    finally:
        if platform is not None:
            platform.store.dispose()
    print(json.dumps(summary))


@bench_app.command("fleet")
def bench_fleet(
    meters: Annotated[int, typer.Option(min=1, help="Consumer meters (their DT meters come too).")] = 24_000,
    days: Annotated[float, typer.Option(min=0.0, help="Simulated days.")] = 1.0,
    intervals: Annotated[int | None, typer.Option(min=1, help="Simulate this many 15-minute rounds instead.")] = None,
) -> None:
    """Simulate a fleet without a broker (frames built and signed, then dropped); one JSON line."""
    from bijli.benchmarks.fleet import run

    print(json.dumps(run(meters, days, intervals=intervals)))


@bench_app.command("ingest")
def bench_ingest(
    meters: Annotated[int, typer.Option(min=1, help="Consumer meters publishing (each commissioned first).")] = 24_000,
    intervals: Annotated[int, typer.Option(min=1, help="15-minute rounds published as fast as they go.")] = 8,
    workers: Annotated[int, typer.Option(min=1, help="Head-end worker processes (and do-nothing subscribers).")] = 2,
    publishers: Annotated[int, typer.Option(min=1, help="MQTT connections the publisher uses.")] = 4,
    latency_intervals: Annotated[
        int, typer.Option(min=0, help="Further rounds published at half the measured rate, for the latency.")
    ] = 4,
    repeat: Annotated[
        int, typer.Option(min=1, help="Broker and ingest measured this many times, in turn; medians reported.")
    ] = 3,
    database_url: Annotated[
        str, typer.Option("--database-url", help="PostgreSQL database for the run (a bijli_bench… one is made anew).")
    ] = "postgresql://postgres@127.0.0.1/bijli_bench_ingest",
    broker_url: Annotated[
        str | None, typer.Option("--broker-url", help="MQTT 5 broker to measure (default: a Mosquitto of its own).")
    ] = None,
) -> None:
    """End-to-end ingest beside the broker's and COPY's limits, all in one run; one JSON line."""
    from bijli.benchmarks import ingest
    from bijli.benchmarks.readings_query import BenchError

    options = ingest.Options(
        meters=meters,
        intervals=intervals,
        latency_intervals=latency_intervals,
        repeat=repeat,
        workers=workers,
        publishers=publishers,
        database_url=database_url,
        broker_url=broker_url,
    )
    try:
        figures = ingest.run(options, progress=console.print)
    except BenchError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(1) from e
    print(json.dumps(figures))


@bench_app.command("readings")
def bench_readings(
    readings: Annotated[int, typer.Option(min=1, help="Readings to store (about; whole meter-days).")] = 100_000_000,
    days: Annotated[int, typer.Option(min=1, help="Days the readings cover, ending at the start of today (IST).")] = 30,
    samples: Annotated[int, typer.Option(min=1, help="Meter-days asked for, each way.")] = 1000,
    reuse: Annotated[bool, typer.Option("--reuse", help="Keep a store built before with the same size.")] = False,
    database_url: Annotated[
        str, typer.Option("--database-url", help="PostgreSQL database of the benchmark's own.")
    ] = "postgresql://postgres@127.0.0.1/bijli_bench",
) -> None:
    """One meter's 24 hours through the store's query and the API, at many stored readings; one JSON line."""
    from bijli.benchmarks import readings_query

    log: list[str] = []
    try:
        figures = readings_query.run(database_url, readings=readings, days=days, samples=samples, reuse=reuse, log=log)
    except readings_query.BenchError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(1) from e
    for line in log:
        console.print(line)
    print(json.dumps(figures))


@report_app.command("collection")
def report_collection(
    day: Annotated[str, typer.Option(help="IST day, YYYY-MM-DD.")],
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
    silent_hours: Annotated[int, typer.Option(help="List meters silent for this many hours.")] = 24,
) -> None:
    """The data-collection rate of a day and the meters not heard from; one JSON line."""
    from datetime import UTC, datetime, timedelta

    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")
    platform = bootstrap(cfg)
    result = platform.reports.collection(date.fromisoformat(day)).as_dict()
    silent = platform.reports.non_communicating(datetime.now(UTC), timedelta(hours=silent_hours))
    result["non_communicating"] = [m["meter_id"] for m in silent]
    platform.store.dispose()
    print(json.dumps(result))


@mdm_app.command("vee")
def mdm_vee(
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
    lookback_hours: Annotated[int, typer.Option(help="How far back to look for missing intervals.")] = 48,
) -> None:
    """One pass of validation and estimation: estimate what is missing; one JSON line."""
    from datetime import UTC, datetime, timedelta

    from bijli.mdm.handlers import run_vee

    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")
    platform = bootstrap(cfg)
    report = run_vee(platform.store, datetime.now(UTC), lookback=timedelta(hours=lookback_hours))
    platform.store.dispose()
    print(
        json.dumps(
            {
                "from": report.checked_from.isoformat(),
                "to": report.checked_to.isoformat(),
                "meters_incomplete": report.meters_incomplete,
                "intervals_estimated": report.intervals_estimated,
            }
        )
    )


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
        platform = bootstrap(cfg)
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
        finally:
            platform.store.dispose()
        Console(highlight=False, soft_wrap=True).print(
            f"meter [bold]{escape(meter_id)}[/bold]: {done.from_status} → [bold]{done.to_status}[/bold]"
            f" by {escape(by)} ({escape(reason)})" + (f"; {ended} unsettled command(s) failed" if ended else "")
        )

    change.__doc__ = summary
    meters_app.command(name)(change)


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


@meters_app.command("history")
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
    platform = bootstrap(cfg)
    try:
        found = platform.queries.status_history(meter_id)
    finally:
        platform.store.dispose()
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


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = Path(".bijli-demo"), database_url: DatabaseUrl = None) -> None:
    """Bring the store's schema up to date."""
    from bijli.adapters.db import engine as db

    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")
    eng = db.create(cfg.database_url)
    db.upgrade(eng)
    console.print(f"store at revision [bold]{db.current_revision(eng)}[/bold]")


@db_app.command("partitions")
def db_partitions(
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
    months_ahead: Annotated[int, typer.Option(min=0, help="Months after the current one to have ready.")] = 3,
    months_behind: Annotated[int, typer.Option(min=0, help="Months before the current one to have.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Make the readings table's missing monthly partitions (PostgreSQL) and list them all."""
    from datetime import UTC, datetime

    from bijli.adapters.db import engine as db
    from bijli.adapters.db import partitions

    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")
    eng = db.create(cfg.database_url)
    try:
        with eng.begin() as conn:
            made = partitions.ensure(conn, partitions.window(datetime.now(UTC), months_behind, months_ahead))
            if partitions.ensure_default(conn):
                made.append(partitions.DEFAULT_PARTITION)
            listed = partitions.partitions(conn)
    except partitions.NotPartitioned as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from e
    finally:
        eng.dispose()
    if as_json:
        rows = [
            {
                "name": p.name,
                "month": p.month,
                "start": p.start.isoformat() if p.start else None,
                "end": p.end.isoformat() if p.end else None,
                "rows_estimate": p.rows_estimate,
                "bytes": p.bytes,
            }
            for p in listed
        ]
        print(json.dumps({"made": made, "partitions": rows}))
        return
    for name in made:
        print(f"made {name}")
    print(f"{'partition':<22} {'month':<8} {'rows (estimate)':>16} {'MB':>10}")
    for p in listed:
        rows_text = "-" if p.rows_estimate < 0 else f"{p.rows_estimate:,}"
        print(f"{p.name:<22} {p.month:<8} {rows_text:>16} {p.bytes / 1e6:>10.1f}")


@db_app.command("retention")
def db_retention(
    keep_months: Annotated[
        int, typer.Option("--keep-months", min=1, help="Whole months to keep before the current one.")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would go; change nothing.")] = False,
    data_dir: DataDir = Path(".bijli-demo"),
    database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of sentences.")] = False,
) -> None:
    """Detach and drop the readings' month partitions older than --keep-months (PostgreSQL)."""
    from datetime import UTC, datetime

    from bijli.adapters.db import engine as db
    from bijli.adapters.db import partitions
    from bijli.kernel.time import IST

    cfg = settings_mod.build(data_dir=data_dir, database_url=database_url, broker_url="none")
    eng = db.create(cfg.database_url)
    try:
        with eng.begin() as conn:
            result = partitions.retire(conn, keep_months, datetime.now(UTC), dry_run=dry_run)
    except partitions.NotPartitioned as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from e
    finally:
        eng.dispose()
    if as_json:
        dropped = [
            {"name": p.name, "month": p.month, "rows_estimate": p.rows_estimate, "bytes": p.bytes}
            for p in result.dropped
        ]
        print(
            json.dumps(
                {
                    "cutoff": result.cutoff.isoformat(),
                    "dry_run": dry_run,
                    "dropped": dropped,
                    "default_rows_deleted": result.default_rows_deleted,
                }
            )
        )
        return
    verb = "would drop" if dry_run else "dropped"
    print(f"keeping readings from {result.cutoff.astimezone(IST):%Y-%m-%d} (IST) on")
    for p in result.dropped:
        rows_text = "?" if p.rows_estimate < 0 else f"about {p.rows_estimate:,}"
        print(f"{verb} {p.name} ({p.month}, {rows_text} readings, {p.bytes / 1e6:.1f} MB)")
    if result.default_rows_deleted:
        verb = "would delete" if dry_run else "deleted"
        print(f"{verb} {result.default_rows_deleted} older readings from {partitions.DEFAULT_PARTITION}")
    if not result.dropped and not result.default_rows_deleted:
        print("nothing is that old")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app()
