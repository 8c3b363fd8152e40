"""Outages found from the stored events and links, on SQLite and PostgreSQL: one record per
outage however its last gasps arrive, ended when the supply is back, and the question whether a
meter was inside one."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bijli.adapters.db import engine as db
from bijli.adapters.db import schema as t
from bijli.adapters.db.event_reads import EventFilter, EventReads
from bijli.adapters.db.outages import OutageFilter, OutageReads
from bijli.adapters.db.store import Store
from bijli.fleet.city import build_city, transformer_meters
from bijli.network.handlers import find_outages, outage_at
from bijli.network.outages import OutageLevel
from bijli.protocol.events import EventCode
from tests.support.sites import commissioned_store

INSTALLED = datetime(2026, 1, 5, 4, 30, tzinfo=UTC)
OFF = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
CITY = build_city(120)  # per area: DT01 with 50 consumers and DT02 with 10, on one feeder
DTS = transformer_meters(CITY)
FEEDER = "CL-F01"


def on(transformer: str) -> list[str]:
    return [c.meter_id for c in CITY if c.transformer == transformer] + [
        d.meter_id for d in DTS if d.transformer == transformer
    ]


@pytest.fixture
def store(database_url: str | None, tmp_path: Path) -> Iterator[Store]:
    store = commissioned_store(database_url or db.sqlite_url(tmp_path), CITY, INSTALLED, DTS, tariffs={})
    yield store
    store.engine.dispose()


def log(store: Store, meters: Sequence[str], code: EventCode, at: datetime) -> None:
    with store.transaction() as uow:
        uow.conn.execute(
            sa.insert(t.events),
            [{"meter_id": m, "code": int(code), "occurred_at": at, "received_at": at} for m in meters],
        )


def test_a_feeder_losing_supply_is_one_outage_however_its_last_gasps_arrive(store: Store) -> None:
    reads = OutageReads(store.engine)
    log(store, on("CL-F01-DT01"), EventCode.POWER_FAILURE, OFF)
    find_outages(store, OFF + timedelta(seconds=5))
    (first,) = reads.outages(OutageFilter(), 10)
    assert (first.outage.level, first.outage.subject, first.outage.meters) == (
        OutageLevel.TRANSFORMER,
        "CL-F01-DT01",
        51,
    )

    log(store, on("CL-F01-DT02"), EventCode.POWER_FAILURE, OFF + timedelta(seconds=3))
    find_outages(store, OFF + timedelta(seconds=10))
    find_outages(store, OFF + timedelta(seconds=15))
    (grown,) = reads.outages(OutageFilter(), 10)
    assert grown.outage_id == first.outage_id
    assert (grown.outage.level, grown.outage.subject, grown.outage.meters) == (OutageLevel.FEEDER, FEEDER, 62)
    assert grown.outage.ended_at is None

    back = OFF + timedelta(minutes=45)
    log(store, on("CL-F01-DT01") + on("CL-F01-DT02"), EventCode.POWER_RESTORED, back)
    find_outages(store, back + timedelta(seconds=5))
    (ended,) = reads.outages(OutageFilter(ongoing=False), 10)
    assert ended.outage.ended_at == back
    assert reads.outages(OutageFilter(ongoing=True), 10) == []

    for hours in range(5, 8):  # the outage leaves the rounds' window: kept as it was, never again
        find_outages(store, OFF + timedelta(hours=hours, seconds=1))
    assert reads.outages(OutageFilter(), 10) == [ended]


def test_an_ended_outage_at_the_edge_of_the_lookback_is_not_written_twice(store: Store) -> None:
    from bijli.network.handlers import LOOKBACK
    from bijli.network.outages import GATHER

    log(store, on("CL-F01-DT01") + on("CL-F01-DT02"), EventCode.POWER_FAILURE, OFF)
    find_outages(store, OFF + timedelta(seconds=5))
    log(store, on("CL-F01-DT01") + on("CL-F01-DT02"), EventCode.POWER_RESTORED, OFF + timedelta(minutes=45))
    for late in (timedelta(minutes=50), LOOKBACK - timedelta(seconds=1), LOOKBACK + GATHER / 2, LOOKBACK + GATHER):
        find_outages(store, OFF + late)  # rounds go on, every minute in a scenario run
    (only,) = OutageReads(store.engine).outages(OutageFilter(), 10)
    assert (only.outage.subject, only.outage.ended_at) == (FEEDER, OFF + timedelta(minutes=45))


def test_a_meter_inside_an_outage_is_told_so_before_and_after_the_round(store: Store) -> None:
    meter, elsewhere = on("CL-F01-DT02")[0], on("MR-F01-DT01")[0]
    log(store, on("CL-F01-DT02"), EventCode.POWER_FAILURE, OFF)
    log(store, [elsewhere], EventCode.POWER_FAILURE, OFF)
    with store.transaction() as uow:
        early = outage_at(uow, meter, OFF)
        alone = outage_at(uow, elsewhere, OFF)
    assert early is not None and early.subject == "CL-F01-DT02"
    assert alone is None  # one house without supply is no outage
    find_outages(store, OFF + timedelta(seconds=5))
    with store.transaction() as uow:
        kept = outage_at(uow, meter, OFF + timedelta(minutes=10))
        before = outage_at(uow, meter, OFF - timedelta(hours=1))
    assert kept is not None and kept.meters == 11
    assert before is None


def link(
    store: Store, meters: Sequence[str], operator: str, sim: int, seen: datetime, switched: datetime | None
) -> None:
    with store.transaction() as uow:
        uow.conn.execute(
            sa.update(t.meter_state)
            .where(t.meter_state.c.meter_id.in_(list(meters)))
            .values(operator=operator, active_sim=sim, last_seen=seen, switched_at=switched)
        )


def test_an_operator_down_in_one_area_is_one_operator_outage_ended_when_its_meters_return(store: Store) -> None:
    reads = OutageReads(store.engine)
    now = OFF + timedelta(minutes=30)
    civil = [c.meter_id for c in CITY if c.area == "Civil Lines"]
    mall = [c.meter_id for c in CITY if c.area == "Mall Road"]
    jio, airtel = civil[::2], civil[1::2]
    link(store, airtel + mall, "Airtel", 1, now, None)
    link(store, jio[:25], "Airtel", 2, now, OFF)  # moved to their other SIM
    link(store, jio[25:], "Jio", 1, OFF - timedelta(minutes=1), None)  # silent since
    find_outages(store, now)
    find_outages(store, now + timedelta(seconds=5))
    (outage,) = reads.outages(OutageFilter(level="operator"), 10)
    assert (outage.outage.subject, outage.outage.area, outage.outage.meters) == ("Jio", "Civil Lines", 30)
    assert outage.outage.started_at == OFF - timedelta(minutes=1)

    later = now + timedelta(hours=2)
    back = now + timedelta(hours=1)
    link(store, jio, "Jio", 1, later, back)
    link(store, airtel + mall, "Airtel", 1, later, None)
    find_outages(store, later)
    (ended,) = reads.outages(OutageFilter(level="operator"), 10)
    assert ended.outage_id == outage.outage_id and ended.outage.ended_at == back


def test_each_event_says_its_incident(store: Store) -> None:
    meter = CITY[0].meter_id
    log(store, [meter], EventCode.MAGNET, OFF)
    log(store, [meter], EventCode.MAGNET, OFF + timedelta(minutes=1))
    log(store, [meter], EventCode.MAGNET_RESTORED, OFF + timedelta(minutes=5))
    log(store, [meter], EventCode.COVER_OPEN, OFF + timedelta(minutes=6))
    found = EventReads(store.engine).events(EventFilter(meter_id=meter), 10)
    assert [e.code for e in found] == [251, 202, 201, 201]
    cover, restored, *magnet = found
    assert cover.incident.is_open and cover.area == "Civil Lines"
    assert restored.incident == magnet[0].incident == magnet[1].incident
    assert restored.incident.count == 2 and restored.incident.duration == timedelta(minutes=5)
    tamper_in_area = EventReads(store.engine).events(EventFilter(area="Civil Lines", codes=(201, 202)), 10)
    assert len(tamper_in_area) == 3


@pytest.mark.postgres
def test_rounds_of_several_workers_at_once_keep_one_record_per_outage(pg_url: str) -> None:
    store = commissioned_store(pg_url, CITY, INSTALLED, DTS, tariffs={})
    engine = store.engine
    try:
        log(store, on("CL-F01-DT01") + on("CL-F01-DT02"), EventCode.POWER_FAILURE, OFF)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda k: find_outages(store, OFF + timedelta(seconds=5)), range(8)))
        (outage,) = OutageReads(engine).outages(OutageFilter(), 10)
        assert (outage.outage.level, outage.outage.meters) == (OutageLevel.FEEDER, 62)
    finally:
        engine.dispose()
