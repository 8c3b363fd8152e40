"""The consumer's usage as bars: a day's 96 intervals or a month's days, in kWh or in rupees.

Pure: exact figures in (Wh, paise), geometry and labels out. Pixel positions are floats (only
drawing); every figure shown stays exact (`Decimal` from integer Wh or paise).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Literal

from bijli.web.display import rupees_text

Unit = Literal["kwh", "rs"]
WIDTH, HEIGHT = 960, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 24, 40
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
NICE = (1, 2, 5, 10)
TICKS = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    """What the slot is: ``14:15 to 14:30`` or ``04 Dec``."""
    value: str
    """Its figure as shown: ``0.125`` kWh or ``₹0.82``."""
    estimated: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageChart:
    unit: Unit
    bars: list[Bar]
    levels: list[Tick]
    marks: list[Tick]
    total: str
    """The sum of the measured bars, as shown (estimates left out)."""
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    plot_width: int = PLOT_W

    @property
    def baseline(self) -> int:
        return TOP + PLOT_H


def shown(amount: int, unit: Unit) -> str:
    """Wh as kWh to the Wh (``1.250``), or paise as rupees (``₹1,250.00``)."""
    if unit == "rs":
        return rupees_text(amount)
    return f"{(Decimal(amount) / 1000).quantize(Decimal('0.001'))}"


def _step(top: int) -> int:
    """A round gridline step (1, 2 or 5 times a power of ten) so that about `TICKS` lines cover `top`."""
    target = max(top, 1) / TICKS
    power = 1
    while True:
        for mult in NICE:
            if mult * power >= target:
                return mult * power
        power *= 10


def _level(amount: int, unit: Unit) -> str:
    if unit == "rs":
        return f"₹{Decimal(amount) / 100:f}".rstrip("0").rstrip(".") if amount % 100 else f"₹{amount // 100}"
    return format((Decimal(amount) / 1000).normalize(), "f")


def usage_chart(
    slots: int,
    amounts: Mapping[int, int],
    unit: Unit,
    labels: Sequence[str],
    marks: Mapping[int, str],
    estimated: frozenset[int] = frozenset(),
) -> UsageChart:
    """Bars for `slots` places (``amounts``: slot -> Wh or paise; missing slots stay empty),
    `labels` naming each slot, `marks` the slots labelled along the bottom."""
    slot_w = PLOT_W / slots
    bar_w = slot_w * 0.72
    peak = max(amounts.values(), default=0)
    step = _step(peak)
    steps = max(1, int((Decimal(max(peak, 1)) / step).to_integral_value(rounding=ROUND_CEILING)))
    top = step * steps
    bars = []
    for slot in sorted(amounts):
        amount = amounts[slot]
        height = PLOT_H * amount / top
        if slot in estimated:
            height = max(height, 3.0)  # an estimate of nothing still shows where the gap is
        bars.append(
            Bar(
                x=LEFT + slot * slot_w + (slot_w - bar_w) / 2,
                y=TOP + PLOT_H - height,
                width=bar_w,
                height=height,
                label=labels[slot],
                value=shown(amount, unit),
                estimated=slot in estimated,
            )
        )
    levels = [Tick(position=TOP + PLOT_H - PLOT_H * i / steps, label=_level(step * i, unit)) for i in range(steps + 1)]
    ticks = [Tick(position=LEFT + slot * slot_w + slot_w / 2, label=text) for slot, text in sorted(marks.items())]
    total = sum(a for s, a in amounts.items() if s not in estimated)
    return UsageChart(unit=unit, bars=bars, levels=levels, marks=ticks, total=shown(total, unit))
