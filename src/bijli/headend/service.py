"""The head-end loop: take a batch, store it, acknowledge it, repeat."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from functools import reduce
from typing import Protocol

from bijli.headend.handlers import NOTHING, IngestReport, ingest_batch, quarantine_unprocessable
from bijli.headend.model import KeyRing
from bijli.headend.outage import StoreOutage
from bijli.headend.ports import Delivery, IngestUnit, MeterCounters, Uplink
from bijli.kernel.clock import Clock
from bijli.kernel.unit import Backoff, StoreUnavailable, Transactions
from bijli.mdm.handlers import SettleReport, settle, settle_all
from bijli.mdm.ports import SettlementUnit, Supplies

log = logging.getLogger(__name__)


class HeadEndMeters(MeterCounters, Supplies, Protocol):
    """The meters' state as ingest writes it and settlement reads it."""


class HeadEndUnit(IngestUnit, SettlementUnit, Protocol):
    """What a head-end's ingest and settlement need of one transaction."""

    @property
    def meters(self) -> HeadEndMeters: ...


@dataclass(slots=True)
class IngestTotals:
    """Running totals since the head-end started."""

    batches: int = 0
    received: int = 0
    readings_stored: int = 0
    readings_duplicate: int = 0
    quarantined: int = 0
    readings_replaced: int = 0
    readings_settled: int = 0
    write_s: float = 0.0
    store_unavailable: int = 0
    """Tries (to store a batch, or to settle) that failed because the store was unavailable;
    each was tried again."""
    errors: list[str] = field(default_factory=list)

    def add(self, report: IngestReport) -> None:
        self.batches += 1
        self.received += report.received
        self.readings_stored += report.readings_stored
        self.readings_duplicate += report.readings_duplicate
        self.quarantined += report.quarantined
        self.readings_replaced += report.readings_replaced
        self.write_s += report.write_s


@dataclass(frozen=True, slots=True)
class SettlePace:
    """When a head-end settles what it stored: at full speed once the uplink is quiet; under
    a steady flood, once work has waited `within_s`, and then with a bounded share of time."""

    quiet_s: float = 0.25
    """The uplink counts as quiet after this long without a message."""
    within_s: float = 60.0
    """A round's burst lasts well under a minute (DESIGN.md): settlement waits it out."""
    share_under_load: float = 0.1
    chunk_batches: int = 1
    """Queue rows (up to 500 readings each) per settlement transaction."""
    poll_s: float = 0.05

    def may_settle(self, now: float, idle_s: float, waiting_since: float, not_before: float) -> bool:
        if idle_s >= self.quiet_s:
            return True
        return now - waiting_since >= self.within_s and now >= not_before

    def rest_after(self, took_s: float) -> float:
        """How long to leave ingest alone after a chunk settled under load."""
        return took_s * (1 / self.share_under_load - 1)


