"""`python -m bench.ingest` (`bijli bench ingest`): readings per second end to end, beside the
machine's own limits.

One run measures the same frames (real frames of the fleet twin, signed with each meter's
key and encoded as MQTT PUBLISH packets before any clock starts) three ways:

- **ingest**: a publisher (several MQTT 5 connections, QoS 1) -> Mosquitto -> K head-end worker
  processes sharing ``$share/headend/…`` (the `HeadEnd` and `MqttUplink` that `bijli serve`
  runs, acknowledging each batch after its commit) -> PostgreSQL; from the first publish to
  the last commit;
- **broker limit**: the same frames through the same broker to K subscriber processes that
  do nothing but acknowledge (QoS 1, manual acknowledgement, the same receive maximum); from
  the first publish to the last receipt;
- **copy limit**: the same rows by binary ``COPY`` into a scratch table built like ``readings``
  (same columns, key and monthly partitions), best of three.

A second set of rounds then goes out at half the measured rate, for the receive-to-commit
latency at half load, and the store is compared with what was published: ``lost`` (published,
not stored) and ``doubled`` (stored twice, or stored without being published).

Run from a source checkout: ``python -m bench.ingest [options]`` (or ``bijli bench ingest``).
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from sqlalchemy.engine import Engine

from bench import BenchError
from bench.command import RunDatabaseUrl, measured
from bench.database import dedicated_database, scratch_settings
from bench.ingest_broker import bare_subscriber, mosquitto, uplink_subscriber
from bench.ingest_frames import copy_rows, fleet_rounds, meters_for
from bench.ingest_nats import bare_consumer, nats_server, uplink_consumer
from bench.ingest_publisher import publish_all
from bench.ingest_store import STALL_S, checkpoint, compare, copy_limit, count_rows, store_stage, until_settled
from bench.ingest_workers import GROUP, CpuMeter, Processes, until_committed, worker
from bijli import settings as settings_mod
from bijli.adapters.brokers.address import BrokerAddress
from bijli.adapters.db import partitions
from bijli.bootstrap import Platform, bootstrap
from bijli.fleet.city import build_city
from bijli.fleet.commissioning import commission_city
from bijli.fleet.twin import FleetTwin, TwinOptions
from bijli.kernel.time import INTERVAL, INTERVAL_S, epoch, utc_from_epoch
from bijli.protocol import topics

DEFAULT_URL = "postgresql://postgres@127.0.0.1/bijli_bench_ingest"
HALF_LOAD_S = 20.0
"""About how long the half-load rounds last (the fleet's first meters send them, enough for that)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """How a run is shaped (the defaults: the 24,000-meter pilot, two workers)."""

    meters: int = 24_000
    intervals: int = 8
    """Rounds published as fast as they go (every meter's reading, statuses every fourth)."""
    latency_intervals: int = 4
    """Further rounds published at half the measured rate, for the latency at half load (by as
    many of the fleet's meters as make about HALF_LOAD_S of traffic)."""
    repeat: int = 3
    """Times the broker limit and the saturated ingest are measured, in turn (B I B I B I),
    each on rounds of their own; the medians are reported, and the ratio is the median of
    each pair's ratio (the machine's speed drifts; a pair measured back to back shares it)."""
    workers: int = 2
    publishers: int = 4
    """MQTT connections the publisher spreads the meters over."""
    database_url: str = DEFAULT_URL
    broker_url: str | None = None
    """An MQTT 5 broker to measure; None starts a Mosquitto of the run's own (see `bench.ingest_broker.BROKER_CONF`)."""
    broker: str = "mqtt"
    """``mqtt`` (Mosquitto, shared subscription) or ``nats`` (a nats-server of the run's own:
    meters on its MQTT listener, workers on one durable JetStream pull consumer)."""
    kill_worker: bool = False
    """Kill one head-end worker (SIGKILL) in the first ingest round; the others finish its share."""


@contextmanager
def _broker(opts: Options, folder: Path) -> Iterator[tuple[str, str, tuple[int, ...]]]:
    """(the head-end's broker URL, the meters' MQTT URL, the broker's pids: none for Mosquitto by name)."""
    if opts.broker == "nats":
        with nats_server(folder) as (nats_url, mqtt_url, pid):
            yield nats_url, mqtt_url, (pid,)
    else:
        with mosquitto(opts.broker_url, folder) as broker_url:
            yield broker_url, broker_url, ()


def run(opts: Options, progress: Callable[[str], None] | None = None) -> dict[str, object]:
    """Measure ingest, broker limit and copy limit on the same frames; the figures."""
    say = progress or (lambda _msg: None)
    load = os.getloadavg()[0]
    run_id = uuid.uuid4().hex[:8]
    root_ingest, root_broker, root_uplink = f"bi{run_id}", f"bb{run_id}", f"bu{run_id}"
    dedicated_database(opts.database_url, fresh=True)
    with tempfile.TemporaryDirectory() as tmp, _broker(opts, Path(tmp)) as (broker_url, meters_url, broker_pids):
        address = BrokerAddress.parse(meters_url)
        if opts.broker == "mqtt" and not address.mqtt5:
            raise BenchError("the benchmark speaks MQTT 5 (shared subscriptions)")
        cfg = scratch_settings(opts.database_url, Path(tmp))
        cfg = replace(cfg, topic_root=root_ingest, broker_url=broker_url)
        platform = bootstrap(cfg)
        try:
            roots = (root_ingest, root_broker, root_uplink)
            figures = _run(opts, platform.store.engine, cfg, address, roots, platform, say, broker_pids)
        finally:
            platform.close()
    figures["broker"] = opts.broker_url or "mosquitto of its own (max_queued_messages 0)"
    if opts.broker == "nats":
        figures["broker"] = "nats-server of its own (JetStream, MQTT listener, one node)"
        figures["worker_killed"] = opts.kill_worker
    figures["load_average_at_start"] = round(load, 2)  # other work sharing the cores when the run began
    return figures


def _run(
    opts: Options,
    engine: Engine,
    cfg: settings_mod.Settings,
    address: BrokerAddress,
    roots: tuple[str, str, str],
    platform: Platform,
    say: Callable[[str], None],
    broker_pids: tuple[int, ...] = (),
) -> dict[str, object]:
    root_ingest, root_broker, root_uplink = roots
    rounds_total = opts.repeat * opts.intervals + opts.latency_intervals
    now = datetime.now(UTC)
    begin = utc_from_epoch((epoch(now) // INTERVAL_S - rounds_total - 2) * INTERVAL_S)
    city = build_city(opts.meters)
    t = time.perf_counter()
    commission_city(platform.store, platform.settings.tariff_code, city, begin - timedelta(days=1))
    say(f"commissioned {len(city)} meters in {time.perf_counter() - t:.1f} s")
    twin = FleetTwin(
        city,
        [],
        cfg.site_keys,
        platform.store.tariffs[cfg.tariff_code],
        start=begin,
        root=root_ingest,
        first_counter=0,
        options=TwinOptions(history_days=0),
    )
    reps = opts.repeat
    saturates = [fleet_rounds(twin, begin, r * opts.intervals, opts.intervals) for r in range(reps)]
    half = fleet_rounds(twin, begin, reps * opts.intervals, opts.latency_intervals)
    saturate = saturates[0]
    v5 = address.mqtt5
    to_broker = [s.packets(opts.publishers, root_broker, root_ingest, v5) for s in saturates]
    to_uplink = [s.packets(opts.publishers, root_uplink, root_ingest, v5) for s in saturates]
    to_ingest = [s.packets(opts.publishers, mqtt5=v5) for s in saturates]
    sealed = sum(len(s.frames) for s in saturates) + len(half.frames)
    say(f"sealed {sealed} frames ({sum(s.readings for s in saturates) + half.readings} readings)")

    procs = Processes()
    ctx = procs.ctx
    stop = ctx.Event()
    # K bare paho subscribers that only acknowledge (the broker limit), K head-end uplinks that
    # only acknowledge (the uplink limit) and K head-end workers, all up for the whole run;
    # each group is idle while another is measured.
    sub_ready = [ctx.Event() for _ in range(2 * opts.workers)]
    seen = [ctx.Array("d", 3, lock=False) for _ in range(opts.workers)]
    seen_uplink = [ctx.Array("d", 3, lock=False) for _ in range(opts.workers)]
    nats = opts.broker == "nats"
    for i in range(opts.workers if not nats else 0):
        topic_filter = f"$share/bench/{topics.uplink_filter(root_broker)}"
        procs.start(
            bare_subscriber, address, topic_filter, f"bijli-bench-sub-{root_broker}-{i}", sub_ready[i], stop, seen[i]
        )
    for i in range(opts.workers if nats else 0):  # bare JetStream consumers, then the head-end's uplinks
        procs.start(bare_consumer, cfg.broker_url, root_broker, sub_ready[i], stop, seen[i])
    for i in range(opts.workers if nats else 0):
        procs.start(uplink_consumer, cfg.broker_url, root_uplink, sub_ready[opts.workers + i], stop, seen_uplink[i])
    for i in range(opts.workers if not nats else 0):
        topic_filter = topics.shared_uplink_filter(root_uplink, GROUP)
        client_id = f"bijli-bench-uplink-{root_uplink}-{i}"
        procs.start(
            uplink_subscriber,
            cfg.broker_url,
            topic_filter,
            client_id,
            sub_ready[opts.workers + i],
            stop,
            seen_uplink[i],
        )
    ready = [ctx.Event() for _ in range(opts.workers)]
    results = ctx.Queue()
    committed = [ctx.Value("q", 0, lock=False) for _ in range(opts.workers)]
    for i in range(opts.workers):
        procs.start(
            worker,
            cfg.database_url,
            cfg.broker_url,
            root_ingest,
            cfg.site_keys,
            i,
            ready[i],
            stop,
            results,
            committed[i],
        )
    reports: list[dict[str, Any]] = []
    runs: list[dict[str, float]] = []
    windows: list[tuple[float, float]] = []
    cpu_runs: list[dict[str, dict[str, float]]] = []
    try:
        procs.wait_ready(sub_ready + ready, 120, "the subscribers and head-end workers")
        pids = [int(p.pid) for p in procs.started]
        k = opts.workers
        meter = CpuMeter({"subscribers": pids[:k], "uplinks": pids[k : 2 * k], "workers": pids[2 * k :]}, broker_pids)
        time.sleep(0.5)
        frames_seen = stored_goal = 0
        cpu = time.process_time()
        for r, rounds in enumerate(saturates):
            # The broker's limit: these frames to the subscribers.
            before = meter.read()
            first = asyncio.run(publish_all(address, to_broker[r], f"{root_broker}-{r}"))
            frames_seen += len(rounds.frames)
            deadline = time.monotonic() + STALL_S
            while time.monotonic() < deadline and int(sum(s[0] for s in seen)) < frames_seen:
                time.sleep(0.02)
            broker_s = max(max(s[2] for s in seen) - first, 1e-9)
            broker_cpu = CpuMeter.per_reading_us(before, meter.read(), rounds.readings)
            # The same frames to the head-end's own uplink, doing nothing else.
            before = meter.read()
            first = asyncio.run(publish_all(address, to_uplink[r], f"{root_uplink}-{r}"))
            deadline = time.monotonic() + STALL_S
            while time.monotonic() < deadline and int(sum(s[0] for s in seen_uplink)) < frames_seen:
                time.sleep(0.02)
            uplink_s = max(max(s[2] for s in seen_uplink) - first, 1e-9)
            uplink_cpu = CpuMeter.per_reading_us(before, meter.read(), rounds.readings)
            # The ingest: the same number of frames (the next rounds) to the workers.
            checkpoint(engine)
            time.sleep(0.5)
            before = meter.read()
            first = asyncio.run(publish_all(address, to_ingest[r], f"{root_ingest}-{r}"))
            if opts.kill_worker and r == 0:  # all stored in the broker, the workers mid-way
                os.kill(pids[2 * k], signal.SIGKILL)
                say(f"worker 0 killed at {sum(int(c.value) for c in committed)} readings committed")
            stored_goal += rounds.readings
            stored = until_committed(committed, stored_goal)
            windows.append((first, time.time()))
            ingest_cpu = CpuMeter.per_reading_us(before, meter.read(), rounds.readings)
            cpu_runs.append({"broker": broker_cpu, "uplink": uplink_cpu, "ingest": ingest_cpu})
            runs.append(
                {
                    "broker_s": broker_s,
                    "uplink_s": uplink_s,
                    "first": first,
                    "readings": rounds.readings,
                    "stored": stored,
                }
            )
            say(
                f"round {r + 1}: broker {rounds.readings / broker_s:.0f} readings/s, "
                f"uplink {rounds.readings / uplink_s:.0f}; ingest stored {stored}"
            )
            asyncio.run(until_settled(engine))  # settlement of this set does not overlap the next
        publisher_cpu_s = time.process_time() - cpu
        frame_rate = len(saturate.frames) / max(windows[-1][1] - windows[-1][0], 1e-9)
        half = half.first_meters(meters_for(half, opts.meters, frame_rate / 2 * HALF_LOAD_S))
        half_start = time.time()
        asyncio.run(
            publish_all(
                address, half.packets(opts.publishers, mqtt5=v5), root_ingest + "-half", rate_per_s=frame_rate / 2
            )
        )
        until_committed(committed, stored_goal + half.readings)
        half_done = time.time()
        unsettled = asyncio.run(until_settled(engine))
        settled_at = time.time()
        say(f"settled: {unsettled} batches left")
        stop.set()
        for _ in range(opts.workers - opts.kill_worker):
            try:
                reports.append(results.get(timeout=60))
            except queue.Empty:
                break
    finally:
        procs.stop(stop)
    if len(reports) < opts.workers - opts.kill_worker:
        raise BenchError("a head-end worker did not report; see its log above")
    commits = [c for r in reports for c in r["commits"]]
    arrivals = [a for r in reports for a in r["arrivals"]]
    for run, (begun, done) in zip(runs, windows, strict=True):
        last_commit = max((c for c in commits if begun <= c <= done), default=done)
        run["ingest_s"] = max(last_commit - begun, 1e-9)
        run["readings_per_s"] = run["readings"] / run["ingest_s"]
        run["broker_limit_per_s"] = run["readings"] / run["broker_s"]
        run["ratio"] = run["readings_per_s"] / run["broker_limit_per_s"]
        run["uplink_limit_per_s"] = run["readings"] / run["uplink_s"]
        run["ratio_to_uplink"] = run["readings_per_s"] / run["uplink_limit_per_s"]
    readings_per_s = statistics.median(run["readings_per_s"] for run in runs)
    broker_limit = statistics.median(run["broker_limit_per_s"] for run in runs)
    ratio = statistics.median(run["ratio"] for run in runs)
    uplink_limit = statistics.median(run["uplink_limit_per_s"] for run in runs)
    ratio_to_uplink = statistics.median(run["ratio_to_uplink"] for run in runs)
    ingest_s = statistics.median(run["ingest_s"] for run in runs)
    broker_s = statistics.median(run["broker_s"] for run in runs)
    saturated_latency = [c - a for a, c in zip(arrivals, commits, strict=True) if any(b <= a <= d for b, d in windows)]
    half_latency = [c - a for a, c in zip(arrivals, commits, strict=True) if a >= half_start]
    # Under load, and conservatively: as if one worker had done every batch's work in turn.
    stored_all = sum(r["readings_stored"] for r in reports)
    write_under_load = stored_all / max(sum(r["write_s"] for r in reports), 1e-9)
    batch_stage = stored_all / max(sum(r["busy_s"] for r in reports), 1e-9)
    batches = sum(int(r["batches"]) for r in reports)

    # 3. The copy limit: the same rows into a table like `readings`.
    copy_per_s = copy_limit(engine, cfg.database_url, copy_rows(saturate, datetime.now(UTC)))
    say(f"copy: {copy_per_s:.0f} rows/s")
    per_batch = max(1, round(stored_all / max(1, batches)))
    stage_per_s = store_stage(engine, cfg.database_url, saturate, per_batch, opts.workers)
    say(f"store stage alone: {stage_per_s:.0f} readings/s in batches of {per_batch}, {opts.workers} writers")

    ids = [c.meter_id for c in city]
    middle = begin + reps * opts.intervals * INTERVAL
    published = [(ids, begin, middle), (ids[: half.meters], middle, middle + opts.latency_intervals * INTERVAL)]
    lost, doubled, quarantined = compare(engine, published)
    with engine.connect() as conn:
        size = sum(p.bytes for p in partitions.partitions(conn))
        ledger_size = sum(  # the ledger, each account's running day charges and its months' openings
            int(conn.exec_driver_sql(f"SELECT pg_total_relation_size('{table}')").scalar_one())
            for table in LEDGER_TABLES
        )
        total_readings = count_rows(engine)
    return {
        "readings_per_s": round(readings_per_s),
        "broker_limit_per_s": round(broker_limit),
        "copy_limit_per_s": round(copy_per_s),
        "ratio_to_broker": round(ratio, 3),
        "ratio_to_copy": round(readings_per_s / copy_per_s, 3),
        "lost": lost,
        "doubled": doubled,
        "uplink_limit_per_s": round(uplink_limit),
        "ratio_to_uplink": round(ratio_to_uplink, 3),
        "meters": opts.meters,
        "intervals": opts.intervals,
        "repeat": reps,
        "runs": [
            {
                "readings_per_s": round(run["readings_per_s"]),
                "broker_limit_per_s": round(run["broker_limit_per_s"]),
                "ratio": round(run["ratio"], 3),
                "uplink_limit_per_s": round(run["uplink_limit_per_s"]),
                "ratio_to_uplink": round(run["ratio_to_uplink"], 3),
            }
            for run in runs
        ],
        "workers": opts.workers,
        "publishers": opts.publishers,
        "readings": saturate.readings,
        "frames": len(saturate.frames),
        "ingest_s": round(ingest_s, 2),
        "broker_s": round(broker_s, 2),
        "store_stage_per_s": round(stage_per_s),
        "store_stage_to_copy": round(stage_per_s / copy_per_s, 3),
        "store_stage_batch": per_batch,
        "write_under_load_per_s": round(write_under_load),
        "batch_stage_per_s": round(batch_stage),
        "settled_after_s": round(settled_at - half_done, 2),
        "settled_readings": sum(r["readings_settled"] for r in reports),
        "unsettled_batches": unsettled,
        "saturated_receive_to_commit_p99_ms": _ms(saturated_latency, 0.99),
        "half_load_per_s": round(frame_rate / 2 * saturate.readings / len(saturate.frames)),
        "half_load_readings": half.readings,
        "half_load_receive_to_commit_p50_ms": _ms(half_latency, 0.5),
        "half_load_receive_to_commit_p99_ms": _ms(half_latency, 0.99),
        "worker_rss_mb": round(max(r["rss_mb"] for r in reports), 1),
        "publisher_cpu_s": round(publisher_cpu_s, 2),
        "cpu_us_per_reading": {
            phase: {k: round(statistics.median(c[phase][k] for c in cpu_runs), 1) for k in cpu_runs[0][phase]}
            for phase in ("broker", "uplink", "ingest")
        },
        "batches": batches,
        "messages_per_batch": round(len(commits) / max(1, batches), 1),
        "bytes_per_reading": round(size / max(total_readings, 1), 1),
        "ledger_bytes_per_reading": round(ledger_size / max(total_readings, 1), 1),
        "quarantined": quarantined,
        "worker_errors": [e for r in reports for e in r["errors"]],
    }


LEDGER_TABLES = ("ledger", "day_charges", "billing_months")
"""What `ledger_bytes_per_reading` counts: the money's tables (docs/billing.md)."""


def _ms(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000, 1)


app = typer.Typer(add_completion=False)
console = Console(stderr=True)


@app.command()
def main(
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
    database_url: RunDatabaseUrl = DEFAULT_URL,
    broker_url: Annotated[
        str | None, typer.Option("--broker-url", help="MQTT 5 broker to measure (default: a Mosquitto of its own).")
    ] = None,
    broker: Annotated[
        str,
        typer.Option(
            "--broker",
            help="mqtt (Mosquitto) or nats (a nats-server of its own: JetStream, meters on its MQTT listener).",
        ),
    ] = "mqtt",
    kill_worker: Annotated[
        bool, typer.Option("--kill-worker", help="SIGKILL one head-end worker in the first ingest round (nats).")
    ] = False,
) -> None:
    """End-to-end ingest beside the broker's and COPY's limits, all in one run; one JSON line."""
    options = Options(
        meters=meters,
        intervals=intervals,
        latency_intervals=latency_intervals,
        repeat=repeat,
        workers=workers,
        publishers=publishers,
        database_url=database_url,
        broker_url=broker_url,
        broker=broker,
        kill_worker=kill_worker,
    )
    if broker not in ("mqtt", "nats") or (broker == "nats" and broker_url) or (kill_worker and broker != "nats"):
        console.print("[red]--broker is mqtt or nats; --broker-url is for mqtt, --kill-worker for nats[/red]")
        raise typer.Exit(2)
    figures = measured(lambda: run(options, progress=console.print), console)
    print(json.dumps(figures))


if __name__ == "__main__":
    app()
