"""The head-end loop: take a batch, store it, acknowledge it, repeat."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from bijli.adapters.db.store import Store
from bijli.headend.handlers import IngestReport, ingest_batch, quarantine_unprocessable
from bijli.headend.model import KeyRing
from bijli.headend.ports import Delivery, Uplink
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
    errors: list[str] = field(default_factory=list)

    def add(self, report: IngestReport) -> None:
        self.batches += 1
        self.received += report.received
        self.readings_stored += report.readings_stored
        self.readings_duplicate += report.readings_duplicate
        self.quarantined += report.quarantined
        self.readings_replaced += report.readings_replaced


class HeadEnd:
    """Takes meters' frames off an uplink into the store, acknowledging after commit."""

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
    ) -> None:
        self.store = store
        self.uplink = uplink
        self.ring = ring
        self.root = root
        self.clock = clock
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.name = name
        self.totals = IngestTotals()

    async def run(self) -> None:
        """Ingest until cancelled. A batch is acknowledged only after its commit."""
        while True:
            batch = await self.uplink.next_batch(self.max_batch, self.max_wait_s)
            report = await self._store(batch)
            await self.uplink.ack(batch)
            self.totals.add(report)

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
