"""An in-process broker for the headless demo: no sockets, at-least-once, bounded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from bijli.adapters.brokers.batching import gather
from bijli.headend.ports import Delivery


class MemoryBroker:
    """Holds published messages until a consumer acknowledges them.

    Publishing waits when `capacity` messages are outstanding, so a fast fleet cannot run
    ahead of the head-end without bound; `drain` waits until every message is acknowledged.
    """

    def __init__(self, capacity: int = 20_000) -> None:
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self._room = asyncio.Semaphore(capacity)
        self._outstanding = 0
        self._settled = asyncio.Event()
        self._settled.set()
        self.published = 0
        self.acknowledged = 0
        self._last_publish = time.monotonic()

    async def publish(self, topic: str, payload: bytes) -> None:
        await self._room.acquire()
        self._outstanding += 1
        self._settled.clear()
        self.published += 1
        self._last_publish = time.monotonic()
        self._queue.put_nowait(Delivery(topic, payload))

    async def next_batch(self, max_messages: int, max_wait_s: float) -> list[Delivery]:
        return await gather(self._queue, max_messages, max_wait_s)

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        for _ in deliveries:
            self._room.release()
        self._outstanding -= len(deliveries)
        self.acknowledged += len(deliveries)
        if self._outstanding == 0:
            self._settled.set()

    def waiting(self) -> int:
        return self._queue.qsize()

    def idle_s(self) -> float:
        return 0.0 if self._queue.qsize() else time.monotonic() - self._last_publish

    async def drain(self) -> None:
        """Wait until everything published so far has been acknowledged."""
        await self._settled.wait()

    async def close(self) -> None:
        return None
