"""Validation, estimation and editing on a real store: gaps estimated and flagged, asked for
again, and replaced (with an audit trail) when the real readings come; estimates never billed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bijli import settings
from bijli.bootstrap import Platform, bootstrap
from bijli.fleet.city import build_city
from bijli.fleet.commissioning import commission_city
from bijli.headend.handlers import ask_for_profile
from bijli.kernel.time import INTERVAL
from bijli.mdm.handlers import run_vee
from bijli.mdm.model import StoredReading
from bijli.mdm.vee import Flag
from tests.support.ingest import deliver_reading

START = datetime(2026, 11, 2, 0, 30, tzinfo=UTC)
METER = "KNCL0000001"


@pytest.fixture(params=["sqlite", "postgresql"])
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    p = bootstrap(settings.build(data_dir=tmp_path, database_url=url, broker_url="memory", new_site=True))
    # The meters read 5,000,000 Wh when installed: the test's readings count up from there.
    city = [replace(c, initial_register_wh=5_000_000) for c in build_city(2)]
    commission_city(p.store, p.settings.tariff_code, city, START)
    yield p
    p.store.dispose()


def deliver(p: Platform, fc: int, n: int, wh: int, total: int, now: datetime) -> None:
    deliver_reading(p, METER, fc, START + n * INTERVAL, wh, total, now)


def stored(p: Platform) -> dict[int, tuple[int, int, str, int]]:
    with p.store.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT interval_start, import_wh, import_wh_total, quality, flags FROM readings "
                "WHERE meter_id = :m ORDER BY interval_start"
            ),
            {"m": METER},
        ).all()
    out = {}
    for start, wh, total, quality, flags in rows:
        at = datetime.fromisoformat(str(start)).replace(tzinfo=UTC)
        out[int((at - START) / INTERVAL)] = (wh, total, quality, flags)
    return out


def test_a_short_gap_is_estimated_linearly_asked_for_and_replaced_by_the_real_readings(platform: Platform) -> None:
    # Intervals 0-2 and 7 arrive; 3-6 (an hour) are missing; the meter's register says 400 Wh went by.
    total = 5_000_000
    for n, wh in enumerate([100, 100, 100]):
        total += wh
        deliver(platform, n + 1, n, wh, total, START + (n + 1) * INTERVAL)
    now = START + 8 * INTERVAL + timedelta(hours=1)
    deliver(platform, 10, 7, 50, total + 400 + 50, now - timedelta(minutes=5))  # the meter is online
    balance = platform.queries.balance("KESCOCL0000001").balance_paise

    report = run_vee(
        platform.store,
        now,
        lookback=timedelta(hours=2, minutes=15),
        request_backfill=lambda m, b, e: ask_for_profile(platform.store, m, b, e, now),
    )

    assert report.intervals_estimated == 4 and report.backfills_requested == 1
    got = stored(platform)
    assert [got[n][0] for n in (3, 4, 5, 6)] == [100, 100, 100, 100]  # 400 Wh spread evenly
    assert got[6][1] == total + 400  # the estimates meet the next real register exactly
    assert all(got[n][2] == "estimated" and got[n][3] == Flag.ESTIMATED_LINEAR for n in (3, 4, 5, 6))
    assert platform.queries.balance("KESCOCL0000001").balance_paise == balance  # estimates are not billed
    with platform.store.engine.connect() as conn:
        (command,) = conn.execute(sa.text("SELECT action, args, requested_by, status FROM commands")).all()
    assert command[0] == "read_profile" and command[2] == "mdm" and command[3] == "queued"

    # The meter answers the profile read: the real readings replace the estimates.
    for n, wh in zip((3, 4, 5, 6), (90, 110, 120, 80), strict=True):
        total += wh
        deliver(platform, 20 + n, n, wh, total, now + timedelta(minutes=n))
    got = stored(platform)
    assert [got[n][:3] for n in (3, 4, 5, 6)] == [
        (90, total - 310, "actual"),
        (110, total - 200, "actual"),
        (120, total - 80, "actual"),
        (80, total, "actual"),
    ]
    assert platform.queries.balance("KESCOCL0000001").balance_paise < balance  # now they are billed
    with platform.store.engine.connect() as conn:
        edits = conn.execute(sa.text("SELECT action, count(*) FROM reading_edits GROUP BY action")).all()
    assert dict(edits) == {"estimated": 4, "replaced": 4}


def test_a_long_gap_is_estimated_from_the_reference_day(platform: Platform) -> None:
    total = 5_000_000
    for n in range(96):  # a whole day of 10 Wh, except 50 Wh at the day's 41st interval
        wh = 50 if n == 40 else 10
        total += wh
        deliver(platform, n + 1, n, wh, total, START + (n + 1) * INTERVAL)
    deliver(platform, 500, 96 + 60, 10, total + 1000, START + 157 * INTERVAL)  # 59 intervals missing

    run_vee(platform.store, START + 160 * INTERVAL, lookback=timedelta(days=1))

    got = stored(platform)
    assert got[96 + 40][:3] == (50, got[96 + 39][1] + 50, "estimated")
    assert got[96 + 41][0] == 10 and got[96 + 41][3] == Flag.ESTIMATED_PROFILE


def test_readings_that_look_wrong_are_kept_but_flagged(platform: Platform) -> None:
    total = 5_000_000
    deliver(platform, 1, 0, 100, total + 100, START + INTERVAL)
    deliver(platform, 2, 1, 5_000, total + 5_100, START + 2 * INTERVAL)  # 20 kW on a small connection
    deliver(platform, 3, 2, 100, total + 9_999, START + 3 * INTERVAL)  # the register jumped

    got = stored(platform)
    assert got[0][3] == 0
    assert got[1][3] & Flag.SPIKE
    assert got[2][3] & Flag.REGISTER and got[2][2] == "actual"


def test_an_estimate_that_meets_a_real_reading_is_neither_written_nor_logged(platform: Platform) -> None:
    # The real reading of interval 0 lands after the job looked for gaps, before it wrote.
    deliver(platform, 1, 0, 100, 5_000_100, START + INTERVAL)
    late = [_estimate(0, 80, 5_000_080), _estimate(1, 80, 5_000_180)]

    with platform.store.transaction() as uow:
        written = uow.readings.add_estimates(late)

    assert written == {(METER, START + INTERVAL)}
    got = stored(platform)
    assert got[0][:3] == (100, 5_000_100, "actual") and got[1][2] == "estimated"


def _estimate(n: int, wh: int, total: int) -> StoredReading:
    return StoredReading(
        meter_id=METER,
        interval_start=START + n * INTERVAL,
        import_wh=wh,
        import_vah=wh,
        export_wh=0,
        voltage_dv=0,
        current_ma=0,
        import_wh_total=total,
        quality="estimated",
        flags=int(Flag.ESTIMATED_LINEAR),
        received_at=START + 2 * INTERVAL,
    )
