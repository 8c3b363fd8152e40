"""What meters send, through the real head-end path: a reading screened, stored and settled;
events stored as its ingest stores them."""

from __future__ import annotations

from datetime import datetime

from bijli.adapters.db.store import Store
from bijli.bootstrap import Platform
from bijli.headend.handlers import ingest_batch
from bijli.headend.ports import Delivery
from bijli.headend.records import MeterEvent
from bijli.kernel.time import epoch
from bijli.mdm.handlers import settle_all
from tests.support.frames import reading


def deliver_reading(p: Platform, meter_id: str, fc: int, start: datetime, wh: int, total: int, now: datetime) -> None:
    """One interval's reading frame, sealed by the meter, ingested and settled at `now`."""
    topic, payload = reading(p.settings.site_keys, meter_id, fc, start, wh=wh, total=total)
    ingest_batch(p.store, [Delivery(topic, payload)], p.ring, "bijli", now)
    settle_all(p.store, now)


def receive_events(store: Store, received_at: datetime, *events: tuple[str, int, datetime]) -> None:
    """What the head-end's ingest writes for these (meter, event code, occurred at), received at `received_at`."""
    with store.transaction() as uow:
        uow.received.add_events(
            [MeterEvent(meter_id=m, code=c, occurred_at=epoch(at)) for m, c, at in events], received_at
        )
