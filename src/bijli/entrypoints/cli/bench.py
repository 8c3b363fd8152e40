"""`bijli bench …`: benchmarks that print figures, not pass or fail."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from bijli.entrypoints.cli.options import console

app = typer.Typer(no_args_is_help=True, help="Benchmarks: figures, not pass/fail.")


@app.command("fleet")
def bench_fleet(
    meters: Annotated[int, typer.Option(min=1, help="Consumer meters (their DT meters come too).")] = 24_000,
    days: Annotated[float, typer.Option(min=0.0, help="Simulated days.")] = 1.0,
    intervals: Annotated[int | None, typer.Option(min=1, help="Simulate this many 15-minute rounds instead.")] = None,
) -> None:
    """Simulate a fleet without a broker (frames built and signed, then dropped); one JSON line."""
    from bijli.benchmarks.fleet import run

    print(json.dumps(run(meters, days, intervals=intervals)))


@app.command("ingest")
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


@app.command("readings")
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
