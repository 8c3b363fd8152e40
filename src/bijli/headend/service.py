"""The head-end loop: take a batch, store it, acknowledge it, repeat."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from bijli.adapters.db.store import Store
from bijli.headend.handlers import IngestReport, ingest_batch, quarantine_unprocessable
from bijli.headend.model import KeyRing
from bijli.headend.ports import Delivery, Uplink
from bijli.headend.settlement import SettleReport, settle
from bijli.kernel.clock import Clock

log = logging.getLogger(__name__)


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
    errors: list[str] = field(default_factory=list)

    def add(self, report: IngestReport) -> None:
        self.batches += 1
        self.received += report.received
        self.readings_stored += report.readings_stored
        self.readings_duplicate += report.readings_duplicate
        self.quarantined += report.quarantined
        self.readings_replaced += report.readings_replaced
        self.write_s += report.write_s


SETTLE_AT_LEAST_EVERY_S = 30.0
"""Under a steady flood the head-end still settles a batch this often (it settles in lulls)."""
SETTLE_BATCHES = 1
"""Queued ingest batches settled at a time (small, so new messages do not wait long)."""


class HeadEnd:
    """Takes meters' frames off an uplink into the store, acknowledging after commit.

    What it stores is then settled (validated, charged, added up) whenever the uplink has
    nothing waiting, and at least every SETTLE_AT_LEAST_EVERY_S: bursts are taken first.
    """

    def __init__(
        self,
        store: Store,
        uplink: Uplink,
        ring: KeyRing,
        root: str,
        clock: Clock,
        max_batch: int = 2000,
        max_wait_s: float = 0.05,
        name: str = "headend",
        settling: bool = True,
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
        self._lull = asyncio.Event()
        self._settle_lock = asyncio.Lock()
        self._settled_at = time.monotonic()

    async def run(self) -> None:
        """Ingest until cancelled. A batch is acknowledged only after its commit."""
        settler = asyncio.create_task(self._settle_in_lulls()) if self.settling else None
        try:
            while True:
                batch = await self.uplink.next_batch(self.max_batch, self.max_wait_s)
                report = await self._store(batch)
                await self.uplink.ack(batch)
                self.totals.add(report)
                overdue = time.monotonic() - self._settled_at > SETTLE_AT_LEAST_EVERY_S
                if report.readings_stored + report.readings_replaced and (not self.uplink.waiting() or overdue):
                    self._lull.set()
                if settler is not None and settler.done():
                    settler.result()
        finally:
            if settler is not None:
                settler.cancel()

    async def settle_all(self) -> int:
        """Settle everything queued (for runs that need the ledger complete now)."""
        done = 0
        while (report := await self._settle_once(batches=8)).batches:
            done += report.readings
        return done

    async def _settle_in_lulls(self) -> None:
        while True:
            await self._lull.wait()
            try:
                report = await self._settle_once(SETTLE_BATCHES)
            except Exception as e:  # logged; the batches stay queued for the next lull
                log.exception("settlement failed")
                self.totals.errors.append(repr(e))
                await asyncio.sleep(1.0)
                continue
            if not report.batches or self.uplink.waiting():
                self._lull.clear()

    async def _settle_once(self, batches: int) -> SettleReport:
        async with self._settle_lock:
            report = await asyncio.to_thread(settle, self.store, self.clock.now(), batches)
        self._settled_at = time.monotonic()
        self.totals.readings_settled += report.readings
        return report

    async def _store(self, batch: list[Delivery]) -> IngestReport:
        """Store a batch, retrying while the store is down.

        If a batch fails, its deliveries are tried one by one, and one that fails on its own
        is quarantined as unprocessable, so a single bad message never blocks the others.
        """
        while True:
            try:
                return await self._ingest(batch)
            except Exception as e:
                log.exception("batch of %d not stored", len(batch))
                self.totals.errors.append(repr(e))
            try:
                return await self._one_by_one(batch)
            except Exception as e:  # the store itself is failing: wait, then again
                log.exception("store unavailable; retrying")
                self.totals.errors.append(repr(e))
                await asyncio.sleep(1.0)

    async def _ingest(self, batch: list[Delivery]) -> IngestReport:
        return await asyncio.to_thread(
            ingest_batch, self.store, batch, self.ring, self.root, self.clock.now(), self.name
        )

    async def _one_by_one(self, batch: list[Delivery]) -> IngestReport:
        reports = []
        for delivery in batch:
            try:
                reports.append(await self._ingest([delivery]))
            except Exception as e:
                now = self.clock.now()
                reports.append(await asyncio.to_thread(quarantine_unprocessable, self.store, delivery, e, now))
        return IngestReport(
            received=sum(r.received for r in reports),
            readings_stored=sum(r.readings_stored for r in reports),
            readings_duplicate=sum(r.readings_duplicate for r in reports),
            events_stored=sum(r.events_stored for r in reports),
            quarantined=sum(r.quarantined for r in reports),
        )
