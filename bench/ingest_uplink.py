"""The head-end's own uplink (MQTT or JetStream) in the ingest benchmark: doing nothing but
acknowledge (what it takes from the broker before any store is asked to keep it), or timed
under a head-end worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from multiprocessing.synchronize import Event
from typing import Any, Protocol

from bijli.headend.ports import Delivery, Uplink
from bijli.kernel.heap import settle_heap


class StartedUplink(Uplink, Protocol):
    async def start(self) -> None: ...


async def acknowledge_only(uplink: StartedUplink, ready: Event, stop: Event, seen: Any) -> None:
    """Take batches and acknowledge them until `stop`; into `seen` the count received, the first
    and the last receipt (epoch seconds)."""
    await uplink.start()
    settle_heap()
    ready.set()
    counted = 0
    while not stop.is_set():
        try:
            batch = await asyncio.wait_for(uplink.next_batch(5000, 0.05), 0.2)
        except TimeoutError:
            continue
        await uplink.ack(batch)
        now = time.time()
        if not counted:
            seen[1] = now
        counted += len(batch)
        seen[0], seen[2] = counted, now
    await uplink.close()


class TimedUplink:
    """An uplink that also notes when each message arrived and when its batch was acknowledged
    (just after the commit), and how long the worker spent storing batches. A message arrived
    when its batch was fetched, unless `arrived` knows better."""

    def __init__(self, inner: StartedUplink) -> None:
        self.inner = inner
        self.arrivals: list[float] = []
        self.commits: list[float] = []
        self.busy_s = 0.0
        self._batch_at = 0.0
        self._fetched_at = 0.0

    def arrived(self, delivery: Delivery, now: float) -> float:
        """When `delivery` arrived (`now` is when its batch was acknowledged)."""
        return self._fetched_at

    async def start(self) -> None:
        await self.inner.start()

    async def next_batch(self, max_messages: int, max_wait_s: float) -> list[Delivery]:
        batch = await self.inner.next_batch(max_messages, max_wait_s)
        self._fetched_at = time.time()
        self._batch_at = time.perf_counter()
        return batch

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        now = time.time()
        self.busy_s += time.perf_counter() - self._batch_at
        self.arrivals += [self.arrived(d, now) for d in deliveries]
        self.commits += [now] * len(deliveries)
        await self.inner.ack(deliveries)

    def waiting(self) -> int:
        return self.inner.waiting()

    def idle_s(self) -> float:
        return self.inner.idle_s()

    async def close(self) -> None:
        await self.inner.close()
