"""A meter's reading through the real head-end path: screened, stored and settled."""

from __future__ import annotations

from datetime import datetime

from bijli.bootstrap import Platform
from bijli.headend.handlers import ingest_batch
from bijli.headend.ports import Delivery
from bijli.mdm.handlers import settle_all
from tests.support.frames import reading


def deliver_reading(p: Platform, meter_id: str, fc: int, start: datetime, wh: int, total: int, now: datetime) -> None:
    """One interval's reading frame, sealed by the meter, ingested and settled at `now`."""
    topic, payload = reading(p.settings.site_keys, meter_id, fc, start, wh=wh, total=total)
    ingest_batch(p.store, [Delivery(topic, payload)], p.ring, "bijli", now)
    settle_all(p.store, now)
