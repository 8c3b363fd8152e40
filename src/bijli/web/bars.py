"""What the pages' bar charts share: a round gridline step over the peak, bars standing in
their slots, gridlines labelled.

Pure: exact amounts in (integer Wh or paise), pixel positions out. Positions are floats (only
drawing); the step and the levels stay exact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any, ClassVar, TypeVar


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick:
    """A label along an axis, at its pixel position."""

    position: float
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Box:
    """Where one bar is drawn, and whether it shows an estimate."""

    x: float
    y: float
    width: float
    height: float
    estimated: bool = False
    """Filled in by meter data management until the meter's own reading arrives; not billed."""


B = TypeVar("B", bound=Box)
ESTIMATE_MIN_H = 3.0
"""An estimate's bar is at least this tall: an estimate of nothing still shows where the gap is."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Scale:
    """Gridlines `step` apart, `steps` of them above zero: the top reaches the peak."""

    step: Decimal
    steps: int

    @property
    def top(self) -> Decimal:
        return self.step * self.steps


def scale(peak: int, nice: Sequence[Decimal], wanted: int, finest: Decimal | None = None) -> Scale:
    """A round step (one of `nice` times a power of ten, never below `finest`) so that about
    `wanted` gridlines cover `peak`."""
    target = Decimal(max(peak, 1)) / wanted
    power = Decimal(1).scaleb(target.adjusted())
    if finest is not None:
        power = max(power, finest)
    step = next((m * power for m in (*nice, Decimal(10)) if m * power >= target), 10 * power)
    steps = max(1, int((Decimal(max(peak, 1)) / step).to_integral_value(rounding=ROUND_CEILING)))
    return Scale(step=step, steps=steps)


@dataclass(frozen=True, slots=True, kw_only=True)
class Plot:
    """The plotting area inside a chart's margins, cut into `slots` equal places along x."""

    left: int
    top: int
    width: int
    height: int
    slots: int
    fill: float = 0.72
    """How much of its slot a bar takes."""

    @property
    def slot_width(self) -> float:
        return self.width / self.slots

    def slot_x(self, slot: float) -> float:
        """Where a slot (or a point within the slots) begins."""
        return self.left + slot * self.slot_width

    def bar(self, kind: type[B], slot: int, amount: int, scale: Scale, *, estimated: bool, **fields: Any) -> B:
        """The bar of `amount` in its slot, centred (an estimate's at least `ESTIMATE_MIN_H` tall):
        a `kind`, a chart's own bar, its other `fields` given."""
        height = max(float(Decimal(amount) / scale.top) * self.height, ESTIMATE_MIN_H if estimated else 0.0)
        width = self.slot_width * self.fill
        return kind(
            x=self.slot_x(slot) + (self.slot_width - width) / 2,
            y=self.top + self.height - height,
            width=width,
            height=height,
            estimated=estimated,
            **fields,
        )

    def levels(self, scale: Scale, label: Callable[[Decimal], str]) -> list[Tick]:
        """A gridline at every step from zero to the top, each labelled."""
        return [
            Tick(position=self.top + self.height - self.height * i / scale.steps, label=label(scale.step * i))
            for i in range(scale.steps + 1)
        ]


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """A chart's size in pixels and its margins around the plot."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int

    @property
    def plot_width(self) -> int:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> int:
        return self.height - self.top - self.bottom

    def plot(self, slots: int) -> Plot:
        """The plotting area, cut into `slots` places."""
        return Plot(left=self.left, top=self.top, width=self.plot_width, height=self.plot_height, slots=slots)


class Framed:
    """A chart as its SVG is drawn: the size and the plot's place, from the chart's `frame`."""

    __slots__ = ()
    frame: ClassVar[Frame]

    @property
    def width(self) -> int:
        return self.frame.width

    @property
    def height(self) -> int:
        return self.frame.height

    @property
    def left(self) -> int:
        return self.frame.left

    @property
    def top(self) -> int:
        return self.frame.top

    @property
    def plot_width(self) -> int:
        return self.frame.plot_width

    @property
    def plot_height(self) -> int:
        return self.frame.plot_height

    @property
    def baseline(self) -> int:
        """Where the bars stand."""
        return self.frame.top + self.frame.plot_height


def kwh_level(wh: Decimal) -> str:
    """A gridline's kWh without trailing zeros: 250 Wh -> ``0.25``."""
    return format((wh / 1000).normalize(), "f")
