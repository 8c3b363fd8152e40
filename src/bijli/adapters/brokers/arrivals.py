"""Messages that arrived on the broker's thread and wait for the head-end's next batch.

One `Arrivals` per lane: the MQTT uplink keeps the meters' event frames in a lane of their own
(`MqttUplink.event_lane`), so a tamper's frame is stored by a worker of its own at once,
however many readings wait in the other lane.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Sequence

from bijli.headend.ports import Delivery


class Arrivals:
    """A queue filled from the broker client's thread and drained in batches on the event loop.

    The event loop is woken once when the first message arrives and once when a batch is full,
    not for every message."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._pending: list[Delivery] = []
        self._lock = threading.Lock()
        self._any = asyncio.Event()
        self._full = asyncio.Event()
        self._want = 1
        self._last_arrival = self._oldest = time.monotonic()

    def put(self, delivery: Delivery) -> None:
        """A message arrived (called on the broker client's thread)."""
        self._last_arrival = now = time.monotonic()
        with self._lock:
            self._pending.append(delivery)
            waiting = len(self._pending)
            if waiting == 1:
                self._oldest = now
        if waiting == 1:
            self._loop.call_soon_threadsafe(self._any.set)
        elif waiting == self._want:
            self._loop.call_soon_threadsafe(self._full.set)

    async def next_batch(self, max_messages: int, max_wait_s: float) -> list[Delivery]:
        # The batch fills until the oldest message in it has waited `max_wait_s`: under a
        # flood the messages keep coming meanwhile, and a larger batch costs less per message
        # to store; what arrived while the last batch was being stored has waited already.
        self._want = max_messages
        await self._any.wait()
        if len(self._pending) < max_messages:
            self._full.clear()
            left = self._oldest + max_wait_s - time.monotonic()
            if len(self._pending) < max_messages and left > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), left)
        with self._lock:
            batch = self._pending[:max_messages]
            del self._pending[:max_messages]
            if self._pending:
                self._oldest = time.monotonic()  # (they are older, but a backlog fills the next batch at once)
            else:
                self._any.clear()
        return batch

    def waiting(self) -> int:
        return len(self._pending)

    def idle_s(self) -> float:
        return 0.0 if self._pending else time.monotonic() - self._last_arrival


class Lane:
    """One lane of an uplink, as the head-end's `Uplink` port: its own arrivals, acknowledged
    on the uplink's connection, closed with it (by its owner)."""

    def __init__(self, arrivals: Arrivals, ack: Callable[[Sequence[Delivery]], Awaitable[None]]) -> None:
        self._arrivals = arrivals
        self._ack = ack

    async def next_batch(self, max_messages: int, max_wait_s: float) -> list[Delivery]:
        return await self._arrivals.next_batch(max_messages, max_wait_s)

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        await self._ack(deliveries)

    def waiting(self) -> int:
        return self._arrivals.waiting()

    def idle_s(self) -> float:
        return self._arrivals.idle_s()

    async def close(self) -> None:
        """Nothing of its own to close: the uplink it is a lane of closes the connection."""
