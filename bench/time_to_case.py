"""`python -m bench.time_to_case` (`bijli bench time-to-case`): from a tamper's event frame
leaving the meter to its case visible through the API, on the live stack, in real time.

Builds a benchmark store on PostgreSQL with a city of `--meters` consumers, starts a real
`bijli serve` against it and the broker (Mosquitto by default: the head-end ingesting with
its shared subscription, the cases' round every second, the web API), and connects the twin
meters to the broker, each on its own MQTT connection with its own credentials. Then, every
`--gap` seconds, a tamper (magnet, cover open, neutral missing, bypass, ... in turn) begins on
a meter not tampered with before; the meter logs it and its event frame is published (QoS 1)
at once. A watcher asks `GET /api/v1/cases` every 50 ms as an operator's token and notes when
each meter's case first appears. Prints one JSON line: the time to case of every tamper
(p50, p90, p99, the most), how many never became a case, and the limit (5 s).

With `--load-meters N`, N more meters' readings (`--load-rounds` past 15-minute rounds of
them, sealed as the twin seals them) are published at `--load-rate` readings a second for as
long as the tampering lasts, so the tampers' frames queue with a fleet's readings at the
broker and the head-end, as they would at an interval boundary.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import httpx
import sqlalchemy as sa
import typer
from rich.console import Console
from rich.progress import Progress

from bench import BenchError
from bench.command import OwnDatabaseUrl, measured
from bench.database import dedicated_database
from bench.ingest_frames import fleet_rounds
from bench.ingest_publisher import publish_all
from bijli import settings as settings_mod
from bijli.access.handlers import create_token
from bijli.access.model import Role
from bijli.adapters.brokers.address import BrokerAddress
from bijli.adapters.db import engine as db
from bijli.adapters.db import schema as t
from bijli.bootstrap import bootstrap
from bijli.fleet.city import build_city
from bijli.fleet.commissioning import commission_city
from bijli.fleet.links import MeterConnections
from bijli.fleet.twin import FleetTwin
from bijli.kernel.time import INTERVAL, INTERVAL_S, epoch, utc_from_epoch
from bijli.prepaid.tariff import builtin_tariffs

DEFAULT_URL = "postgresql://postgres@127.0.0.1/bijli_bench_cases"
DEFAULT_BROKER = "mqtt://127.0.0.1:1883"
LIMIT_S = 5.0
"""The promise: a tamper is a case through the API within 5 s (at the 99th percentile)."""
WATCH_EVERY_S = 0.05
KINDS = (
    "magnet",
    "cover_open",
    "neutral_missing",
    "neutral_disturbance",
    "current_reverse",
    "bypass",
    "earth_load",
)
"""The tampers a meter reports while it can talk (a removed modem reports only once refitted)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class Watcher:
    """Asks the API for the cases every `WATCH_EVERY_S` and notes when each subject's first appears."""

    def __init__(self, base: str, token: str) -> None:
        self.seen: dict[str, float] = {}
        self.polls = 0
        self._client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            found = self._client.get("/api/v1/cases", params={"limit": 1000}).json()["items"]
            now = time.time()
            self.polls += 1
            for case in found:
                self.seen.setdefault(case["subject_id"], now)
            self._stop.wait(WATCH_EVERY_S)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._client.close()


def _serve(url: str, broker: str, root: str, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "bijli", "serve", "--database-url", url, "--broker-url", broker]
    args += ["--topic-root", root, "--data-dir", str(data_dir), "--port", str(port)]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
            raise BenchError(f"bijli serve stopped at its start: {err}")
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise BenchError("bijli serve did not answer within 60 s")


async def _with_load(
    tampering: asyncio.Future[dict[str, float]] | asyncio.Task[dict[str, float]],
    load: list[list[bytes]],
    broker: str,
    rate: float,
) -> dict[str, float]:
    """The tampering, with the load's readings published beside it (if any)."""
    if not load:
        return await tampering
    loading = asyncio.create_task(publish_all(BrokerAddress.parse(broker), load, "ttc-load", rate))
    sent = await tampering
    await loading
    return sent


async def _tamper(
    twin: FleetTwin, settings: settings_mod.Settings, tampers: int, gap_s: float, progress: Progress
) -> dict[str, float]:
    """Each tamper on its own meter, `gap_s` apart; when each meter's event frame left it."""
    sent: dict[str, float] = {}
    async with MeterConnections(
        settings.meters_broker_address(), twin.mqtt_password, twin.meter_ids, settings.topic_root
    ) as link:
        twin.advance(time.time())
        await link.publish(twin.take_outgoing())  # what the meters say on connecting
        task = progress.add_task("tampering", total=tampers)
        for k in range(tampers):
            meter = twin.meter_ids[k]
            at = time.time()
            twin.condition(KINDS[k % len(KINDS)], [k], True, at)
            frames = twin.take_outgoing()
            sent[meter] = time.time()  # the frame leaves the meter now
            left = await link.publish(frames)
            if left:
                raise BenchError(f"the broker did not take meter {meter}'s event frame")
            progress.advance(task)
            await asyncio.sleep(max(0.0, gap_s - (time.time() - at)))
    return sent


