"""The collection report as settlement keeps it, over a real store (SQLite and PostgreSQL): the
same figures as counting the day's readings, as readings come on time, late, estimated, and
then for a past day long after it ended."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bijli.adapters.db import engine as db_engine
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.headend.handlers import ingest_batch
from bijli.headend.ports import Delivery
from bijli.kernel.time import INTERVAL, ist_midnight
from bijli.mdm.handlers import run_vee, settle_all
from tests.support.frames import reading
from tests.support.sites import commissioned_platform

DAY = date(2026, 11, 2)
START = ist_midnight(DAY)
END = ist_midnight(DAY + timedelta(days=1))
CITY = build_city(4)
ON_TIME, LATE, PATCHY = (m.meter_id for m in CITY[:3])  # the fourth sends nothing


@pytest.fixture
def platform(database_url: str | None, tmp_path: Path) -> Iterator[Platform]:
    """A platform over a store of either kind, four meters commissioned a month before the day."""
    p = commissioned_platform(tmp_path / "data", CITY, datetime(2026, 10, 1, tzinfo=UTC), database_url=database_url)
    yield p
    p.store.dispose()


def send(p: Platform, meter_id: str, intervals: range, at: datetime) -> None:
    """The meter's readings of those intervals of the day, received at `at` and settled."""
    deliveries = [
        Delivery(*reading(p.settings.site_keys, meter_id, 1_000 + n, START + n * INTERVAL, total=5_000_000 + 100 * n))
        for n in intervals
    ]
    ingest_batch(p.store, deliveries, p.ring, "bijli", at)
    settle_all(p.store, at)


def agree(p: Platform) -> dict[str, object]:
    """The day's report as kept, after checking it (and the next day's) against a recount."""
    for day in (DAY, DAY + timedelta(days=1)):
        assert p.reports.collection(day) == p.reports.recount_collection(day)
    return p.reports.collection(DAY).as_dict()


def test_the_kept_collection_report_counts_what_the_days_readings_say(platform: Platform) -> None:
    assert agree(platform)["complete_now"] == 0

    send(platform, ON_TIME, range(96), END + timedelta(hours=1))
    send(platform, LATE, range(80), END + timedelta(hours=1))
    send(platform, PATCHY, range(90), END + timedelta(hours=1))
    first = agree(platform)
    assert (first["complete_within_8h"], first["complete_now"], first["intervals_actual"]) == (1, 1, 96 + 80 + 90)

    # The gap estimation fills the patchy meter's last six intervals (and the late one's sixteen).
    run_vee(platform.store, END + timedelta(hours=2), lookback=timedelta(days=1), grace=timedelta(hours=1))
    estimated = agree(platform)
    assert estimated["complete_with_estimates"] == 3
    assert estimated["intervals_estimated"] == 16 + 6

    # The late meter's last four hours come ten hours after the day: within 24 h, not 8 h.
    send(platform, LATE, range(80, 96), END + timedelta(hours=10))
    later = agree(platform)
    assert (later["complete_within_8h"], later["complete_within_24h"], later["complete_now"]) == (1, 2, 2)
    assert later["intervals_estimated"] == 6

    # Two days on, three of the patchy meter's intervals replace their estimates: the past day moves.
    send(platform, PATCHY, range(90, 93), END + timedelta(days=2))
    past = agree(platform)
    assert past == {
        "day": "2026-11-02",
        "meters": 4,
        "complete_within_8h": 1,
        "complete_within_8h_pct": 25.0,
        "complete_within_24h": 2,
        "complete_within_24h_pct": 50.0,
        "complete_now": 2,
        "complete_with_estimates": 3,
        "intervals_expected": 4 * 96,
        "intervals_actual": 96 + 96 + 93,
        "intervals_estimated": 3,
    }


def test_a_store_upgraded_from_before_the_kept_figures_reports_what_its_readings_say(platform: Platform) -> None:
    send(platform, ON_TIME, range(96), END + timedelta(hours=1))
    send(platform, LATE, range(80), END + timedelta(hours=1))
    send(platform, LATE, range(80, 96), END + timedelta(hours=10))
    send(platform, PATCHY, range(90), END + timedelta(hours=1))
    run_vee(platform.store, END + timedelta(hours=2), lookback=timedelta(days=1), grace=timedelta(hours=1))
    waiting = [Delivery(*reading(platform.settings.site_keys, PATCHY, 2_000, START + 90 * INTERVAL, total=5_009_000))]
    ingest_batch(platform.store, waiting, platform.ring, "bijli", END + timedelta(hours=3))  # not settled yet
    engine = platform.store.engine
    db_engine.downgrade(engine, "0028")
    db_engine.upgrade(engine)

    kept = platform.reports.collection(DAY).as_dict()
    assert (kept["complete_within_8h"], kept["complete_within_24h"], kept["intervals_actual"]) == (1, 2, 96 + 96 + 90)
    settle_all(platform.store, END + timedelta(hours=3))  # the waiting reading is added once, by its settling
    assert agree(platform)["intervals_actual"] == 96 + 96 + 91
