"""A case's chart: the incident's IST day of 15-minute consumption (`bijli.web.chart`'s
geometry), with a line at each of the meter's events, as a self-contained SVG."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from bijli.adapters.db.queries import ReadingView
from bijli.kernel.time import INTERVAL, INTERVALS_PER_DAY, IST, ist_day, ist_midnight
from bijli.vigilance.ports import IntervalFacts, StoredEvent
from bijli.web.chart import day_chart


def case_svg(
    incident_at: datetime, intervals: Sequence[IntervalFacts], events: Sequence[StoredEvent], title: str
) -> str:
    """The SVG of the incident's IST day: a bar per interval (estimates paler), a red line at
    each event with its code, gridlines in kWh and hours in IST."""
    day = ist_day(incident_at)
    chart = day_chart(
        day,
        [
            ReadingView(
                interval_start=i.start,
                import_wh=i.import_wh,
                import_wh_total=0,
                voltage_dv=i.voltage_dv,
                current_ma=i.current_ma,
                quality=i.quality,
            )
            for i in intervals
        ],
    )
    start = ist_midnight(day)
    slot_w = chart.plot_width / INTERVALS_PER_DAY
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {chart.width} {chart.height}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for level in chart.levels:
        parts.append(
            f'<line x1="{chart.left}" x2="{chart.left + chart.plot_width:.1f}" y1="{level.position:.1f}" '
            f'y2="{level.position:.1f}" stroke="#ddd"/>'
            f'<text x="{chart.left - 6}" y="{level.position + 4:.1f}" text-anchor="end" font-size="11">'
            f"{level.label}</text>"
        )
    for bar in chart.bars:
        fill = "#9bb7d4" if bar.estimated else "#1f5f99"
        parts.append(
            f'<rect x="{bar.x:.1f}" y="{bar.y:.1f}" width="{bar.width:.1f}" height="{bar.height:.1f}" fill="{fill}">'
            f"<title>{escape(bar.label)}</title></rect>"
        )
    for hour in chart.hours:
        parts.append(
            f'<text x="{hour.position:.1f}" y="{chart.baseline + 18:.1f}" text-anchor="middle" font-size="11">'
            f"{hour.label}</text>"
        )
    for e in events:
        offset = (e.occurred_at - start) / INTERVAL
        if not 0 <= offset < INTERVALS_PER_DAY:
            continue
        x = chart.left + offset * slot_w
        local = e.occurred_at.astimezone(IST)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{chart.top}" y2="{chart.baseline:.1f}" stroke="#c0392b" '
            f'stroke-width="2"><title>event {e.code} at {local:%H:%M} IST</title></line>'
            f'<text x="{x + 3:.1f}" y="{chart.top - 6}" font-size="11" fill="#c0392b">{e.code}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