def run(
    url: str,
    broker: str,
    *,
    meters: int,
    tampers: int,
    gap_s: float,
    wait_s: float,
    load_meters: int = 0,
    load_rounds: int = 0,
    load_rate: float = 1000.0,
) -> dict[str, object]:
    if tampers > meters:
        raise BenchError("each tamper is on a meter of its own: --tampers at most --meters")
    dedicated_database(url, fresh=True)
    console = Console(stderr=True)
    root = f"bench-ttc-{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory() as tmp, Progress(console=console, transient=True) as progress:
        data_dir = Path(tmp)
        settings = settings_mod.build(
            data_dir=data_dir, database_url=url, broker_url=broker, topic_root=root, new_site=True
        )
        platform = bootstrap(settings)
        everyone = build_city(meters + load_meters)
        city, loaders = everyone[:meters], everyone[meters:]
        now = datetime.now(UTC)
        begin = utc_from_epoch(epoch(now) - epoch(now) % INTERVAL_S)
        commission_city(platform.store, settings.tariff_code, everyone, begin - INTERVAL * 96)
        tariff = builtin_tariffs()[settings.tariff_code]
        load: list[list[bytes]] = []
        load_readings = 0
        if loaders and load_rounds:
            first = begin - INTERVAL * (load_rounds + 1)
            rounds = fleet_rounds(
                FleetTwin(loaders, [], settings.site_keys, tariff, start=first, root=root), first, 0, load_rounds
            )
            load, load_readings = rounds.packets(4), rounds.readings
        token = create_token(platform.store, f"bench-{secrets.token_hex(3)}", Role.OPERATOR, "bench", now)
        platform.close()
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        proc = _serve(url, broker, root, data_dir, port)
        watcher = Watcher(base, token)
        try:
            _wait_for(base, proc)
            time.sleep(2.0)  # the head-end subscribed, the cases' round running
            watcher.start()
            twin = FleetTwin(city, [], settings.site_keys, tariff, start=begin, root=root)

            async def both() -> dict[str, float]:
                tampering = asyncio.create_task(_tamper(twin, settings, tampers, gap_s, progress))
                return await _with_load(tampering, load, broker, load_rate)

            sent = asyncio.run(both())
            waiting = progress.add_task("waiting for the cases", total=len(sent))
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline and not set(sent) <= set(watcher.seen):
                progress.update(waiting, completed=len(set(sent) & set(watcher.seen)))
                time.sleep(0.1)
        finally:
            watcher.stop()
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    engine = db.create(url)
    try:
        with engine.connect() as conn:
            stored = int(conn.execute(sa.select(sa.func.count()).select_from(t.readings)).scalar_one())
    finally:
        engine.dispose()
    took = [watcher.seen[m] - at for m, at in sent.items() if m in watcher.seen]
    if not took:
        raise BenchError("no tamper became a case: is the broker the one bijli serve ingests from?")
    p99 = _quantile(took, 0.99)
    return {
        "benchmark": "time-to-case",
        "meters": meters,
        "tampers": len(sent),
        "cases_seen": len(took),
        "missing": len(sent) - len(took),
        "p50_s": round(_quantile(took, 0.5), 3),
        "p90_s": round(_quantile(took, 0.9), 3),
        "p99_s": round(p99, 3),
        "max_s": round(max(took), 3),
        "limit_s": LIMIT_S,
        "p99_within_limit": p99 < LIMIT_S and len(took) == len(sent),
        "p99_over_limit": round(p99 / LIMIT_S, 3),
        "watch_every_s": WATCH_EVERY_S,
        "load_meters": load_meters,
        "load_readings": load_readings,
        "load_rate_per_s": load_rate if load_readings else 0,
        "load_readings_stored": stored,
        "api_polls": watcher.polls,
        "broker": broker,
        "cpus": os.cpu_count(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "note": "real time: bijli serve (head-end, cases round every 1 s, API) on PostgreSQL and the broker; "
        "from the event frame's publish to the case first listed by GET /api/v1/cases",
    }


app = typer.Typer(add_completion=False)


@app.command()
def main(
    meters: Annotated[
        int, typer.Option(min=1, max=5000, help="Consumers in the city (each a meter on the broker).")
    ] = 200,
    tampers: Annotated[int, typer.Option(min=1, help="Tampers, each on a meter of its own.")] = 100,
    gap: Annotated[float, typer.Option(min=0.0, help="Seconds between one tamper and the next.")] = 0.25,
    wait: Annotated[float, typer.Option(min=1.0, help="Seconds to wait for the last cases.")] = 30.0,
    load_meters: Annotated[int, typer.Option(min=0, help="More meters whose readings load the stack meanwhile.")] = 0,
    load_rounds: Annotated[int, typer.Option(min=0, help="Past 15-minute rounds of their readings.")] = 4,
    load_rate: Annotated[float, typer.Option(min=1.0, help="Their readings published per second.")] = 1000.0,
    database_url: OwnDatabaseUrl = DEFAULT_URL,
    broker_url: Annotated[
        str, typer.Option("--broker-url", help="The MQTT broker meters and bijli serve use.")
    ] = DEFAULT_BROKER,
) -> None:
    """Time from a tamper's event frame to its case through the API, live; one JSON line."""
    figures = measured(
        lambda: run(
            database_url,
            broker_url,
            meters=meters,
            tampers=tampers,
            gap_s=gap,
            wait_s=wait,
            load_meters=load_meters,
            load_rounds=load_rounds,
            load_rate=load_rate,
        )
    )
    typer.echo(json.dumps(figures))


if __name__ == "__main__":
    app()
