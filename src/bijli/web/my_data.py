"""A household's own data to take away: a month of 15-minute readings as CSV and as Green
Button (ESPI, NAESB REQ.21) XML. The writers are pure: readings in, text out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Annotated
from xml.sax.saxutils import escape

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import Response

from bijli.adapters.db.queries import ReadingView
from bijli.kernel.time import INTERVAL, IST, ist_midnight
from bijli.web.auth import Auth
from bijli.web.context import WebContext
from bijli.web.limits import MONTH_PATTERN

ATOM = "http://www.w3.org/2005/Atom"
ESPI = "http://naesb.org/espi"
CSV_HEADER = ("interval_start_ist", "interval_end_ist", "kwh", "quality")
Month = Annotated[str, Query(pattern=MONTH_PATTERN, description="YYYY-MM, an IST month.")]
UOM_WH = "72"
"""ESPI's unit of measure for watt-hours (with a power-of-ten multiplier of 0)."""


def month_window(month: str) -> tuple[datetime, datetime]:
    """The IST month ``YYYY-MM`` as [start, end) instants."""
    first = date.fromisoformat(f"{month}-01")
    following = (first + timedelta(days=32)).replace(day=1)
    return ist_midnight(first), ist_midnight(following)


def _kwh(wh: int) -> str:
    """Integer Wh as kWh with three places, exactly (no float)."""
    whole, part = divmod(abs(wh), 1000)
    return f"{'-' if wh < 0 else ''}{whole}.{part:03d}"


def readings_csv(readings: Sequence[ReadingView]) -> str:
    """One row per interval, times in IST (ISO 8601 with +05:30), energy in kWh to the Wh.

    A month is some 2,900 rows: each is one f-string (the quality is a plain word, nothing to
    quote), and an interval's end is the next one's start, written once."""
    stamps: dict[datetime, str] = {}

    def stamp(at: datetime) -> str:
        found = stamps.get(at)
        if found is None:
            found = stamps[at] = at.astimezone(IST).isoformat()
        return found

    lines = [",".join(CSV_HEADER)]
    lines += [
        f"{stamp(r.interval_start)},{stamp(r.interval_start + INTERVAL)},{_kwh(r.import_wh)},{r.quality}"
        for r in readings
    ]
    lines.append("")
    return "\n".join(lines)


def _entry(title: str, entry_id: str, updated: str, content: str) -> str:
    return (
        f"<entry><id>{escape(entry_id)}</id><title>{escape(title)}</title><updated>{updated}</updated>"
        f"<content>{content}</content></entry>"
    )


READING_TYPE = "".join(
    f"<espi:{name}>{value}</espi:{name}>"
    for name, value in (
        ("accumulationBehaviour", "4"),  # delta data: each interval's own energy
        ("commodity", "1"),  # electricity, secondary metered
        ("dataQualifier", "12"),  # normal
        ("flowDirection", "1"),  # forward: delivered to the household
        ("intervalLength", str(int(INTERVAL.total_seconds()))),
        ("kind", "12"),  # energy
        ("powerOfTenMultiplier", "0"),
        ("uom", UOM_WH),
    )
)


def green_button(meter_id: str, start: datetime, end: datetime, readings: Sequence[ReadingView], now: datetime) -> str:
    """An ESPI Atom feed: the meter as a UsagePoint, its ReadingType (Wh delivered, 900 s
    intervals) and one IntervalBlock of the actual readings in [start, end) (estimates left out).

    Written as text (a month is some 2,900 readings: an element tree of them costs ten times
    more); every text that is not a number goes through `escape`."""
    updated = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    month = f"{start.astimezone(IST):%Y-%m}"
    seconds = int(INTERVAL.total_seconds())
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<feed xmlns="{ATOM}" xmlns:espi="{ESPI}">',
        f"<id>{escape(f'urn:bijli:{meter_id}:{month}')}</id>",
        f"<title>{escape(f'bijli meter {meter_id}, {start.astimezone(IST):%B %Y}')}</title>",
        f"<updated>{updated}</updated>",
        _entry(
            f"Meter {meter_id}",
            f"urn:bijli:{meter_id}",
            updated,
            "<espi:UsagePoint><espi:ServiceCategory><espi:kind>0</espi:kind></espi:ServiceCategory></espi:UsagePoint>",
        ),
        _entry(
            "Energy delivered, 15 minutes",
            f"urn:bijli:{meter_id}:reading-type",
            updated,
            f"<espi:ReadingType>{READING_TYPE}</espi:ReadingType>",
        ),
    ]
    block = [
        "<espi:IntervalBlock><espi:interval>"
        f"<espi:duration>{int((end - start).total_seconds())}</espi:duration>"
        f"<espi:start>{int(start.timestamp())}</espi:start></espi:interval>"
    ]
    block += [
        f"<espi:IntervalReading><espi:timePeriod><espi:duration>{seconds}</espi:duration>"
        f"<espi:start>{int(r.interval_start.timestamp())}</espi:start></espi:timePeriod>"
        f"<espi:value>{int(r.import_wh)}</espi:value></espi:IntervalReading>"
        for r in readings
        if r.quality != "estimated"
    ]
    block.append("</espi:IntervalBlock>")
    parts.append(_entry("Readings", f"urn:bijli:{meter_id}:{month}:readings", updated, "".join(block)))
    parts.append("</feed>")
    return "".join(parts)


def router(ctx: WebContext) -> APIRouter:
    """The downloads of a meter's data."""
    pages = APIRouter(include_in_schema=False)
    one_meter = [Depends(Auth(ctx).meter())]

    def month_readings(meter_id: str, month: str) -> tuple[datetime, datetime, list[ReadingView]]:
        if ctx.reads.meter(meter_id, balance=False) is None:
            raise HTTPException(status_code=404, detail=f"meter {meter_id} not found")
        start, end = month_window(month)
        return start, end, ctx.platform.queries.readings(meter_id, start, end)

    @pages.get("/consumer/{meter_id}/data.csv", dependencies=one_meter)
    def as_csv(meter_id: Annotated[str, Path(max_length=32)], month: Month) -> Response:
        _, _, readings = month_readings(meter_id, month)
        name = f"bijli-{meter_id}-{month}.csv"
        return Response(
            readings_csv(readings),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @pages.get("/consumer/{meter_id}/data.xml", dependencies=one_meter)
    def as_green_button(meter_id: Annotated[str, Path(max_length=32)], month: Month) -> Response:
        start, end, readings = month_readings(meter_id, month)
        name = f"bijli-{meter_id}-{month}-green-button.xml"
        return Response(
            green_button(meter_id, start, end, readings, ctx.clock.now()),
            media_type="application/atom+xml",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    return pages
