"""The consumer's usage as bars: a day's 96 intervals or a month's days, in kWh or in rupees.

Pure: exact figures in (Wh, paise), geometry and labels out. Pixel positions are floats (only
drawing); every figure shown stays exact (`Decimal` from integer Wh or paise).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar, Literal

from bijli.web.bars import Box, Frame, Framed, Tick, kwh_level, scale
from bijli.web.display import rupees_text

Unit = Literal["kwh", "rs"]
FRAME = Frame(width=960, height=300, left=64, right=16, top=24, bottom=40)
NICE = (Decimal(1), Decimal(2), Decimal(5))
"""A gridline step is one of these times a power of ten, a whole Wh or paisa at the least."""
TICKS = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class Bar(Box):
    label: str
    """What the slot is: ``14:15 to 14:30`` or ``04 Dec``."""
    value: str
    """Its figure as shown: ``0.125`` kWh or ``₹0.82``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageChart(Framed):
    """The usage of a day or a month, in kWh or in rupees."""

    frame: ClassVar[Frame] = FRAME

    unit: Unit
    bars: list[Bar]
    levels: list[Tick]
    marks: list[Tick]
    total: str
    """The sum of the measured bars, as shown (estimates left out)."""


def shown(amount: int, unit: Unit) -> str:
    """Wh as kWh to the Wh (``1.250``), or paise as rupees (``₹1,250.00``)."""
    if unit == "rs":
        return rupees_text(amount)
    return f"{(Decimal(amount) / 1000).quantize(Decimal('0.001'))}"


def _rupees_level(paise: Decimal) -> str:
    """A gridline's rupees without trailing zeros: 250 paise -> ``₹2.5``."""
    return f"₹{paise / 100:f}".rstrip("0").rstrip(".") if paise % 100 else f"₹{int(paise) // 100}"


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
    plot = FRAME.plot(slots)
    axis = scale(max(amounts.values(), default=0), NICE, TICKS, finest=Decimal(1))
    bars = []
    for slot in sorted(amounts):
        bars.append(
            plot.bar(
                Bar,
                slot,
                amounts[slot],
                axis,
                estimated=slot in estimated,
                label=labels[slot],
                value=shown(amounts[slot], unit),
            )
        )
    levels = plot.levels(axis, _rupees_level if unit == "rs" else kwh_level)
    ticks = [Tick(position=plot.slot_x(slot + 0.5), label=text) for slot, text in sorted(marks.items())]
    total = sum(a for s, a in amounts.items() if s not in estimated)
    return UsageChart(unit=unit, bars=bars, levels=levels, marks=ticks, total=shown(total, unit))
