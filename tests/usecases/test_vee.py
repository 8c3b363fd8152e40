"""Validation, estimation and editing, on every store: every interval real, or estimated and
flagged until the real reading comes; nothing invented for meters out of service."""

from __future__ import annotations

from datetime import datetime, timedelta

from bijli.accounts.handlers import change_status
from bijli.headend.handlers import ingest_batch
from bijli.headend.ports import Delivery
from bijli.kernel.time import INTERVAL
from bijli.mdm.handlers import run_vee
from bijli.mdm.vee import Flag
from tests.support.frames import reading
from tests.support.world import SECRET, World
from tests.usecases.conftest import day

START = day(1)
CL1, CL2 = "KNCL0000001", "KNCL0000002"


def deliver(world: World, meter: str, fc: int, n: int, wh: int, total: int, now: datetime) -> None:
    frame = Delivery(*reading(SECRET, meter, fc, START + n * INTERVAL, wh=wh, total=total))
    ingest_batch(world.store, [frame], world.ring, "bijli", now)


def test_a_short_gap_is_estimated_linearly_and_asked_for(world: World) -> None:
    total = 5_000_000
    for n in range(3):
        total += 100
        deliver(world, CL1, n + 1, n, 100, total, START + (n + 1) * INTERVAL)
    now = START + 8 * INTERVAL + timedelta(hours=1)
    deliver(world, CL1, 10, 7, 50, total + 400 + 50, now - timedelta(minutes=5))  # the meter is online
    asked: list[tuple[str, datetime, datetime]] = []

    report = run_vee(world.store, now, lookback=timedelta(hours=2), request_backfill=lambda *gap: asked.append(gap))

    estimates = [r for r in world.probe.readings(CL1) if not r.actual]
    assert [r.import_wh for r in estimates] == [100, 100, 100, 100]  # 400 Wh spread evenly
    assert estimates[-1].import_wh_total == total + 400  # meeting the next real register exactly
    assert all(r.flags & Flag.ESTIMATED_LINEAR for r in estimates)
    assert (report.intervals_estimated, report.backfills_requested) == (4, 1)
    assert asked == [(CL1, START + 3 * INTERVAL, START + 7 * INTERVAL)]
    assert [a for _, a, _ in world.probe.edits(CL1)] == ["estimated"] * 4


def test_intervals_a_meter_was_out_of_service_for_are_not_missing(world: World) -> None:
    deliver(world, CL2, 1, 0, 100, 5_000_100, START + INTERVAL)
    change_status(world.store, CL2, "decommissioned", changed_by="operator.verma", reason="moved", now=START + INTERVAL)
    now = START + 6 * INTERVAL

    report = run_vee(world.store, now, lookback=4 * INTERVAL, grace=timedelta(0))

    assert report.intervals_estimated == 0
    assert [r.actual for r in world.probe.readings(CL2)] == [True]


def test_a_meter_that_never_reported_gets_nothing_invented(world: World) -> None:
    report = run_vee(world.store, START + 4 * INTERVAL, lookback=4 * INTERVAL, grace=timedelta(0))

    assert report.meters_incomplete == 0 and report.intervals_estimated == 0  # nothing it could have sent is missing
    assert world.probe.readings(CL1) == []


def test_a_meter_is_counted_from_its_first_reading_and_its_later_gaps_are_still_found(world: World) -> None:
    # CL1 first reports at interval 2 and has sent every one since; CL2 first reports at
    # interval 2 and then misses 4 and 5.
    for n in range(2, 8):
        deliver(world, CL1, n, n, 100, 5_000_000 + 100 * n, START + (n + 1) * INTERVAL)
        if n not in (4, 5):
            deliver(world, CL2, n, n, 100, 5_000_000 + 100 * n, START + (n + 1) * INTERVAL)
    now = START + 8 * INTERVAL

    report = run_vee(world.store, now, lookback=8 * INTERVAL, grace=timedelta(0))

    assert report.meters_incomplete == 1
    assert all(r.actual for r in world.probe.readings(CL1))
    assert [r.interval_start for r in world.probe.readings(CL2) if not r.actual] == [
        START + 4 * INTERVAL,
        START + 5 * INTERVAL,
    ]
