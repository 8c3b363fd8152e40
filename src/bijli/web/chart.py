"""One IST day of 15-minute consumption as a bar chart, laid out for server-rendered SVG.

Pure: readings in, geometry and labels out. Pixel positions are floats (they are only
drawing); every energy figure shown stays an exact `Decimal` from integer Wh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar

from bijli.adapters.db.queries import ReadingView
from bijli.kernel.time import INTERVAL, INTERVALS_PER_DAY, IST, ist_midnight
from bijli.kernel.units import kwh
from bijli.web.bars import Box, Frame, Framed, Tick, kwh_level, scale

FRAME = Frame(width=960, height=320, left=56, right=24, top=30, bottom=44)
PLOT = FRAME.plot(INTERVALS_PER_DAY)
HOUR_LABEL_EVERY = 3
NICE_STEPS_WH = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5))
"""An axis step is one of these times a power of ten."""
TICKS_WANTED = 4
EN_DASH = "\u2013"
ESTIMATED = "estimated"
"""A reading's quality when meter data management filled the gap."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Bar(Box):
    """One interval's bar."""

    start: datetime
    span: str
    """The interval in IST, e.g. 14:15 to 14:30 (joined by an en dash)."""
    label: str
    """What a screen reader or a hover tells: the span in IST and its kWh."""
    kwh: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class DayChart(Framed):
    """The chart of one IST day."""

    frame: ClassVar[Frame] = FRAME

    day: date
    bars: list[Bar]
    hours: list[Tick]
    """Hour labels along the bottom, x positions."""
    hour_marks: list[float]
    """A small tick at every hour, x positions."""
    levels: list[Tick]
    """kWh gridlines, y positions."""
    total_kwh: Decimal
    """What the meter measured in the day (estimates left out)."""
    estimated_kwh: Decimal
    """What estimates add, until the real readings replace them."""
    peak: Bar | None
    intervals_received: int
    """Intervals the meter's own readings cover."""
    intervals_estimated: int


def _slot(moment: datetime, day_start: datetime) -> int:
    return int((moment - day_start) / INTERVAL)


def day_chart(day: date, readings: Sequence[ReadingView]) -> DayChart:
    """Bars for the day's intervals (missing ones are left empty), hour labels in IST, kWh gridlines."""
    day_start = ist_midnight(day)
    in_day = [r for r in readings if 0 <= _slot(r.interval_start, day_start) < INTERVALS_PER_DAY]
    axis = scale(max((r.import_wh for r in in_day), default=0), NICE_STEPS_WH, TICKS_WANTED)
    bars = []
    for r in in_day:
        estimated = r.quality == ESTIMATED
        begin = r.interval_start.astimezone(IST)
        end = (r.interval_start + INTERVAL).astimezone(IST)
        energy = kwh(r.import_wh).quantize(Decimal("0.001"))
        bars.append(
            PLOT.bar(
                Bar,
                _slot(r.interval_start, day_start),
                r.import_wh,
                axis,
                estimated=estimated,
                start=r.interval_start,
                span=f"{begin:%H:%M}{EN_DASH}{end:%H:%M}",
                label=f"{begin:%H:%M}{EN_DASH}{end:%H:%M} IST: {energy} kWh" + (" (estimated)" if estimated else ""),
                kwh=energy,
            )
        )
    levels = PLOT.levels(axis, kwh_level)
    hours = [Tick(position=PLOT.slot_x(h * 4), label=f"{h:02d}:00") for h in range(0, 24 + 1, HOUR_LABEL_EVERY)]
    hour_marks = [PLOT.slot_x(h * 4) for h in range(25)]
    measured = [b for b in bars if not b.estimated]
    peak = max(measured, key=lambda b: b.kwh, default=None)
    return DayChart(
        day=day,
        bars=bars,
        hours=hours,
        hour_marks=hour_marks,
        levels=levels,
        total_kwh=sum((b.kwh for b in measured), Decimal("0.000")),
        estimated_kwh=sum((b.kwh for b in bars if b.estimated), Decimal("0.000")),
        peak=peak if peak is not None and peak.kwh > 0 else None,
        intervals_received=len(measured),
        intervals_estimated=len(bars) - len(measured),
    )