class HeadEnd:
    """Takes meters' frames off an uplink into the store, acknowledging after commit.

    What it stores is then settled (validated, charged, added up) in small chunks, paced by
    `SettlePace`: bursts are taken first, settled right after.
    """

    def __init__(
        self,
        store: Transactions[HeadEndUnit],
        uplink: Uplink,
        ring: KeyRing,
        root: str,
        clock: Clock,
        max_batch: int = 5000,
        max_wait_s: float = 0.15,
        name: str = "headend",
        settling: bool = True,
        pace: SettlePace | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.store = store
        self.uplink = uplink
        self.ring = ring
        self.root = root
        self.clock = clock
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.name = name
        self.settling = settling
        self.totals = IngestTotals()
        self.pace = pace or SettlePace()
        self._queued = asyncio.Event()
        self._queued.set()  # a restart may find batches left to settle
        self._enqueued = 0
        self._settle_lock = asyncio.Lock()
        backoff = backoff or Backoff()
        self._ingest_outage = StoreOutage(f"{name}: batch held, not acknowledged", backoff, log)
        self._settle_outage = StoreOutage(f"{name}: settlement waits", backoff, log)

    async def run(self) -> None:
        """Ingest until cancelled. A batch is acknowledged only after its commit."""
        settler = asyncio.create_task(self._settle_in_lulls()) if self.settling else None
        try:
            while True:
                batch = await self.uplink.next_batch(self.max_batch, self.max_wait_s)
                report = await self._store(batch)
                await self.uplink.ack(batch)
                self.totals.add(report)
                if report.readings_stored + report.readings_replaced:
                    self._enqueued += 1
                    self._queued.set()
                if settler is not None and settler.done():
                    settler.result()
        finally:
            if settler is not None:
                settler.cancel()

    async def settle_all(self) -> int:
        """Settle everything queued (for runs that need the ledger complete now)."""
        while True:
            try:
                async with self._settle_lock:
                    done = await asyncio.to_thread(settle_all, self.store, self.clock.now())
            except StoreUnavailable as e:  # what was settled stays settled; the rest is still queued
                self.totals.store_unavailable += 1
                await self._settle_outage.wait(e)
                continue
            self._settle_outage.over()
            self.totals.readings_settled += done
            return done

    async def _settle_in_lulls(self) -> None:
        """Settle whatever is queued, a small chunk at a time, by `pace` (ingest comes first)."""
        pace = self.pace
        waiting_since = not_before = time.monotonic()
        while True:
            if not self._queued.is_set():
                await self._queued.wait()
                waiting_since = time.monotonic()
            now = time.monotonic()
            if not pace.may_settle(now, self.uplink.idle_s(), waiting_since, not_before):
                await asyncio.sleep(pace.poll_s)
                continue
            enqueued = self._enqueued
            try:
                report = await self._settle_once(pace.chunk_batches)
            except StoreUnavailable as e:  # the batches stay queued until the store is back
                self.totals.store_unavailable += 1
                await self._settle_outage.wait(e)
                continue
            except Exception as e:  # logged; the batches stay queued for the next try
                log.exception("settlement failed")
                self.totals.errors.append(repr(e))
                await asyncio.sleep(1.0)
                continue
            self._settle_outage.over()
            not_before = time.monotonic() + pace.rest_after(time.monotonic() - now)
            if not report.batches and enqueued == self._enqueued:  # empty: wait for the next batch
                self._queued.clear()

    async def _settle_once(self, batches: int) -> SettleReport:
        async with self._settle_lock:
            report = await asyncio.to_thread(settle, self.store, self.clock.now(), batches)
        self.totals.readings_settled += report.readings
        return report

    async def _store(self, batch: list[Delivery]) -> IngestReport:
        """Store a batch; the caller acknowledges it only after this returns.

        While the store is unavailable (`StoreUnavailable`) the same batch is tried again, with
        backoff, for as long as that takes: nothing is acknowledged meanwhile, so the broker
        keeps the messages, and nothing is set aside. If the batch fails for another reason,
        its deliveries are tried one by one, and one that fails on its own is quarantined as
        `unprocessable` (to be reprocessed once the cause is fixed), so a single bad message
        never blocks the others.
        """
        while True:
            try:
                report = await self._ingest(batch)
            except StoreUnavailable as e:
                await self._wait_out(e)
                continue
            except Exception as e:
                log.exception("batch of %d not stored; storing its messages one by one", len(batch))
                self.totals.errors.append(repr(e))
                return await self._one_by_one(batch)
            self._ingest_outage.over()
            return report

    async def _wait_out(self, error: StoreUnavailable) -> None:
        self.totals.store_unavailable += 1
        await self._ingest_outage.wait(error)

    async def _ingest(self, batch: list[Delivery]) -> IngestReport:
        return await asyncio.to_thread(
            ingest_batch, self.store, batch, self.ring, self.root, self.clock.now(), self.name
        )

    async def _one_by_one(self, batch: list[Delivery]) -> IngestReport:
        return reduce(IngestReport.__add__, [await self._one(delivery) for delivery in batch], NOTHING)

    async def _one(self, delivery: Delivery) -> IngestReport:
        """One delivery stored, or set aside if it fails on its own; the store's outages waited out."""
        while True:
            try:
                report = await self._ingest([delivery])
            except StoreUnavailable as e:
                await self._wait_out(e)
                continue
            except Exception as e:
                try:
                    now = self.clock.now()
                    report = await asyncio.to_thread(quarantine_unprocessable, self.store, delivery, e, now, self.root)
                except StoreUnavailable as down:
                    await self._wait_out(down)
                    continue
                except Exception as worse:  # not even set aside: hold it, as in an outage
                    log.exception("a message could not be set aside either; holding it")
                    self.totals.errors.append(repr(worse))
                    await self._wait_out(StoreUnavailable(f"could not set a message aside: {type(worse).__name__}"))
                    continue
            self._ingest_outage.over()
            return report
