"""Ingest against real stores (SQLite and PostgreSQL): once, and only once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bijli import settings
from bijli.adapters.brokers.memory import MemoryBroker
from bijli.adapters.db import engine as db_engine
from bijli.adapters.db.meters import change_status
from bijli.bootstrap import Platform, bootstrap
from bijli.entrypoints.demo import commission
from bijli.fleet.city import build_city
from bijli.headend.handlers import IngestReport, ingest_batch
from bijli.headend.meters import MeterStatus
from bijli.headend.ports import Delivery
from bijli.headend.service import HeadEnd
from bijli.headend.settlement import settle, settle_all
from bijli.kernel.clock import SimulatedClock
from bijli.kernel.time import epoch
from bijli.protocol import keys, topics
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
    cfg = settings.build(data_dir=tmp_path / "data", database_url=url, broker_url="memory")
    p = bootstrap(cfg)
    commission(p, build_city(4), START - timedelta(days=1))
    yield p
    p.store.dispose()


def _count(p: Platform, table: str) -> int:
    with p.store.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def _deliveries(p: Platform, meter: str, first_fc: int, intervals: int) -> list[Delivery]:
    out = []
    for n in range(intervals):
        topic, payload = reading(
            p.settings.site_secret,
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


def test_a_batch_delivered_twice_is_stored_and_charged_once(platform: Platform) -> None:
    batch = _deliveries(platform, "KNCL0000001", 1, 8)
    first = take(platform, batch)
    ledger = _count(platform, "ledger")
    again = take(platform, batch)

    assert first.readings_stored == 8
    assert again.readings_stored == 0
    assert again.quarantined == 8  # the same frame counters again: replays, kept for audit
    assert _count(platform, "readings") == 8
    assert _count(platform, "ledger") == ledger


def test_the_same_interval_in_a_new_frame_is_a_duplicate_not_a_second_charge(platform: Platform) -> None:
    take(platform, _deliveries(platform, "KNCL0000001", 1, 4))
    balance = platform.queries.balance("KESCOCL0000001").balance_paise
    resent = take(platform, _deliveries(platform, "KNCL0000001", 100, 4))

    assert resent.readings_duplicate == 4 and resent.readings_stored == 0
    assert platform.queries.balance("KESCOCL0000001").balance_paise == balance


def test_bad_frames_are_quarantined_with_reasons_and_the_good_ones_still_land(platform: Platform) -> None:
    good = _deliveries(platform, "KNMR0000001", 1, 2)
    future = reading(platform.settings.site_secret, "KNMR0000001", 10, NOW + timedelta(hours=1))
    forged = reading(b"\x02" * 32, "KNMR0000001", 11, START)
    unknown = reading(platform.settings.site_secret, "KNXX0000009", 1, START)
    junk = Delivery("bijli/v1/m/KNMR0000001/up/reading", b"\x00\xff not a frame")
    report = ingest_batch(
        platform.store,
        [*good, Delivery(*future), Delivery(*forged), Delivery(*unknown), junk],
        platform.ring,
        "bijli",
        NOW,
    )

    assert report.readings_stored == 2
    with platform.store.engine.connect() as conn:
        reasons = sorted(r for (r,) in conn.execute(sa.text("SELECT reason FROM quarantine")))
    assert reasons == ["clock-ahead", "forged", "malformed", "unknown-meter"]
    assert _count(platform, "readings") == 2


def test_readings_are_stored_at_once_and_charged_when_settled_exactly_once(platform: Platform) -> None:
    opening = platform.queries.balance("KESCOCL0000001").balance_paise
    report = ingest_batch(platform.store, _deliveries(platform, "KNCL0000001", 1, 4), platform.ring, "bijli", NOW)

    assert report.readings_stored == 4 and _count(platform, "readings") == 4
    assert platform.queries.balance("KESCOCL0000001").balance_paise == opening  # not settled yet
    assert _count(platform, "settlement_queue") == 1

    first = settle(platform.store, NOW)
    charged = platform.queries.balance("KESCOCL0000001").balance_paise
    again = settle(platform.store, NOW)

    assert (first.batches, first.readings) == (1, 4)
    assert charged < opening
    assert again.batches == 0 and platform.queries.balance("KESCOCL0000001").balance_paise == charged
    assert _count(platform, "settlement_queue") == 0
    with platform.store.engine.connect() as conn:
        wh = conn.execute(sa.text("SELECT sum(wh) FROM meter_daily WHERE meter_id = 'KNCL0000001'")).scalar_one()
    assert wh == 100 + 101 + 102 + 103


def test_each_interval_is_one_debit_carrying_its_duty_and_each_day_one_fixed_charge(platform: Platform) -> None:
    ingest_batch(platform.store, _deliveries(platform, "KNCL0000001", 1, 4), platform.ring, "bijli", NOW)
    settle(platform.store, NOW)

    with platform.store.engine.connect() as conn:
        entries = conn.execute(
            sa.text(
                "SELECT kind, count(*), sum(amount_paise), sum(duty_paise), sum(energy_wh) FROM ledger "
                "WHERE account_no = 'KESCOCL0000001' AND kind <> 'opening' GROUP BY kind ORDER BY kind"
            )
        ).all()
    (energy, n, amount, duty, wh), (fixed, days, fixed_amount, fixed_duty, _) = entries
    assert (energy, n, wh) == ("energy_charge", 4, 100 + 101 + 102 + 103)
    assert (fixed, days) == ("fixed_charge", 1)
    assert duty < 0 and amount < duty  # the energy itself and 5% duty on it, in one debit
    assert fixed_duty < 0 and fixed_amount < fixed_duty


def test_a_settlement_that_fails_midway_leaves_its_batch_queued_and_charges_nothing(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_batch(platform.store, _deliveries(platform, "KNCL0000001", 1, 4), platform.ring, "bijli", NOW)
    opening = platform.queries.balance("KESCOCL0000001").balance_paise
    ledger = _count(platform, "ledger")

    def broken(*_args: object) -> None:
        raise RuntimeError("the store went away")

    with monkeypatch.context() as m:
        m.setattr("bijli.adapters.db.store.StoreTx.add_daily", broken)
        with pytest.raises(RuntimeError):
            settle(platform.store, NOW)

    assert _count(platform, "ledger") == ledger and _count(platform, "settlement_queue") == 1
    assert _count(platform, "meter_daily") == 0
    assert settle_all(platform.store, NOW) == 4
    assert platform.queries.balance("KESCOCL0000001").balance_paise < opening
    assert _count(platform, "settlement_queue") == 0


def _status(p: Platform, meter: str, fc: int, rssi: int) -> Delivery:
    frame = StatusFrame(
        v=1, m=meter, fc=fc, ts=epoch(NOW) - 60, sim=2, operator="airtel", rssi_dbm=rssi, relay=1, balance_paise=0
    )
    return Delivery(topics.uplink("bijli", meter, "status"), seal(keys.frame_key(p.settings.site_secret, meter), frame))


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
        change_status(platform.store.engine, "KNCL0000001", to, changed_by="operator.verma", reason=reason, now=NOW)

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


def test_charges_keep_their_money_across_the_migration_that_gave_them_their_duty(platform: Platform) -> None:
    ingest_batch(platform.store, _deliveries(platform, "KNCL0000001", 1, 4), platform.ring, "bijli", NOW)
    settle(platform.store, NOW)
    balance = platform.queries.balance("KESCOCL0000001").balance_paise
    engine = platform.store.engine

    db_engine.downgrade(engine, "0006")
    with engine.connect() as conn:
        assert "duty_paise" not in {c["name"] for c in sa.inspect(conn).get_columns("ledger")}
    assert platform.queries.balance("KESCOCL0000001").balance_paise == balance
    db_engine.upgrade(engine)

    assert platform.queries.balance("KESCOCL0000001").balance_paise == balance
    again = settle(platform.store, NOW)
    assert again.batches == 0 and platform.queries.balance("KESCOCL0000001").balance_paise == balance
