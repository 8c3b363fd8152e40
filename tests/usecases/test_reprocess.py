"""Reprocessing the quarantine, on every store: a frame set aside for a reason that has changed
is stored once; one that is now a duplicate is recognised; a reprocessed frame is never taken
twice, and the quarantine keeps its history."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bijli.accounts.handlers import change_status
from bijli.fleet.city import build_city
from bijli.fleet.commissioning import commission_city
from bijli.headend.handlers import ingest_batch, quarantine_unprocessable
from bijli.headend.reprocess import NotReprocessable, reprocess
from bijli.kernel.time import INTERVAL
from bijli.mdm.handlers import settle_all
from bijli.mdm.meters import MeterStatus
from tests.support.world import World
from tests.usecases.conftest import INSTALLED, TARIFF, day

START = day(1)
NOW = START + timedelta(hours=3)
LATER = NOW + timedelta(hours=1)
CL1, NEW = "KNCL0000001", "KNCL0000003"


def starts(first: int, n: int) -> list:  # type: ignore[type-arg]
    return [START + k * INTERVAL for k in range(first, first + n)]


def ingest(world: World, meter_id: str, first_fc: int, first: int, n: int) -> None:
    ingest_batch(world.store, world.frames(meter_id, first_fc, starts(first, n)), world.ring, "bijli", NOW)


def test_frames_from_a_meter_commissioned_later_are_stored_once_and_marked(world: World) -> None:
    ingest(world, NEW, 1, 0, 3)
    assert world.probe.quarantine() == ["unknown-meter"] * 3
    commission_city(world.store, TARIFF, build_city(6), INSTALLED)  # KNCL0000003 goes into service

    report = reprocess(world.store, world.ring, "bijli", LATER)
    again = reprocess(world.store, world.ring, "bijli", LATER)

    assert (report.count("stored"), report.readings_stored) == (3, 3)
    assert again.frames == []
    assert len(world.probe.readings(NEW)) == 3
    assert world.probe.reprocessed() == [("unknown-meter", "stored")] * 3  # the history stays
    ingest(world, NEW, 4, 3, 1)  # the meter's next frame: its counter carries on
    assert len(world.probe.readings(NEW)) == 4


def test_a_frame_set_aside_never_advanced_the_counter_and_once_resent_it_is_a_duplicate(world: World) -> None:
    change_status(world.store, CL1, MeterStatus.DECOMMISSIONED, changed_by="op", reason="test", now=NOW)
    ingest(world, CL1, 1, 0, 2)
    assert world.probe.quarantine() == ["not-commissioned"] * 2
    change_status(world.store, CL1, MeterStatus.COMMISSIONED, changed_by="op", reason="back", now=NOW)
    ingest(world, CL1, 1, 0, 2)  # the same frames, delivered again: their counters were never taken
    assert len(world.probe.readings(CL1)) == 2

    report = reprocess(world.store, world.ring, "bijli", LATER)

    assert (report.count("duplicate"), report.count("stored"), report.readings_stored) == (2, 0, 0)
    assert len(world.probe.readings(CL1)) == 2
    assert world.probe.reprocessed() == [("not-commissioned", "duplicate")] * 2


def test_frames_kept_while_the_meter_was_out_of_service_count_however_far_its_counter_has_moved(world: World) -> None:
    change_status(world.store, CL1, MeterStatus.DECOMMISSIONED, changed_by="op", reason="test", now=NOW)
    ingest(world, CL1, 1, 0, 3)
    change_status(world.store, CL1, MeterStatus.COMMISSIONED, changed_by="op", reason="back", now=NOW)
    ingest(world, CL1, 500, 3, 2)  # live again, its counter far beyond the replay window

    report = reprocess(world.store, world.ring, "bijli", LATER)

    assert (report.count("stored"), report.readings_stored) == (3, 3)
    assert [r.interval_start for r in world.probe.readings(CL1)] == starts(0, 5)
    assert settle_all(world.store, LATER) == 5  # queued once each: charged once each
    ingest(world, CL1, 502, 5, 1)
    assert len(world.probe.readings(CL1)) == 6  # the counter stayed where the meter had it


def test_a_frame_the_store_could_not_take_is_stored_once_the_cause_is_fixed(world: World) -> None:
    broken = True
    world.fail("readings", "store", when=lambda rows, _now: broken and any(r.import_wh == 666 for r in rows))
    frames = world.frames(CL1, 1, starts(0, 1), wh=666)
    with pytest.raises(RuntimeError) as failed:
        ingest_batch(world.store, frames, world.ring, "bijli", NOW)
    quarantine_unprocessable(world.store, frames[0], failed.value, NOW)  # as the head-end does

    still = reprocess(world.store, world.ring, "bijli", LATER, meter_id=CL1)
    assert (still.count("failed"), world.probe.reprocessed()) == (1, [("unprocessable", None)])
    broken = False  # the cause is fixed
    report = reprocess(world.store, world.ring, "bijli", LATER, meter_id=CL1)

    assert (report.count("stored"), report.readings_stored) == (1, 1)
    assert world.probe.reprocessed() == [("unprocessable", "stored")]
    assert [r.import_wh for r in world.probe.readings(CL1)] == [666]
    assert settle_all(world.store, LATER) == 1


def test_what_is_still_refused_for_a_reason_that_can_change_stays_waiting(world: World) -> None:
    ingest(world, NEW, 1, 0, 2)

    report = reprocess(world.store, world.ring, "bijli", LATER)

    assert report.count("waiting") == 2
    assert world.probe.reprocessed() == [("unknown-meter", None)] * 2
    commission_city(world.store, TARIFF, build_city(6), INSTALLED)
    assert reprocess(world.store, world.ring, "bijli", LATER).count("stored") == 2


def test_a_dry_run_says_what_would_happen_and_changes_nothing(world: World) -> None:
    ingest(world, NEW, 1, 0, 3)
    commission_city(world.store, TARIFF, build_city(6), INSTALLED)
    ingest(world, NEW, 10, 0, 1)  # the first interval came again since, in a new frame

    trial = reprocess(world.store, world.ring, "bijli", LATER, dry_run=True)

    assert [f.outcome for f in trial.frames] == ["duplicate", "stored", "stored"]
    assert len(world.probe.readings(NEW)) == 1
    assert world.probe.reprocessed() == [("unknown-meter", None)] * 3
    done = reprocess(world.store, world.ring, "bijli", LATER)
    assert [f.outcome for f in done.frames] == ["duplicate", "stored", "stored"]


def test_only_the_meter_asked_for_is_reprocessed(world: World) -> None:
    ingest(world, NEW, 1, 0, 1)
    ingest(world, "KNMR0000003", 1, 0, 1)
    commission_city(world.store, TARIFF, build_city(6), INSTALLED)

    report = reprocess(world.store, world.ring, "bijli", LATER, meter_id=NEW)

    assert [f.frame.meter_id for f in report.frames] == [NEW]
    assert world.probe.reprocessed() == [("unknown-meter", "stored"), ("unknown-meter", None)]


def test_reasons_that_cannot_change_are_never_reprocessed(world: World) -> None:
    frames = world.frames(CL1, 1, starts(0, 1))
    ingest_batch(world.store, frames, world.ring, "bijli", NOW)
    ingest_batch(world.store, frames, world.ring, "bijli", NOW)  # replayed

    assert reprocess(world.store, world.ring, "bijli", LATER).frames == []
    with pytest.raises(NotReprocessable):
        reprocess(world.store, world.ring, "bijli", LATER, reasons=["replayed"])
    assert world.probe.reprocessed() == [("replayed", None)]
