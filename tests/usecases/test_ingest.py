"""Ingest, on every store: what meters send is stored once, and only once; bad frames are
kept aside with their reason and change nothing else."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import timedelta

from bijli.adapters.brokers.memory import MemoryBroker
from bijli.headend.handlers import ingest_batch
from bijli.headend.ports import Delivery
from bijli.headend.service import HeadEnd
from bijli.kernel.clock import SimulatedClock
from bijli.kernel.time import INTERVAL, epoch
from bijli.mdm.handlers import run_vee, settle_all
from bijli.protocol import topics
from bijli.protocol.codec import seal
from bijli.protocol.events import EventCode
from bijli.protocol.frames import Event, EventFrame, StatusFrame
from bijli.protocol.relay import RelayState
from tests.support.frames import reading
from tests.support.keys import site_for
from tests.support.world import SECRET, World
from tests.usecases.conftest import day

START = day(1)
NOW = START + timedelta(hours=3)
CL1, MR1 = "KNCL0000001", "KNMR0000001"


def starts(n: int) -> list:  # type: ignore[type-arg]
    return [START + k * INTERVAL for k in range(n)]


def test_a_batch_delivered_twice_is_stored_once_and_its_replay_quarantined(world: World) -> None:
    batch = world.frames(CL1, 1, starts(4))
    first = ingest_batch(world.store, batch, world.ring, "bijli", NOW)
    again = ingest_batch(world.store, batch, world.ring, "bijli", NOW)

    assert (first.readings_stored, first.quarantined) == (4, 0)
    assert (again.readings_stored, again.quarantined) == (0, 4)
    assert len(world.probe.readings(CL1)) == 4
    assert world.probe.quarantine() == ["replayed"] * 4


def test_a_batch_the_broker_hands_over_again_after_its_commit_is_kept_nowhere_twice(world: World) -> None:
    # A worker stopped between the batch's commit and its acknowledgement: JetStream hands the
    # same messages over again. They are not replays: nothing goes to the quarantine.
    batch = world.frames(CL1, 1, starts(4))
    first = ingest_batch(world.store, batch, world.ring, "bijli", NOW)
    again = ingest_batch(world.store, [replace(d, redelivered=True) for d in batch], world.ring, "bijli", NOW)

    assert (first.readings_stored, first.quarantined) == (4, 0)
    assert (again.received, again.readings_stored, again.quarantined) == (4, 0, 0)
    assert len(world.probe.readings(CL1)) == 4
    assert world.probe.quarantine() == []
    # A message handed over again that is refused for another reason is kept as before.
    late = Delivery(*reading(SECRET, MR1, 1, NOW + timedelta(hours=1)), redelivered=True)
    assert ingest_batch(world.store, [late], world.ring, "bijli", NOW).quarantined == 1
    assert world.probe.quarantine() == ["clock-ahead"]
    # So is a counter below 1: no meter takes one, so none was taken before.
    zero = Delivery(*reading(SECRET, MR1, 0, START), redelivered=True)
    assert ingest_batch(world.store, [zero], world.ring, "bijli", NOW).quarantined == 1
    assert world.probe.quarantine() == ["clock-ahead", "replayed"]


def test_messages_handed_over_again_after_later_ones_were_stored_are_stored_however_far_behind(
    world: World,
) -> None:
    # A worker died holding a meter's first frames uncommitted; the next worker stored the
    # meter's later frames before the broker handed those first ones over again, by then more
    # counters below the highest than the replay window tells apart. They were never stored:
    # they are stored now, and a copy of them handed over once more stores nothing twice.
    later_now = START + timedelta(days=1)
    frames = world.frames(CL1, 1, starts(80))
    held, stored = frames[:10], frames[10:]
    assert ingest_batch(world.store, stored, world.ring, "bijli", later_now).readings_stored == 70

    again = [replace(d, redelivered=True) for d in held]
    first = ingest_batch(world.store, again, world.ring, "bijli", later_now)
    once_more = ingest_batch(world.store, again, world.ring, "bijli", later_now)

    assert (first.readings_stored, first.quarantined) == (10, 0)
    assert (once_more.readings_stored, once_more.readings_duplicate, once_more.quarantined) == (0, 10, 0)
    assert len(world.probe.readings(CL1)) == 80
    assert world.probe.quarantine() == []
    # Sent again by anyone (not handed over again by the broker), they are replays.
    assert ingest_batch(world.store, held, world.ring, "bijli", later_now).quarantined == 10
    assert world.probe.quarantine() == ["replayed"] * 10


def test_the_same_interval_in_a_new_frame_is_a_duplicate_not_a_second_reading(world: World) -> None:
    ingest_batch(world.store, world.frames(CL1, 1, starts(2)), world.ring, "bijli", NOW)
    resent = ingest_batch(world.store, world.frames(CL1, 50, starts(2)), world.ring, "bijli", NOW)

    assert (resent.readings_stored, resent.readings_duplicate, resent.quarantined) == (0, 2, 0)
    assert len(world.probe.readings(CL1)) == 2


def test_bad_frames_are_quarantined_with_their_reasons_and_the_good_ones_still_land(world: World) -> None:
    good = world.frames(MR1, 1, starts(2))
    future = Delivery(*reading(SECRET, MR1, 10, NOW + timedelta(hours=1)))
    forged = Delivery(*reading(site_for("another"), MR1, 11, START))
    unknown = Delivery(*reading(SECRET, "KNXX0000009", 1, START))
    junk = Delivery("bijli/v1/m/KNMR0000001/up/reading", b"\x00\xff not a frame")
    stray = Delivery("elsewhere/entirely", b"{}")

    report = ingest_batch(world.store, [*good, future, forged, unknown, junk, stray], world.ring, "bijli", NOW)

    assert (report.readings_stored, report.quarantined) == (2, 5)
    assert world.probe.quarantine() == ["bad-topic", "clock-ahead", "forged", "malformed", "unknown-meter"]
    assert len(world.probe.readings(MR1)) == 2


def test_status_and_events_land_with_the_readings_and_an_older_status_never_overwrites_a_newer(world: World) -> None:
    key = SECRET.frame_key(CL1)

    def status(fc: int, relay: RelayState) -> Delivery:
        frame = StatusFrame(
            v=1, m=CL1, fc=fc, ts=epoch(START), sim=1, operator="Jio", rssi_dbm=-70, relay=int(relay),
            balance_paise=10_000, failovers=0, sim1_s=900, sim2_s=0, switched_at=0,
        )  # fmt: skip
        return Delivery(topics.uplink("bijli", CL1, "status"), seal(key, frame))

    event = EventFrame(v=1, m=CL1, fc=3, ts=epoch(START), events=[Event(code=EventCode.MAGNET, at=epoch(START) - 60)])
    ingest_batch(
        world.store,
        [
            *world.frames(CL1, 1, starts(1)),
            status(2, RelayState.DISCONNECTED),
            Delivery(topics.uplink("bijli", CL1, "event"), seal(key, event)),
        ],
        world.ring,
        "bijli",
        NOW,
    )
    ingest_batch(world.store, [status(6, RelayState.CONNECTED)], world.ring, "bijli", NOW)
    assert world.probe.relay(CL1) == RelayState.CONNECTED
    ingest_batch(world.store, [status(5, RelayState.DISCONNECTED)], world.ring, "bijli", NOW)  # late, another path

    assert world.probe.relay(CL1) == RelayState.CONNECTED
    assert world.probe.events(CL1) == [EventCode.MAGNET]


def test_an_actual_reading_replaces_its_estimate_and_the_edit_says_so(world: World) -> None:
    ingest_batch(world.store, world.frames(CL1, 1, [START, START + 3 * INTERVAL]), world.ring, "bijli", NOW)
    run_vee(world.store, START + 4 * INTERVAL, lookback=timedelta(hours=1), grace=timedelta(0))
    estimated = [r for r in world.probe.readings(CL1) if not r.actual]
    assert [r.interval_start for r in estimated] == [START + INTERVAL, START + 2 * INTERVAL]

    late = world.frames(CL1, 10, [START + INTERVAL])
    report = ingest_batch(world.store, late, world.ring, "bijli", NOW)

    assert (report.readings_stored, report.readings_replaced, report.readings_duplicate) == (0, 1, 0)
    assert [r.quality for r in world.probe.readings(CL1)] == ["actual", "actual", "estimated", "actual"]
    assert ("replaced", "the actual reading arrived") in [(a, why) for at, a, why in world.probe.edits(CL1)]
    assert world.probe.queued() == 2  # the first batch, and the replacement: both charged when settled


def test_a_batch_the_store_fails_is_stored_one_by_one_and_counted_in_full(world: World) -> None:
    ingest_batch(world.store, world.frames(CL1, 1, [START, START + 2 * INTERVAL]), world.ring, "bijli", NOW)
    run_vee(world.store, START + 3 * INTERVAL, lookback=3 * INTERVAL, grace=timedelta(0))  # estimates START + 15 min
    late = world.frames(CL1, 10, [START + INTERVAL])
    fresh = world.frames(MR1, 1, starts(2))
    refused = Delivery(*reading(SECRET, "KNCL0000002", 1, START, wh=666))
    # The store refuses one reading: the batch it came in fails whole, then goes one by one.
    world.fail("readings", "store", lambda rows, _now: any(r.import_wh == 666 for r in rows))

    async def scenario() -> HeadEnd:
        broker = MemoryBroker()
        for d in [*late, *fresh, refused]:  # all waiting before the head-end starts: one batch
            await broker.publish(d.topic, d.payload)
        headend = HeadEnd(world.store, broker, world.ring, "bijli", SimulatedClock(NOW), settling=False)
        task = asyncio.create_task(headend.run())
        await asyncio.wait_for(broker.drain(), timeout=30)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return headend

    totals = asyncio.run(scenario()).totals

    assert (totals.batches, totals.received, totals.quarantined) == (1, 4, 1)
    assert (totals.readings_stored, totals.readings_replaced) == (2, 1)
    assert world.probe.quarantine() == ["unprocessable"]
    assert [r.quality for r in world.probe.readings(CL1)] == ["actual", "actual", "actual"]
    assert settle_all(world.store, NOW) == 5
