"""Ingest against the real stores (SQLite and PostgreSQL) where the SQL itself is the subject:
status rows, the head-end loop over decommissioning, money across a migration. The use cases
themselves are `tests/usecases`, on every store."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bijli import settings
from bijli.accounts.handlers import change_status
from bijli.adapters.brokers.memory import MemoryBroker
from bijli.adapters.db import engine as db_engine
from bijli.bootstrap import Platform, bootstrap
from bijli.fleet.city import build_city
from bijli.fleet.commissioning import commission_city
from bijli.headend.handlers import IngestReport, ingest_batch
from bijli.headend.ports import Delivery
from bijli.headend.service import HeadEnd
from bijli.kernel.clock import SimulatedClock
from bijli.kernel.time import epoch
from bijli.mdm.handlers import settle, settle_all
from bijli.mdm.meters import MeterStatus
from bijli.protocol import topics
from bijli.protocol.codec import seal
from bijli.protocol.frames import StatusFrame
from tests.support.frames import reading

START = datetime(2026, 11, 2, 6, 30, tzinfo=UTC)
NOW = START + timedelta(hours=3)


@pytest.fixture(params=["sqlite", "postgresql"])
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
    cfg = settings.build(data_dir=tmp_path / "data", database_url=url, broker_url="memory", new_site=True)
    p = bootstrap(cfg)
    commission_city(p.store, p.settings.tariff_code, build_city(4), START - timedelta(days=1))
    yield p
    p.store.dispose()


def _count(p: Platform, table: str) -> int:
    with p.store.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def _deliveries(p: Platform, meter: str, first_fc: int, intervals: int) -> list[Delivery]:
    out = []
    for n in range(intervals):
        topic, payload = reading(
            p.settings.site_keys,
            meter,
            first_fc + n,
            START + n * timedelta(minutes=15),
            wh=100 + n,
            total=1_000_000 + 100 * (n + 1) + n * (n + 1) // 2,
        )
        out.append(Delivery(topic, payload))
    return out


def take(platform: Platform, deliveries: list[Delivery]) -> IngestReport:
    """Ingest a batch, then settle what it stored."""
    report = ingest_batch(platform.store, deliveries, platform.ring, "bijli", NOW)
    settle_all(platform.store, NOW)
    return report


def _status(p: Platform, meter: str, fc: int, rssi: int) -> Delivery:
    frame = StatusFrame(
        v=1, m=meter, fc=fc, ts=epoch(NOW) - 60, sim=2, operator="airtel", rssi_dbm=rssi, relay=1, balance_paise=0
    )
    return Delivery(topics.uplink("bijli", meter, "status"), seal(p.settings.site_keys.frame_key(meter), frame))


def _state(p: Platform, meter: str) -> tuple[int, int, int, int]:
    with p.store.engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT last_fc, status_fc, rssi_dbm, active_sim FROM meter_state WHERE meter_id = :m"),
            {"m": meter},
        ).one()
    return row[0], row[1], row[2], row[3]


def test_a_status_report_lands_with_the_readings_and_an_older_one_never_overwrites_it(platform: Platform) -> None:
    readings = _deliveries(platform, "KNCL0000001", 1, 2)
    take(platform, [readings[0], _status(platform, "KNCL0000001", 5, -71), readings[1]])
    assert _state(platform, "KNCL0000001") == (5, 5, -71, 2)

    take(platform, [_status(platform, "KNCL0000001", 4, -99)])  # late, through another path
    assert _state(platform, "KNCL0000001") == (5, 5, -71, 2)
    take(platform, [_status(platform, "KNCL0000001", 6, -80), *_deliveries(platform, "KNCL0000002", 1, 1)])
    assert _state(platform, "KNCL0000001") == (6, 6, -80, 2)
    assert _state(platform, "KNCL0000002")[:2] == (1, 0)  # a reading alone leaves the status as it was


def test_a_decommissioned_meters_frames_are_quarantined_until_it_is_recommissioned(platform: Platform) -> None:
    frames = _deliveries(platform, "KNCL0000001", 1, 6)
    seen: list[tuple[int, dict[str, int]]] = []

    def meter_goes(to: MeterStatus, reason: str) -> None:
        change_status(platform.store, "KNCL0000001", to, changed_by="operator.verma", reason=reason, now=NOW)

    async def scenario() -> None:
        broker = MemoryBroker()
        headend = HeadEnd(platform.store, broker, platform.ring, "bijli", SimulatedClock(NOW), settling=False)
        task = asyncio.create_task(headend.run())  # one head-end, never restarted

        async def deliver(batch: list[Delivery]) -> None:
            for d in batch:
                await broker.publish(d.topic, d.payload)
            await asyncio.wait_for(broker.drain(), timeout=30)
            seen.append((_count(platform, "readings"), platform.queries.quarantine_reasons()))

        await deliver(frames[:2])
        await asyncio.to_thread(meter_goes, MeterStatus.DECOMMISSIONED, "meter removed for testing")
        await deliver(frames[2:4])
        await asyncio.to_thread(meter_goes, MeterStatus.COMMISSIONED, "meter refitted")
        await deliver(frames[4:])
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(scenario())

    assert seen == [(2, {}), (2, {"not-commissioned": 2}), (4, {"not-commissioned": 2})]
    with platform.store.engine.connect() as conn:
        held = conn.execute(sa.text("SELECT meter_id, detail FROM quarantine")).all()
        stored = conn.execute(sa.text("SELECT count(*) FROM readings WHERE meter_id = 'KNCL0000001'")).scalar_one()
    assert held == [("KNCL0000001", "meter KNCL0000001 is decommissioned")] * 2
    assert stored == 4


def test_closed_days_keep_their_money_across_the_migration_to_day_charges(platform: Platform) -> None:
    ingest_batch(platform.store, _deliveries(platform, "KNCL0000001", 1, 4), platform.ring, "bijli", NOW)
    settle_all(platform.store, NOW + timedelta(days=2))  # the day is closed: its debit is on the ledger
    balance = platform.queries.balance("KESCOCL0000001").balance_paise
    engine = platform.store.engine

    db_engine.downgrade(engine, "0012")
    with engine.connect() as conn:
        assert "day_charges" not in sa.inspect(conn).get_table_names()
        ledger = conn.execute(sa.text("SELECT sum(amount_paise) FROM ledger WHERE account_no = 'KESCOCL0000001'"))
        assert ledger.scalar_one() == balance
    db_engine.upgrade(engine)

    assert platform.queries.balance("KESCOCL0000001").balance_paise == balance
    again = settle(platform.store, NOW)
    assert again.batches == 0 and platform.queries.balance("KESCOCL0000001").balance_paise == balance
