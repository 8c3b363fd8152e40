"""A store outage, on every store: nothing is acknowledged, set aside or lost while the store
cannot be reached; the head-end and settlement wait it out and then carry on, once each."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta

import pytest

from bijli.adapters.brokers.memory import MemoryBroker
from bijli.headend.handlers import ingest_batch
from bijli.headend.service import HeadEnd, SettlePace
from bijli.kernel.clock import SimulatedClock
from bijli.kernel.time import INTERVAL
from bijli.kernel.unit import Backoff, StoreUnavailable
from bijli.mdm.handlers import settle, settle_all
from tests.support.world import World
from tests.usecases.conftest import day

START = day(1)
NOW = START + timedelta(hours=3)
CL1, MR1 = "KNCL0000001", "KNMR0000001"
QUICK = Backoff(first_s=0.01, most_s=0.05)


def starts(n: int) -> list:  # type: ignore[type-arg]
    return [START + k * INTERVAL for k in range(n)]


async def until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def stop(task: asyncio.Task[None]) -> None:
    assert not task.done(), "the head-end stopped on its own"
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def test_a_use_case_that_cannot_reach_the_store_says_so_and_changes_nothing(world: World) -> None:
    world.fail("meters", "update", error=world.outage)  # late in the transaction: readings already written

    with pytest.raises(StoreUnavailable):
        ingest_batch(world.store, world.frames(CL1, 1, starts(2)), world.ring, "bijli", NOW)

    assert world.probe.readings(CL1) == []
    assert world.probe.quarantine() == []
    assert world.probe.queued() == 0


def test_a_batch_is_held_unacknowledged_while_the_store_is_down_then_stored_once(world: World) -> None:
    down = True
    world.fail("readings", "store", when=lambda *_: down, error=world.outage)
    frames = [*world.frames(CL1, 1, starts(4)), *world.frames(MR1, 1, starts(2))]

    async def scenario() -> tuple[HeadEnd, MemoryBroker, tuple[int, int, int]]:
        nonlocal down
        broker = MemoryBroker()
        for d in frames:  # all waiting before the head-end starts: one batch
            await broker.publish(d.topic, d.payload)
        headend = HeadEnd(world.store, broker, world.ring, "bijli", SimulatedClock(NOW), settling=False, backoff=QUICK)
        task = asyncio.create_task(headend.run())
        await until(lambda: headend.totals.store_unavailable >= 3, "three failed tries")
        during = (broker.acknowledged, headend.totals.batches, len(world.probe.readings(CL1)))
        down = False  # the store is back
        await asyncio.wait_for(broker.drain(), timeout=30)
        await stop(task)
        return headend, broker, during

    headend, broker, during = asyncio.run(scenario())

    assert during == (0, 0, 0)  # held: not acknowledged, nothing stored
    assert broker.acknowledged == len(frames)
    assert (headend.totals.batches, headend.totals.received, headend.totals.readings_stored) == (1, 6, 6)
    assert (headend.totals.quarantined, world.probe.quarantine()) == (0, [])
    assert (len(world.probe.readings(CL1)), len(world.probe.readings(MR1))) == (4, 2)


def test_an_outage_while_a_failed_batch_goes_one_by_one_sets_nothing_aside_that_was_good(world: World) -> None:
    down = False
    refused = world.frames("KNCL0000002", 1, starts(1), wh=666)
    world.fail("readings", "store", when=lambda rows, _now: any(r.import_wh == 666 for r in rows))
    world.fail("meters", "update", when=lambda *_: down, error=world.outage)
    frames = [*world.frames(CL1, 1, starts(3)), *refused]

    async def scenario() -> HeadEnd:
        nonlocal down
        broker = MemoryBroker()
        for d in frames:
            await broker.publish(d.topic, d.payload)
        down = True  # the store goes away as the batch is split up
        headend = HeadEnd(world.store, broker, world.ring, "bijli", SimulatedClock(NOW), settling=False, backoff=QUICK)
        task = asyncio.create_task(headend.run())
        await until(lambda: headend.totals.store_unavailable >= 3, "three failed tries")
        down = False
        await asyncio.wait_for(broker.drain(), timeout=30)
        await stop(task)
        return headend

    totals = asyncio.run(scenario()).totals

    assert world.probe.quarantine() == ["unprocessable"]  # only the message the store itself refuses
    assert (totals.received, totals.readings_stored, totals.quarantined) == (4, 3, 1)
    assert len(world.probe.readings(CL1)) == 3


def test_settlement_waits_out_an_outage_and_charges_every_interval_once(world: World) -> None:
    ingest_batch(world.store, world.frames(CL1, 1, starts(4)), world.ring, "bijli", NOW)
    down = True
    world.fail("day_charges", "add", when=lambda *_: down, error=world.outage)

    with pytest.raises(StoreUnavailable):
        settle(world.store, NOW)
    assert world.probe.queued() == 1

    async def scenario() -> HeadEnd:
        nonlocal down
        headend = HeadEnd(
            world.store,
            MemoryBroker(),
            world.ring,
            "bijli",
            SimulatedClock(NOW),
            pace=SettlePace(quiet_s=0.0, poll_s=0.01),
            backoff=QUICK,
        )
        task = asyncio.create_task(headend.run())
        await until(lambda: headend.totals.store_unavailable >= 3, "three failed tries to settle")
        down = False
        await until(lambda: headend.totals.readings_settled == 4, "the queue settled")
        await stop(task)
        return headend

    asyncio.run(scenario())

    assert world.probe.queued() == 0
    assert settle_all(world.store, NOW) == 0
    assert [energy for _, _, energy, _ in world.probe.days("KESCOCL0000001")] == [400]  # four intervals, once each
