"""Readings partitioned by IST month on PostgreSQL: each month in its own partition, strays in
the default one, old months retired whole, and the application's reads and writes unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bijli import settings
from bijli.adapters import keyfile
from bijli.adapters.db import engine as db
from bijli.adapters.db import partitions
from bijli.bootstrap import Platform, bootstrap
from bijli.fleet.city import build_city
from bijli.kernel.time import INTERVAL, ist_midnight
from bijli.mdm.model import IntervalRow
from tests.conftest import run_bijli
from tests.support.sites import commissioned_platform

pytestmark = pytest.mark.postgres

METER = "KNCL0000001"
NOW = datetime.now(UTC)
THIS_MONTH = partitions.month_of(NOW)


def month(n: int) -> date:
    """The first of the month `n` months from the current IST month."""
    return partitions.add_months(THIS_MONTH, n)


def noon(day: date) -> datetime:
    return ist_midnight(day) + timedelta(hours=12)


def reading(start: datetime, wh: int = 100, meter: str = METER) -> IntervalRow:
    return IntervalRow(meter, int(start.timestamp()), wh, wh + 10, 0, 2300, 1800, 5_000_000 + wh)


@pytest.fixture
def platform(pg_url: str, tmp_path: Path) -> Iterator[Platform]:
    p = commissioned_platform(tmp_path, build_city(2), noon(month(-30)), database_url=pg_url, broker_url="none")
    yield p
    p.store.dispose()


def store(platform: Platform, rows: list[IntervalRow]) -> None:
    """Through the head-end's own write (keys already stored are left as they are)."""
    with platform.store.transaction() as uow:
        uow.readings.store(rows, NOW)


def where(platform: Platform) -> dict[datetime, str]:
    """Each stored reading's interval start and the partition it is in."""
    with platform.store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT interval_start, tableoid::regclass::text FROM readings")).all()
    return {start: table for start, table in rows}


def names(platform: Platform) -> list[str]:
    with platform.store.engine.connect() as conn:
        return [p.name for p in partitions.partitions(conn)]


def test_the_migration_makes_the_months_around_now_and_a_default(platform: Platform) -> None:
    expected = [partitions.partition_name(month(n)) for n in range(-1, 4)] + [partitions.DEFAULT_PARTITION]
    assert names(platform) == expected


def test_readings_land_in_their_own_months_partition(platform: Platform) -> None:
    this, last, next_ = noon(month(0)), noon(month(-1)), noon(month(1))
    store(platform, [reading(this), reading(last), reading(next_)])
    assert where(platform) == {
        this: partitions.partition_name(month(0)),
        last: partitions.partition_name(month(-1)),
        next_: partitions.partition_name(month(1)),
    }


def test_months_begin_at_midnight_ist(platform: Platform) -> None:
    first = ist_midnight(month(1))
    store(platform, [reading(first - INTERVAL), reading(first)])
    assert where(platform) == {
        first - INTERVAL: partitions.partition_name(month(0)),
        first: partitions.partition_name(month(1)),
    }


def test_a_reading_for_a_month_without_partition_is_kept_and_moves_when_the_month_is_made(
    platform: Platform,
) -> None:
    long_ago = noon(month(-20))
    store(platform, [reading(long_ago)])
    assert where(platform) == {long_ago: partitions.DEFAULT_PARTITION}

    with platform.store.engine.begin() as conn:
        made = partitions.ensure(conn, [month(-20), month(0)])

    assert made == [partitions.partition_name(month(-20))]
    assert where(platform) == {long_ago: partitions.partition_name(month(-20))}


def test_an_interval_already_stored_is_left_as_it_is(platform: Platform) -> None:
    start = noon(month(0))
    store(platform, [reading(start, wh=100)])
    store(platform, [reading(start, wh=999), reading(start + INTERVAL, wh=200)])
    with platform.store.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT import_wh FROM readings ORDER BY interval_start")).scalars().all()
    assert stored == [100, 200]
    with pytest.raises(sa.exc.IntegrityError), platform.store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO readings SELECT * FROM readings"))


def test_one_meters_readings_across_a_month_boundary_come_back_in_order(platform: Platform) -> None:
    boundary = ist_midnight(month(0))
    starts = [boundary + n * INTERVAL for n in range(-6, 6)]
    store(platform, [reading(s, wh=n) for n, s in enumerate(starts)])
    store(platform, [reading(s, meter="KNMR0000001") for s in starts])

    got = platform.queries.readings(METER, boundary - 4 * INTERVAL, boundary + 4 * INTERVAL)

    assert [r.interval_start for r in got] == starts[2:10]
    assert [r.import_wh for r in got] == list(range(2, 10))
    assert {where(platform)[s] for s in starts} == {
        partitions.partition_name(month(-1)),
        partitions.partition_name(month(0)),
    }


