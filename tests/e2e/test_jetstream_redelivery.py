"""A worker dies holding a meter's first frames; another stores the meter's later ones before
JetStream hands those first ones over again, by then further below the meter's highest counter
than the replay window tells apart. On a real nats-server and PostgreSQL, every reading is
stored once, none is quarantined, and none is lost."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bijli.adapters.brokers.jetstream import JetStreamUplink
from bijli.adapters.brokers.nats_address import NatsAddress
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.headend.handlers import ingest_batch
from bijli.headend.model import REPLAY_WINDOW
from bijli.headend.ports import Delivery
from bijli.protocol import topics
from tests.e2e.test_headend_workers import METERS, START, site_keys  # noqa: F401  (fixture)
from tests.e2e.test_jetstream_event_lane import DAY, day_and_tampers, publish
from tests.support.nats_cluster import NatsCluster, nats_node  # noqa: F401  (fixture)
from tests.support.sites import commissioned_platform

HELD = 10
"""The meter's first frames, fetched by the worker that dies."""
NOW = START + timedelta(days=2)


async def ingest_until(uplink: JetStreamUplink, platform: Platform, root: str, wanted: int) -> list[Delivery]:
    """Batches stored and acknowledged as a worker does, until `wanted` messages came."""
    got: list[Delivery] = []
    while len(got) < wanted:
        batch = await asyncio.wait_for(uplink.next_batch(wanted - len(got), 0.1), 30)
        await asyncio.to_thread(ingest_batch, platform.store, batch, platform.ring, root, NOW)
        await uplink.ack(batch)
        got += batch
    return got


@pytest.mark.postgres
def test_frames_a_dead_worker_held_come_back_behind_the_window_and_are_stored_once(
    pg_url: str,
    nats_node: NatsCluster,  # noqa: F811
    topic_root: str,
    tmp_path: Path,
) -> None:
    platform = commissioned_platform(
        tmp_path, build_city(METERS), START - timedelta(days=1), database_url=pg_url, broker_url="none"
    )
    day, _, _, (meter, _) = day_and_tampers(topic_root)
    frames = [f for f in day if f"/{meter}/" in f.topic]
    assert len(frames) - HELD > REPLAY_WINDOW  # a day's readings, status and daily frames
    address = NatsAddress.parse(nats_node.url(ack_wait_s=1))

    async def run() -> tuple[list[Delivery], list[Delivery], list[Delivery]]:
        dead = JetStreamUplink(address, topics.uplink_filter(topic_root), "workers")
        alive = JetStreamUplink(address, topics.uplink_filter(topic_root), "workers")
        await dead.start()
        await alive.start()
        await asyncio.to_thread(publish, nats_node.nodes[0].mqtt_port, frames)
        held = await asyncio.wait_for(dead.next_batch(HELD, 0.5), 30)  # fetched, never acknowledged
        await dead.close()
        later = await ingest_until(alive, platform, topic_root, len(frames) - len(held))
        again = await ingest_until(alive, platform, topic_root, len(held))  # after the ack wait
        await alive.close()
        return held, later, again

    try:
        held, later, again = asyncio.run(run())
        with platform.store.engine.connect() as conn:
            stored = conn.execute(
                sa.text("SELECT count(*), count(DISTINCT interval_start) FROM readings WHERE meter_id = :m"),
                {"m": meter},
            ).one()
            quarantined = conn.execute(sa.text("SELECT count(*) FROM quarantine")).scalar_one()
    finally:
        platform.close()

    assert len(held) == HELD and not any(d.redelivered for d in held + later)
    assert sorted(d.payload for d in again) == sorted(d.payload for d in held)
    assert all(d.redelivered for d in again)
    assert tuple(stored) == (DAY, DAY)  # every interval, once
    assert quarantined == 0
