"""PostgreSQL goes away under a head-end ingesting from a real Mosquitto: its connections are
terminated in the middle of a batch and the database refuses new ones for a while. Nothing is
acknowledged meanwhile, nothing is set aside, and once the database is back every frame is
stored exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from bijli import settings
from bijli.adapters.brokers.mqtt import BrokerAddress, MqttUplink
from bijli.bootstrap import bootstrap
from bijli.fleet.city import build_city
from bijli.fleet.commissioning import commission_city
from bijli.headend.ports import Delivery
from bijli.headend.service import HeadEnd
from bijli.kernel.clock import SimulatedClock
from bijli.kernel.time import INTERVAL
from bijli.kernel.unit import Backoff, StoreUnavailable
from bijli.protocol import topics
from tests.conftest import PG_ADMIN_URL
from tests.support.frames import reading
from tests.support.meters_mqtt import publish

START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
NOW = START + timedelta(days=1)
PER_PHASE = 4
"""Frames per meter before the outage, in the batch it cuts, and while it lasts."""


class RecordedAcks:
    """The uplink, with a record of every delivery the head-end acknowledged."""

    def __init__(self, uplink: MqttUplink) -> None:
        self.uplink = uplink
        self.acked: list[Delivery] = []

    async def next_batch(self, max_messages: int, max_wait_s: float) -> list[Delivery]:
        return await self.uplink.next_batch(max_messages, max_wait_s)

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        self.acked.extend(deliveries)
        await self.uplink.ack(deliveries)

    def waiting(self) -> int:
        return self.uplink.waiting()

    def idle_s(self) -> float:
        return self.uplink.idle_s()

    async def close(self) -> None:
        await self.uplink.close()


async def until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not await asyncio.to_thread(condition):
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}") from None


@pytest.mark.postgres
@pytest.mark.mosquitto
def test_postgresql_cut_off_mid_batch_loses_nothing_sets_nothing_aside_and_stores_every_frame_once(
    new_pg_database: Callable[[], str], mosquitto: str, topic_root: str, tmp_path: Path
) -> None:
    url = new_pg_database()
    name = url.rsplit("/", 1)[1]
    platform = bootstrap(
        settings.build(data_dir=tmp_path, database_url=url, broker_url="none", topic_root=topic_root, new_site=True)
    )
    city = build_city(6)
    commission_city(platform.store, platform.settings.tariff_code, city, START - timedelta(days=1))
    secret = platform.settings.site_keys
    phases = [
        [
            reading(
                secret,
                c.meter_id,
                n + 1,
                START + n * INTERVAL,
                wh=100,
                total=1_000_000 + 100 * (n + 1),
                root=topic_root,
            )
            for c in city
            for n in range(p * PER_PHASE, (p + 1) * PER_PHASE)
        ]
        for p in range(3)
    ]
    before, cut, during = phases
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    blocker = sa.create_engine(url, poolclass=NullPool).connect()

    def admin_sql(sql: str) -> list[sa.Row[tuple[object, ...]]]:
        with admin.connect() as conn:
            result = conn.execute(sa.text(sql.replace("{db}", name)))
            return list(result.all()) if result.returns_rows else []

    def headend_waits_on_the_lock() -> bool:
        return bool(admin_sql("SELECT 1 FROM pg_stat_activity WHERE datname = '{db}' AND wait_event_type = 'Lock'"))

    def store_unavailable() -> bool:
        try:
            platform.reads.ping()
        except StoreUnavailable:
            return True
        return False

    async def scenario() -> tuple[HeadEnd, RecordedAcks, int, bool]:
        uplink = MqttUplink(
            BrokerAddress.parse(mosquitto),
            topics.uplink_filter(topic_root),
            f"headend-outage-{uuid.uuid4().hex[:8]}",
            asyncio.get_running_loop(),
        )
        await uplink.start()
        recorded = RecordedAcks(uplink)
        headend = HeadEnd(
            platform.store, recorded, platform.ring, topic_root, SimulatedClock(NOW), backoff=Backoff(0.05, 0.5)
        )
        task = asyncio.create_task(headend.run())
        try:
            await asyncio.to_thread(publish, mosquitto, before)
            await until(lambda: len(recorded.acked) == len(before), "the first frames acknowledged")

            # The next batch blocks on the meters' rows (held by another transaction), then
            # PostgreSQL terminates every connection to the database and refuses new ones.
            blocker.execute(sa.text("SELECT meter_id FROM meter_state FOR UPDATE"))
            await asyncio.to_thread(publish, mosquitto, cut)
            await until(headend_waits_on_the_lock, "the head-end's batch waiting inside its transaction")
            admin_sql('ALTER DATABASE "{db}" ALLOW_CONNECTIONS false')
            admin_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'")
            await asyncio.to_thread(publish, mosquitto, during)
            await until(lambda: headend.totals.store_unavailable >= 3, "three failed tries")
            acked_while_down = len(recorded.acked)
            health_said_down = await asyncio.to_thread(store_unavailable)

            admin_sql('ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')
            total = len(before) + len(cut) + len(during)
            await until(lambda: len(recorded.acked) == total, "every frame acknowledged")
            await headend.settle_all()
        finally:
            admin_sql('ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await uplink.close()
        return headend, recorded, acked_while_down, health_said_down

    try:
        headend, recorded, acked_while_down, health_said_down = asyncio.run(scenario())
    finally:
        with contextlib.suppress(sa.exc.DBAPIError):
            blocker.close()

    every = [payload for phase in phases for _, payload in phase]
    assert acked_while_down == len(before)  # nothing acknowledged while the store was away
    assert health_said_down
    assert sorted(d.payload for d in recorded.acked) == sorted(every)  # each acknowledged once
    with platform.store.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT meter_id, interval_start FROM readings")).all()
        quarantined = conn.execute(sa.text("SELECT count(*) FROM quarantine")).scalar_one()
        logged = conn.execute(sa.text("SELECT sum(received) FROM ingest_batches")).scalar_one()
        queued = conn.execute(sa.text("SELECT count(*) FROM settlement_queue")).scalar_one()
    expected = {(c.meter_id, START + n * INTERVAL) for c in city for n in range(3 * PER_PHASE)}
    assert len(stored) == len(expected) and {(m, at) for m, at in stored} == expected
    assert quarantined == 0
    assert logged == len(every)  # no batch committed twice
    assert queued == 0  # and all of it settled after the outage
    assert headend.totals.quarantined == 0 and headend.totals.store_unavailable >= 3
    assert headend.totals.errors == []  # an outage, not a failed batch
    platform.close()
    admin.dispose()
