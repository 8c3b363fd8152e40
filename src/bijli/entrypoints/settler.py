"""Settlement in a process of its own, for the in-process runs (`bijli theft evaluate`).

`bijli serve` settles beside ingest: its settlement works in its own worker while the
head-end goes on taking frames. An in-process run on PostgreSQL does the same with one worker
process (`BackgroundSettler`): at each interval's end it hands the worker what is queued by
then (`queued_until`), settled as of that moment (`settle_all(now, last=...)`), and goes on
with the next interval's frames while the worker settles on the other core. Whatever reads
what settlement writes (the energy balance, VEE, the run's end) waits for it first (`wait`),
so each sees the store as when settlement ran in line. On SQLite (one writer at a time) it
settles in line (`InlineSettler`).

The prepaid month (`bijli scenario run`) hands the worker each chunk of frames as soon as the
head-end stored it (`start`), so the worker settles while the head-end takes the next chunk,
and before anything reads a balance it settles the rest beside the worker (`catch_up`): the
supply service decides on the same settled store as when settlement ran in line.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime
from typing import Protocol

from bijli.adapters.db import engine as db
from bijli.adapters.db.store import Store
from bijli.bootstrap import Platform
from bijli.mdm.handlers import BATCHES_AT_ONCE, queued_until, settle_all
from bijli.prepaid.tariff import builtin_tariffs

_store: Store | None = None
SHARED_BATCHES = 2
"""Queued ingest batches a transaction when the worker and this process settle side by side
(`start`, `catch_up`): small enough that both have a share of one interval's readings."""


class Settler(Protocol):
    busy_s: float
    """Wall seconds settlement itself took."""
    waited_s: float
    """Wall seconds the run waited for it."""

    async def settle(self, now: datetime) -> None:
        """Settle what is queued now, as of `now` (in the background, where it can)."""
        ...

    async def wait(self) -> None:
        """Until what `settle` was handed is settled."""
        ...

    async def start(self, now: datetime) -> None:
        """Set settlement going on what is queued now (the worker: unless it is still at work;
        what is queued meanwhile waits for the next `start` or `catch_up`)."""
        ...

    async def catch_up(self, now: datetime) -> None:
        """Until everything queued now is settled, as of `now`, and every day due is closed."""
        ...

    def close(self) -> None: ...


class InlineSettler:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.busy_s = self.waited_s = 0.0

    async def settle(self, now: datetime) -> None:
        tick = time.monotonic()
        await asyncio.to_thread(settle_all, self.platform.store, now)
        self.busy_s += time.monotonic() - tick
        self.waited_s += time.monotonic() - tick

    async def wait(self) -> None:
        return None

    async def start(self, now: datetime) -> None:
        await self.settle(now)

    async def catch_up(self, now: datetime) -> None:
        await self.settle(now)

    def close(self) -> None:
        return None


def _open(url: str) -> None:
    global _store
    _store = Store(db.create(url), builtin_tariffs())


def _settle(now: datetime, last: int | None, batches: int = BATCHES_AT_ONCE) -> float:
    assert _store is not None
    tick = time.monotonic()
    settle_all(_store, now, last, batches)
    return time.monotonic() - tick


class BackgroundSettler:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.busy_s = self.waited_s = 0.0
        url = platform.settings.database_url
        self._pool = ProcessPoolExecutor(1, multiprocessing.get_context("spawn"), initializer=_open, initargs=(url,))
        self._pending: Future[float] | None = None

    async def settle(self, now: datetime) -> None:
        await self.wait()  # one settlement at a time, in the order of the intervals
        last = await asyncio.to_thread(queued_until, self.platform.store)
        # Nothing queued: the days due are still closed (`close_days`), and nothing else.
        self._pending = self._pool.submit(_settle, now, 0 if last is None else last)

    async def wait(self) -> None:
        if self._pending is None:
            return
        tick = time.monotonic()
        self.busy_s += await asyncio.wrap_future(self._pending)
        self.waited_s += time.monotonic() - tick
        self._pending = None

    async def start(self, now: datetime) -> None:
        if self._pending is not None:
            if not self._pending.done():
                return
            await self.wait()
        last = await asyncio.to_thread(queued_until, self.platform.store)
        if last is not None:
            self._pending = self._pool.submit(_settle, now, last, SHARED_BATCHES)

    async def catch_up(self, now: datetime) -> None:
        # Both settle: the queue's rows are claimed with SKIP LOCKED, each by one of them.
        here = asyncio.to_thread(_settle_here, self.platform.store, now)
        took, _ = await asyncio.gather(here, self.wait())
        self.busy_s += took

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


def _settle_here(store: Store, now: datetime) -> float:
    tick = time.monotonic()
    settle_all(store, now, batches=SHARED_BATCHES)
    return time.monotonic() - tick


def settler_for(platform: Platform) -> Settler:
    """A worker process on PostgreSQL, settlement in line on SQLite."""
    if platform.store.engine.dialect.name == "postgresql":
        return BackgroundSettler(platform)
    return InlineSettler(platform)
