"""One IST day of 15-minute consumption as a bar chart, laid out for server-rendered SVG.

Pure: readings in, geometry and labels out. Pixel positions are floats (they are only
drawing); every energy figure shown stays an exact `Decimal` from integer Wh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, Decimal

from bijli.adapters.db.queries import ReadingView
from bijli.kernel.time import INTERVAL, INTERVALS_PER_DAY, IST, ist_midnight
from bijli.kernel.units import kwh

WIDTH = 960
HEIGHT = 320
LEFT, RIGHT, TOP, BOTTOM = 56, 24, 30, 44
PLOT_W = WIDTH - LEFT - RIGHT
PLOT_H = HEIGHT - TOP - BOTTOM
SLOT_W = PLOT_W / INTERVALS_PER_DAY
BAR_W = SLOT_W * 0.72
HOUR_LABEL_EVERY = 3
NICE_STEPS_WH = (1, 2, 2.5, 5)
"""An axis step is one of these times a power of ten."""
TICKS_WANTED = 4
EN_DASH = "\u2013"
ESTIMATED = "estimated"
"""A reading's quality when meter data management filled the gap."""
ESTIMATE_MIN_H = 3.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Bar:
    """One interval's bar."""

    x: float
    y: float
    width: float
    height: float
    start: datetime
    span: str
    """The interval in IST, e.g. 14:15 to 14:30 (joined by an en dash)."""
    label: str
    """What a screen reader or a hover tells: the span in IST and its kWh."""
    kwh: Decimal
    estimated: bool = False
    """Filled in by meter data management until the meter's own reading arrives; not billed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DayChart:
    """The chart of one IST day."""

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
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    plot_width: float = PLOT_W
    plot_height: int = PLOT_H

    @property
    def baseline(self) -> float:
        return TOP + PLOT_H


def _axis_step_wh(peak_wh: int) -> Decimal:
    """A round gridline step so that about `TICKS_WANTED` lines cover the peak."""
    target = Decimal(max(peak_wh, 1)) / TICKS_WANTED
    power = Decimal(1).scaleb(target.adjusted())
    for mult in (*NICE_STEPS_WH, 10):
        step = Decimal(str(mult)) * power
        if step >= target:
            return step
    return 10 * power  # unreachable: 10 x power always covers the target


def _kwh_label(wh: Decimal) -> str:
    """A gridline's kWh without trailing zeros: 250 Wh -> ``0.25``."""
    return format((wh / 1000).normalize(), "f")


def _slot(moment: datetime, day_start: datetime) -> int:
    return int((moment - day_start) / INTERVAL)


def day_chart(day: date, readings: Sequence[ReadingView]) -> DayChart:
    """Bars for the day's intervals (missing ones are left empty), hour labels in IST, kWh gridlines."""
    day_start = ist_midnight(day)
    in_day = [r for r in readings if 0 <= _slot(r.interval_start, day_start) < INTERVALS_PER_DAY]
    peak_wh = max((r.import_wh for r in in_day), default=0)
    step = _axis_step_wh(peak_wh)
    steps = max(1, int((Decimal(max(peak_wh, 1)) / step).to_integral_value(rounding=ROUND_CEILING)))
    top_wh = step * steps

    bars = []
    for r in in_day:
        slot = _slot(r.interval_start, day_start)
        estimated = r.quality == ESTIMATED
        height = float(Decimal(r.import_wh) / top_wh) * PLOT_H
        if estimated:  # an estimate of nothing still shows where the gap is
            height = max(height, ESTIMATE_MIN_H)
        begin = r.interval_start.astimezone(IST)
        end = (r.interval_start + INTERVAL).astimezone(IST)
        energy = kwh(r.import_wh).quantize(Decimal("0.001"))
        bars.append(
            Bar(
                x=LEFT + slot * SLOT_W + (SLOT_W - BAR_W) / 2,
                y=TOP + PLOT_H - height,
                width=BAR_W,
                height=height,
                start=r.interval_start,
                span=f"{begin:%H:%M}{EN_DASH}{end:%H:%M}",
                label=f"{begin:%H:%M}{EN_DASH}{end:%H:%M} IST: {energy} kWh" + (" (estimated)" if estimated else ""),
                kwh=energy,
                estimated=estimated,
            )
        )
    levels = [Tick(position=TOP + PLOT_H - PLOT_H * i / steps, label=_kwh_label(step * i)) for i in range(steps + 1)]
    hours = [Tick(position=LEFT + h * 4 * SLOT_W, label=f"{h:02d}:00") for h in range(0, 24 + 1, HOUR_LABEL_EVERY)]
    hour_marks = [LEFT + h * 4 * SLOT_W for h in range(25)]
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
