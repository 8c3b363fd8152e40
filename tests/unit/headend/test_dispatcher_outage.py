"""The command dispatcher waits out an outage of the store and carries on when it is back."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import UTC, datetime

from bijli.headend.command_records import Claimed
from bijli.headend.commands import DEFAULT_POLICY, DispatchPolicy
from bijli.headend.dispatcher import Dispatcher
from bijli.headend.model import KeyRing
from bijli.kernel.clock import SimulatedClock
from bijli.kernel.unit import Backoff, StoreUnavailable
from tests.support.keys import SITE


class Rounds:
    """The store's dispatch rounds, unavailable for the first `down_for` rounds."""

    def __init__(self, down_for: int) -> None:
        self.down_for = down_for
        self.tries = 0

    def expire_due(self, now: datetime, policy: DispatchPolicy) -> int:
        self.tries += 1
        if self.tries <= self.down_for:
            raise StoreUnavailable("OperationalError [57P01]: terminating connection due to administrator command")
        return 0

    def confirm_observed(self, now: datetime, policy: DispatchPolicy) -> int:
        return 0

    def claim_due(self, now: datetime, policy: DispatchPolicy) -> Claimed:
        return Claimed(frames=[], held=0, gave_up=0)


class Nowhere:
    async def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        raise AssertionError("nothing is due")


def test_the_dispatcher_waits_out_an_outage_and_ticks_again_once_the_store_is_back() -> None:
    rounds = Rounds(down_for=4)
    dispatcher = Dispatcher(
        rounds,
        Nowhere(),
        KeyRing(SITE),
        "bijli",
        SimulatedClock(datetime(2026, 12, 4, tzinfo=UTC)),
        policy=replace(DEFAULT_POLICY, tick_s=0.01),
        backoff=Backoff(first_s=0.01, most_s=0.02),
    )

    async def scenario() -> None:
        task = asyncio.create_task(dispatcher.run())
        async with asyncio.timeout(10):
            while dispatcher.totals.ticks < 2:
                await asyncio.sleep(0.01)
        assert not task.done()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(scenario())

    assert dispatcher.totals.store_unavailable == 4
    assert dispatcher.totals.errors == []  # an outage is waited out, not an error
