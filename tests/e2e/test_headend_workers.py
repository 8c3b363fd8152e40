"""Head-end workers on Mosquitto and PostgreSQL: two give the same store as one, and one
killed with SIGKILL in the middle of its work loses and doubles nothing once it is back."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
import pytest
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion

from bijli.adapters.db.engine import normalise_url
from bijli.fleet.city import build_city
from bijli.fleet.twin import FleetTwin, Outgoing, TwinOptions
from bijli.kernel.time import INTERVAL, ist_midnight
from bijli.prepaid.tariff import builtin_tariffs
from tests.conftest import BIJLI, MQTT_HOST, MQTT_PORT, SERVE_STARTS_WITHIN_S, free_port, wait_until
from tests.e2e.money import check_accounts
from tests.support.keys import SITE, as_env
from tests.support.sites import commissioned_platform

SECRET = SITE
METERS, INTERVALS = 40, 12
START = ist_midnight(date(2026, 11, 4)) + timedelta(hours=6)


@pytest.fixture(autouse=True)
def site_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIJLI_SITE_KEYS", as_env(SECRET))


def city_twin(root: str) -> FleetTwin:
    """The small city's twin from `START`, publishing under `root`, its counters from 1000."""
    return FleetTwin(
        build_city(METERS),
        [],
        SECRET,
        builtin_tariffs()["UP-LMV1-DU"],
        start=START,
        root=root,
        first_counter=1000,
        options=TwinOptions(drift_ppm=0),
    )


def city_frames(root: str) -> list[Outgoing]:
    """A small city's frames over three hours, Mall Road silent for one of them (backlogs)."""
    twin = city_twin(root)
    frames: list[Outgoing] = []
    for n in range(INTERVALS):
        t = START + n * INTERVAL
        if n == 3:
            for op in ("Jio", "Airtel"):
                twin.network(op, "Mall Road", False, t.timestamp())
        if n == 7:
            for op in ("Jio", "Airtel"):
                twin.network(op, "Mall Road", True, t.timestamp())
        twin.close_interval(t)
        frames += twin.take_outgoing()
    return frames


@pytest.fixture
def prepare() -> Iterator[Callable[[str, Path], sa.Engine]]:
    """Commissions the city into a store; yields engines on it, closed after the test."""
    engines: list[sa.Engine] = []

    def make(database_url: str, data_dir: Path) -> sa.Engine:
        platform = commissioned_platform(
            data_dir, build_city(METERS), START - timedelta(days=1), database_url=database_url, broker_url="none"
        )
        platform.store.dispose()
        engines.append(sa.create_engine(normalise_url(database_url)))
        return engines[-1]

    yield make
    for engine in engines:
        engine.dispose()


def publish(frames: list[Outgoing]) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.connect(MQTT_HOST, MQTT_PORT)
    client.loop_start()
    for f in frames:
        client.publish(f.topic, f.payload, qos=1).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def contents(engine: sa.Engine) -> dict[str, list[Any]]:
    queries = {
        "readings": "SELECT meter_id, interval_start, import_wh, import_wh_total, quality, flags FROM readings",
        # Days close onto the ledger whenever a settler gets to them, so what one worker posts
        # as a day's debit two may post as a debit and a correction: the days' charges are what
        # must be the same, and every other entry.
        "ledger": "SELECT account_no, kind, amount_paise, reference FROM ledger "
        "WHERE kind NOT IN ('day_charge', 'day_correction')",
        "days": "SELECT account_no, day, charge_paise, duty_paise, energy_wh, tariff_version FROM day_charges",
        "events": "SELECT meter_id, code, occurred_at FROM events",
        "state": "SELECT meter_id, last_fc, fc_window, relay, failovers, balance_mirror_paise FROM meter_state",
        "daily": "SELECT meter_id, day, wh, intervals FROM meter_daily",
    }
    with engine.connect() as conn:
        return {name: sorted(tuple(r) for r in conn.execute(sa.text(q))) for name, q in queries.items()}


