"""A household's own data to take away: a month of 15-minute readings as CSV and as Green
Button (ESPI, NAESB REQ.21) XML. The writers are pure: readings in, text out."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated
from xml.etree import ElementTree as ET

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


def readings_csv(readings: Sequence[ReadingView]) -> str:
    """One row per interval, times in IST (ISO 8601 with +05:30), energy in kWh to the Wh."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for r in readings:
        start = r.interval_start.astimezone(IST)
        writer.writerow(
            (start.isoformat(), (start + INTERVAL).isoformat(), f"{Decimal(r.import_wh) / 1000:.3f}", r.quality)
        )
    return out.getvalue()


def _entry(feed: ET.Element, title: str, entry_id: str, updated: str) -> ET.Element:
    entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
    ET.SubElement(entry, f"{{{ATOM}}}id").text = entry_id
    ET.SubElement(entry, f"{{{ATOM}}}title").text = title
    ET.SubElement(entry, f"{{{ATOM}}}updated").text = updated
    return ET.SubElement(entry, f"{{{ATOM}}}content")


def green_button(meter_id: str, start: datetime, end: datetime, readings: Sequence[ReadingView], now: datetime) -> str:
    """An ESPI Atom feed: the meter as a UsagePoint, its ReadingType (Wh delivered, 900 s
    intervals) and one IntervalBlock of the actual readings in [start, end) (estimates left out)."""
    ET.register_namespace("", ATOM)
    ET.register_namespace("espi", ESPI)
    updated = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    feed = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed, f"{{{ATOM}}}id").text = f"urn:bijli:{meter_id}:{start:%Y-%m}"
    ET.SubElement(feed, f"{{{ATOM}}}title").text = f"bijli meter {meter_id}, {start.astimezone(IST):%B %Y}"
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = updated

    point = ET.SubElement(_entry(feed, f"Meter {meter_id}", f"urn:bijli:{meter_id}", updated), f"{{{ESPI}}}UsagePoint")
    kind = ET.SubElement(point, f"{{{ESPI}}}ServiceCategory")
    ET.SubElement(kind, f"{{{ESPI}}}kind").text = "0"  # electricity

    reading_type = ET.SubElement(
        _entry(feed, "Energy delivered, 15 minutes", f"urn:bijli:{meter_id}:reading-type", updated),
        f"{{{ESPI}}}ReadingType",
    )
    for name, value in (
        ("accumulationBehaviour", "4"),  # delta data: each interval's own energy
        ("commodity", "1"),  # electricity, secondary metered
        ("dataQualifier", "12"),  # normal
        ("flowDirection", "1"),  # forward: delivered to the household
        ("intervalLength", str(int(INTERVAL.total_seconds()))),
        ("kind", "12"),  # energy
        ("powerOfTenMultiplier", "0"),
        ("uom", UOM_WH),
    ):
        ET.SubElement(reading_type, f"{{{ESPI}}}{name}").text = value

    block = ET.SubElement(
        _entry(feed, "Readings", f"urn:bijli:{meter_id}:{start:%Y-%m}:readings", updated), f"{{{ESPI}}}IntervalBlock"
    )
    period = ET.SubElement(block, f"{{{ESPI}}}interval")
    ET.SubElement(period, f"{{{ESPI}}}duration").text = str(int((end - start).total_seconds()))
    ET.SubElement(period, f"{{{ESPI}}}start").text = str(int(start.timestamp()))
    for r in readings:
        if r.quality == "estimated":
            continue
        reading = ET.SubElement(block, f"{{{ESPI}}}IntervalReading")
        span = ET.SubElement(reading, f"{{{ESPI}}}timePeriod")
        ET.SubElement(span, f"{{{ESPI}}}duration").text = str(int(INTERVAL.total_seconds()))
        ET.SubElement(span, f"{{{ESPI}}}start").text = str(int(r.interval_start.timestamp()))
        ET.SubElement(reading, f"{{{ESPI}}}value").text = str(r.import_wh)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(feed, encoding="unicode")


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
