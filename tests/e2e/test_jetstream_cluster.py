"""The JetStream profile on a three-node NATS cluster on loopback (the MQTT stream replicated
three ways) with two `bijli serve` workers on one durable consumer: a node killed mid-burst,
and a worker killed mid-burst (and never restarted), each lose and double nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as paho
import pytest
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion

from bijli.fleet.twin import Outgoing
from tests.conftest import wait_until
from tests.e2e.money import check_accounts
from tests.e2e.test_headend_workers import (  # noqa: F401  (fixtures)
    INTERVALS,
    METERS,
    city_frames,
    count,
    prepare,
    site_keys,
    workers,
)
from tests.support.nats_cluster import NatsCluster, nats_cluster  # noqa: F401  (fixture)


def publish(port: int, frames: list[Outgoing], halfway: threading.Event) -> None:
    """The meters' frames at QoS 1 to one node's MQTT listener, each waited on for its PUBACK;
    a persistent session, so what was in flight when a connection broke is sent again."""
    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id="meters-e2e", protocol=paho.MQTTv311, clean_session=False
    )
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for n, f in enumerate(frames):
            if n == len(frames) // 2:
                halfway.set()
            info = client.publish(f.topic, f.payload, qos=1)
            info.wait_for_publish(60)
            assert info.is_published(), f"frame {n} not acknowledged"
    finally:
        client.disconnect()
        client.loop_stop()


def check_every_reading_once(engine: sa.Engine) -> None:
    wait_until(lambda: count(engine, "readings") >= METERS * INTERVALS, 180, "every reading")
    wait_until(lambda: count(engine, "settlement_queue") == 0, 60, "everything settled")
    with engine.connect() as conn:
        per_meter = conn.execute(
            sa.text("SELECT count(*), count(DISTINCT interval_start) FROM readings GROUP BY meter_id")
        ).all()
    assert len(per_meter) == METERS and all(n == d == INTERVALS for n, d in per_meter)
    assert count(engine, "readings") == METERS * INTERVALS
    assert check_accounts(engine) == METERS


def serve_args(url: str, broker: str, root: str, data_dir: Path, worker: str) -> list[str]:
    return [
        "--database-url",
        url,
        "--broker-url",
        broker,
        "--topic-root",
        root,
        "--data-dir",
        str(data_dir),
        "--worker-id",
        worker,
    ]


@pytest.mark.postgres
def test_a_node_killed_mid_burst_loses_and_doubles_nothing(
    pg_url: str,
    nats_cluster: NatsCluster,  # noqa: F811
    topic_root: str,
    tmp_path: Path,
    workers: Callable[[list[str]], subprocess.Popen[bytes]],  # noqa: F811
    prepare: Callable[[str, Path], sa.Engine],  # noqa: F811
) -> None:
    engine = prepare(pg_url, tmp_path)
    for w in ("w0", "w1"):
        workers(serve_args(pg_url, nats_cluster.url(), topic_root, tmp_path, w))
    halfway = threading.Event()
    meters = threading.Thread(
        target=publish, args=(nats_cluster.nodes[0].mqtt_port, city_frames(topic_root), halfway), daemon=True
    )
    meters.start()
    assert halfway.wait(120)
    nats_cluster.nodes[2].kill()  # one of the three replicas gone, mid-burst
    meters.join(180)
    assert not meters.is_alive()
    check_every_reading_once(engine)


@pytest.mark.postgres
def test_a_worker_killed_mid_burst_leaves_its_share_to_the_other(
    pg_url: str,
    nats_cluster: NatsCluster,  # noqa: F811
    topic_root: str,
    tmp_path: Path,
    workers: Callable[[list[str]], subprocess.Popen[bytes]],  # noqa: F811
    prepare: Callable[[str, Path], sa.Engine],  # noqa: F811
) -> None:
    engine = prepare(pg_url, tmp_path)
    broker = nats_cluster.url(ack_wait_s=5)
    doomed = workers(serve_args(pg_url, broker, topic_root, tmp_path, "w0"))
    workers(serve_args(pg_url, broker, topic_root, tmp_path, "w1"))
    halfway = threading.Event()
    meters = threading.Thread(
        target=publish, args=(nats_cluster.nodes[0].mqtt_port, city_frames(topic_root), halfway), daemon=True
    )
    meters.start()
    assert halfway.wait(120)
    os.kill(doomed.pid, signal.SIGKILL)  # never restarted: the other worker must take its share over
    doomed.wait(timeout=10)
    meters.join(180)
    assert not meters.is_alive()
    check_every_reading_once(engine)
    with engine.connect() as conn:  # both workers really took part
        assert conn.execute(sa.text("SELECT count(DISTINCT worker) FROM ingest_batches")).scalar_one() == 2
