"""Frames for tests, sealed the way a meter seals them."""

from __future__ import annotations

from datetime import datetime

from bijli.kernel.time import epoch
from bijli.protocol import topics
from bijli.protocol.codec import seal
from bijli.protocol.frames import PROTOCOL_VERSION, IntervalRecord, ReadingFrame
from bijli.protocol.keys import SiteKeys


def reading(
    site: SiteKeys, meter_id: str, fc: int, start: datetime, wh: int = 120, total: int = 5_000_000, root: str = "bijli"
) -> tuple[str, bytes]:
    """(topic, payload) of a one-interval reading frame sealed with the meter's key."""
    record = IntervalRecord(
        start=epoch(start),
        import_wh=wh,
        import_vah=wh + 10,
        export_wh=0,
        voltage_dv=2310,
        current_ma=2100,
        import_wh_total=total,
    )
    frame = ReadingFrame(v=PROTOCOL_VERSION, m=meter_id, fc=fc, ts=epoch(start) + 960, intervals=[record])
    return topics.uplink(root, meter_id, "reading"), seal(site.frame_key(meter_id), frame)