@pytest.fixture
def workers() -> Iterator[Callable[[list[str]], subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(args: list[str]) -> subprocess.Popen[bytes]:
        port = free_port()
        proc = subprocess.Popen([*BIJLI, "serve", *args, "--port", str(port)])
        procs.append(proc)

        def healthy() -> bool:
            assert proc.poll() is None, "bijli serve exited early"
            try:
                return httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, SERVE_STARTS_WITHIN_S, "bijli serve to answer")
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.mark.postgres
@pytest.mark.mosquitto
def test_two_workers_store_exactly_what_one_stores(
    new_pg_database: Callable[[], str],
    mosquitto: str,
    topic_root: str,
    tmp_path: Path,
    workers: Callable[[list[str]], subprocess.Popen[bytes]],
    prepare: Callable[[str, Path], sa.Engine],
) -> None:
    stores = {}
    for n_workers in (1, 2):
        url, root = new_pg_database(), f"{topic_root}w{n_workers}"
        engine = prepare(url, tmp_path / f"d{n_workers}")
        for w in range(n_workers):
            workers(
                [
                    "--database-url",
                    url,
                    "--broker-url",
                    mosquitto,
                    "--topic-root",
                    root,
                    "--data-dir",
                    str(tmp_path / f"d{n_workers}"),
                    "--worker-id",
                    f"w{w}",
                ]
            )
        publish(city_frames(root))
        wait_until(lambda e=engine: count(e, "readings") >= METERS * INTERVALS, 120, "every reading")  # type: ignore[misc]
        wait_until(lambda e=engine: count(e, "ingest_batches") > 0, 10, "the ingest log")  # type: ignore[misc]
        wait_until(lambda e=engine: count(e, "settlement_queue") == 0, 60, "everything settled")  # type: ignore[misc]
        stores[n_workers] = engine

    one, two = contents(stores[1]), contents(stores[2])
    assert len(one["readings"]) == METERS * INTERVALS
    for table in one:
        assert one[table] == two[table], table
    assert check_accounts(stores[1]) == check_accounts(stores[2]) == METERS
    with stores[2].connect() as conn:  # both workers really took part
        readers = "SELECT count(DISTINCT worker) FROM ingest_batches WHERE worker NOT LIKE '%/events'"
        assert conn.execute(sa.text(readers)).scalar_one() == 2  # (each also has its lane for event frames)


@pytest.mark.postgres
@pytest.mark.mosquitto
def test_a_worker_killed_mid_batch_loses_and_doubles_nothing_after_restart(
    pg_url: str,
    mosquitto: str,
    topic_root: str,
    tmp_path: Path,
    workers: Callable[[list[str]], subprocess.Popen[bytes]],
    prepare: Callable[[str, Path], sa.Engine],
) -> None:
    engine = prepare(pg_url, tmp_path)
    args = [
        "--database-url",
        pg_url,
        "--broker-url",
        mosquitto,
        "--topic-root",
        topic_root,
        "--data-dir",
        str(tmp_path),
        "--worker-id",
        "solo",
    ]
    worker = workers(args)
    frames = city_frames(topic_root)
    publish(frames[: len(frames) // 2])
    wait_until(lambda: count(engine, "readings") > 0, 60, "the first readings")
    os.kill(worker.pid, signal.SIGKILL)  # no goodbye: whatever was not committed is simply gone
    worker.wait(timeout=10)
    stored_at_kill = count(engine, "readings")
    publish(frames[len(frames) // 2 :])  # the broker keeps them for the worker's session

    workers(args)
    wait_until(lambda: count(engine, "readings") >= METERS * INTERVALS, 120, "every reading after the restart")
    wait_until(lambda: count(engine, "settlement_queue") == 0, 60, "everything settled")

    assert stored_at_kill < METERS * INTERVALS
    with engine.connect() as conn:
        per_meter = conn.execute(
            sa.text("SELECT count(*), count(DISTINCT interval_start) FROM readings GROUP BY meter_id")
        ).all()
    assert len(per_meter) == METERS and all(n == d == INTERVALS for n, d in per_meter)
    assert check_accounts(engine) == METERS