def test_retention_drops_exactly_the_months_before_the_cutoff(platform: Platform) -> None:
    with platform.store.engine.begin() as conn:
        partitions.ensure(conn, [month(n) for n in range(-6, 0)])
    kept_months = [month(n) for n in range(-2, 2)]
    store(platform, [reading(noon(month(n))) for n in range(-6, 2)])
    store(platform, [reading(noon(month(-40)))])  # a stray in the default partition
    store(platform, [reading(noon(month(30)))])  # a meter whose clock runs years ahead: kept
    before = names(platform)

    with platform.store.engine.begin() as conn:
        plan = partitions.retire(conn, 2, NOW, dry_run=True)
    assert names(platform) == before

    with platform.store.engine.begin() as conn:
        done = partitions.retire(conn, 2, NOW)

    old = [partitions.partition_name(month(n)) for n in range(-6, -2)]
    assert [p.name for p in plan.dropped] == [p.name for p in done.dropped] == old
    assert plan.default_rows_deleted == done.default_rows_deleted == 1
    assert done.cutoff == partitions.month_start(month(-2))
    assert names(platform) == [n for n in before if n not in old]
    assert sorted(where(platform)) == [noon(m) for m in kept_months] + [noon(month(30))]


def test_retention_keeps_at_least_one_month() -> None:
    with pytest.raises(ValueError):
        partitions.retire(None, 0, NOW)  # type: ignore[arg-type]


def test_the_migration_keeps_what_was_stored_and_can_be_undone(empty_pg_url: str) -> None:
    engine = db.create(empty_pg_url)
    db.upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO meters VALUES ('KNCL0000001', 'A', 'F', 'T', 1, 'commissioned', now())"))
        for start in (noon(month(-15)), noon(month(0)), noon(month(0)) + INTERVAL):
            conn.execute(
                sa.text(
                    "INSERT INTO readings (meter_id, interval_start, import_wh, import_vah, export_wh, voltage_dv, "
                    "current_ma, import_wh_total, quality, received_at) "
                    "VALUES ('KNCL0000001', :s, 1, 2, 0, 2300, 100, 7, 'actual', now())"
                ),
                {"s": start},
            )

    db.upgrade(engine)

    with engine.connect() as conn:
        assert partitions.is_partitioned(conn)
        placed: dict[datetime, str] = dict(
            conn.execute(sa.text("SELECT interval_start, tableoid::regclass::text FROM readings")).all()
        )
        primary_key = conn.execute(
            sa.text("SELECT conname FROM pg_constraint WHERE conrelid = 'readings'::regclass AND contype = 'p'")
        ).scalar()
    assert placed[noon(month(-15))] == partitions.partition_name(month(-15))
    assert placed[noon(month(0))] == partitions.partition_name(month(0))
    assert primary_key == "pk_readings"

    db.downgrade(engine, "0003")
    with engine.connect() as conn:
        assert not partitions.is_partitioned(conn)
        assert conn.execute(sa.text("SELECT count(*) FROM readings")).scalar() == 3
    engine.dispose()


def test_sqlite_store_has_no_partitions(tmp_path: Path) -> None:
    p = bootstrap(settings.build(data_dir=tmp_path, broker_url="none", new_site=True))
    with p.store.engine.begin() as conn:
        assert not partitions.is_partitioned(conn)
        with pytest.raises(partitions.NotPartitioned):
            partitions.ensure(conn, [THIS_MONTH])
    p.store.dispose()


def test_partitions_and_retention_commands(pg_url: str, tmp_path: Path) -> None:
    keyfile.create(keyfile.path_in(tmp_path))
    run_bijli(["db", "upgrade", "--database-url", pg_url, "--data-dir", str(tmp_path)])
    common = ["--database-url", pg_url, "--data-dir", str(tmp_path), "--json"]

    listed = json.loads(run_bijli(["db", "partitions", "--months-ahead", "5", *common]))
    assert listed["made"] == [partitions.partition_name(month(n)) for n in (4, 5)]
    assert [p["month"] for p in listed["partitions"]][-2:] == [f"{month(5):%Y-%m}", "DEFAULT"]

    planned = json.loads(run_bijli(["db", "retention", "--keep-months", "1", "--dry-run", *common]))
    assert planned["dry_run"] is True and planned["dropped"] == []
    assert planned["cutoff"] == partitions.month_start(month(-1)).isoformat()
