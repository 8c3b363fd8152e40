"""The JetStream profile's lane for the meters' event frames, through `bijli serve` on
PostgreSQL and a NATS server of the test's own: a tamper published after a day's backlog of
readings is stored while the readings are still being stored, and a worker killed in the middle
of the backlog and started again loses and doubles nothing, events included."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import paho.mqtt.client as paho
import pytest
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion

from bijli.fleet.twin import Outgoing
from bijli.kernel.time import INTERVAL
from bijli.protocol.events import EventCode
from tests.conftest import wait_until
from tests.e2e.test_headend_workers import (  # noqa: F401  (fixtures)
    METERS,
    START,
    city_twin,
    count,
    prepare,
    site_keys,
    workers,
)
from tests.e2e.test_jetstream_cluster import serve_args
from tests.support.nats_cluster import NatsCluster, nats_node  # noqa: F401  (fixture)

DAY = 96
"""Intervals of the backlog: a day of every meter's readings."""


def day_and_tampers(root: str) -> tuple[list[Outgoing], list[Outgoing], list[Outgoing], list[str]]:
    """A day of the city's frames, then a magnet on meter 0, then a cover opened on meter 1
    (and those meters' ids)."""
    twin = city_twin(root)
    day: list[Outgoing] = []
    for n in range(DAY):
        twin.close_interval(START + n * INTERVAL)
        day += twin.take_outgoing()
    after = START + DAY * INTERVAL
    twin.condition("magnet", [0], True, after)
    magnet = twin.take_outgoing()
    twin.condition("cover_open", [1], True, after + timedelta(minutes=1))
    cover = twin.take_outgoing()
    assert all(f.topic.endswith("/up/event") for f in magnet + cover) and magnet and cover
    return day, magnet, cover, twin.meter_ids[:2]


def publish(port: int, frames: list[Outgoing]) -> None:
    """The frames at QoS 1, in order, each acknowledged by the MQTT listener (so in the stream)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    client.max_inflight_messages_set(200)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        sent = [client.publish(f.topic, f.payload, qos=1) for f in frames]
        for n, info in enumerate(sent):
            info.wait_for_publish(60)
            assert info.is_published(), f"frame {n} not acknowledged"
    finally:
        client.disconnect()
        client.loop_stop()


def events_of(engine: sa.Engine, meter_id: str) -> list[tuple[int, datetime]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT code, received_at FROM events WHERE meter_id = :m"), {"m": meter_id})
        return [(int(code), at) for code, at in rows]


@pytest.mark.postgres
def test_a_tamper_passes_a_backlog_of_readings_and_a_restart_loses_and_doubles_nothing(
    pg_url: str,
    nats_node: NatsCluster,  # noqa: F811
    topic_root: str,
    tmp_path: Path,
    workers: Callable[[list[str]], subprocess.Popen[bytes]],  # noqa: F811
    prepare: Callable[[str, Path], sa.Engine],  # noqa: F811
) -> None:
    engine = prepare(pg_url, tmp_path)
    args = serve_args(pg_url, nats_node.url(ack_wait_s=5), topic_root, tmp_path, "w0")
    port = nats_node.nodes[0].mqtt_port
    day, magnet, cover, (magneted, opened) = day_and_tampers(topic_root)
    readings = METERS * DAY

    # The second tampering meter's day comes first and is stored; the first's day waits in the
    # backlog with the others', and its magnet, stored ahead of it, is more than 62 of its
    # counters above all of it: an event frame moves no counter, so none of them is refused.
    theirs = [f for f in day if f"/{opened}/" in f.topic]
    backlog = [f for f in day if f not in theirs]
    first = workers(args)  # makes the consumers (the stream keeps frames only for them) ...
    publish(port, theirs)
    wait_until(lambda: count(engine, "readings") >= DAY, 120, "the second tampering meter's day")
    first.terminate()
    first.wait(timeout=15)
    publish(port, backlog + magnet)  # ... and is away while the others' day and then a tamper come

    worker = workers(args)
    wait_until(lambda: events_of(engine, magneted), 60, "the magnet's event")
    ((code, stored_at),) = events_of(engine, magneted)
    assert code == EventCode.MAGNET
    os.kill(worker.pid, signal.SIGKILL)  # in the middle of the backlog, holding what it fetched
    worker.wait(timeout=10)
    with engine.connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM readings WHERE received_at <= :t"), {"t": stored_at})
        stored_before = int(before.scalar_one()) - DAY
    # In one lane the tamper would have been stored after every reading of the backlog.
    waiting = readings - DAY
    assert stored_before < waiting // 2, f"{stored_before} of {waiting} readings stored before the tamper"
    workers(args)
    publish(port, cover)
    wait_until(lambda: count(engine, "readings") >= readings, 180, "every reading")
    wait_until(lambda: events_of(engine, opened), 60, "the cover's event")
    with engine.connect() as conn:
        per_meter = conn.execute(
            sa.text("SELECT count(*), count(DISTINCT interval_start) FROM readings GROUP BY meter_id")
        ).all()
        lanes = conn.execute(sa.text("SELECT DISTINCT worker FROM ingest_batches WHERE readings_stored = 0")).all()
    assert len(per_meter) == METERS and all(n == d == DAY for n, d in per_meter)
    assert count(engine, "readings") == readings
    assert [c for c, _ in events_of(engine, magneted)] == [EventCode.MAGNET]  # once, through the restart
    assert [c for c, _ in events_of(engine, opened)] == [EventCode.COVER_OPEN]
    assert count(engine, "events") == 2
    with engine.connect() as conn:
        refused = conn.execute(sa.text("SELECT count(*) FROM quarantine")).scalar_one()
    assert refused == 0  # none of the magnet meter's readings counted as a replay
    assert any(str(w).endswith("/events") for (w,) in lanes)
