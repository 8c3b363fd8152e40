"""The head-end loop: take a batch, store it, acknowledge it, repeat."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from bijli.adapters.db.store import Store
from bijli.headend.handlers import IngestReport, ingest_batch
from bijli.headend.model import KeyRing
from bijli.headend.ports import Uplink
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
    errors: list[str] = field(default_factory=list)

    def add(self, report: IngestReport) -> None:
        self.batches += 1
        self.received += report.received
        self.readings_stored += report.readings_stored
        self.readings_duplicate += report.readings_duplicate
        self.quarantined += report.quarantined


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
    ) -> None:
        self.store = store
        self.uplink = uplink
        self.ring = ring
        self.root = root
        self.clock = clock
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.totals = IngestTotals()

    async def run(self) -> None:
        """Ingest until cancelled. A batch that fails to commit is not acknowledged."""
        while True:
            batch = await self.uplink.next_batch(self.max_batch, self.max_wait_s)
            while True:
                try:
                    report = await asyncio.to_thread(
                        ingest_batch, self.store, batch, self.ring, self.root, self.clock.now()
                    )
                    break
                except Exception as e:  # the store failed; keep the batch and try again
                    log.exception("batch of %d not stored; retrying", len(batch))
                    self.totals.errors.append(repr(e))
                    await asyncio.sleep(1.0)
            await self.uplink.ack(batch)
            self.totals.add(report)
