"""Energy balance: what a transformer's own meter measured going in against what its
consumers' meters recorded, per interval and per day, added up per feeder and area (pure).

Both sides are compared over the same intervals only (those the transformer's meter read), so
a missing interval never looks like a loss. Consumers' estimates count on the billed side and
are marked; a day is complete when every interval of both sides is in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

from bijli.kernel.time import INTERVALS_PER_DAY

Level = Literal["transformer", "feeder", "area"]
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True, kw_only=True)
class Slot:
    """One interval of one transformer: energy in (its own meter) and energy billed."""

    supplied_wh: int | None
    """What the transformer's meter read (None: no reading for the interval)."""
    supplied_estimated: bool
    billed_wh: int
    """Its consumers' meters' energy, estimates included."""
    billed_estimated_wh: int
    """Of `billed_wh`, what estimates make up."""
    reporting: int
    """Consumer meters with a reading (actual or estimated) for the interval."""
    estimated: int = 0
    """Of `reporting`, the readings VEE estimated."""
    estimated_zero: int = 0
    """Of `estimated`, those of 0 Wh (VEE had no reference day to estimate from, as a rule)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TransformerDay:
    """One transformer's intervals of one IST day (96 slots, in order)."""

    transformer: str
    feeder: str
    area: str
    day: date
    consumers: int
    slots: tuple[Slot, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Balance:
    """Energy in against energy billed for one transformer, feeder or area over one day."""

    level: Level
    subject: str
    day: date
    supplied_wh: int
    supplied_estimated_wh: int
    billed_wh: int
    billed_estimated_wh: int
    intervals: int
    """Transformer-intervals both sides cover (those its meter read)."""
    intervals_expected: int
    consumer_intervals: int
    """Consumer meter-intervals with a reading, of those compared."""
    consumer_intervals_expected: int
    transformers: int = 1

    @property
    def loss_wh(self) -> int:
        return self.supplied_wh - self.billed_wh

    @property
    def loss_pct(self) -> Decimal | None:
        """The loss as a percentage of the energy in, to two places (None: nothing went in)."""
        if self.supplied_wh <= 0:
            return None
        return (Decimal(self.loss_wh * 100) / Decimal(self.supplied_wh)).quantize(CENT, ROUND_HALF_EVEN)

    @property
    def estimated(self) -> bool:
        """Whether any estimate is in either side."""
        return bool(self.supplied_estimated_wh or self.billed_estimated_wh)

    @property
    def complete(self) -> bool:
        """Every interval of the transformer's meter and of every consumer's is in."""
        return self.intervals == self.intervals_expected and self.consumer_intervals == self.consumer_intervals_expected

    @property
    def coverage(self) -> Decimal:
        """Share of the consumer meter-intervals in, over the intervals compared (0 to 1)."""
        if not self.consumer_intervals_expected:
            return Decimal(0)
        return (Decimal(self.consumer_intervals) / Decimal(self.consumer_intervals_expected)).quantize(
            Decimal("0.0001")
        )


def transformer_balance(td: TransformerDay) -> Balance:
    """The day's balance of one transformer, over the intervals its own meter read."""
    compared = [s for s in td.slots if s.supplied_wh is not None]
    return Balance(
        level="transformer",
        subject=td.transformer,
        day=td.day,
        supplied_wh=sum(s.supplied_wh or 0 for s in compared),
        supplied_estimated_wh=sum(s.supplied_wh or 0 for s in compared if s.supplied_estimated),
        billed_wh=sum(s.billed_wh for s in compared),
        billed_estimated_wh=sum(s.billed_estimated_wh for s in compared),
        intervals=len(compared),
        intervals_expected=INTERVALS_PER_DAY,
        consumer_intervals=sum(s.reporting for s in compared),
        consumer_intervals_expected=td.consumers * len(compared),
    )


def added_up(level: Level, subject: str, day: date, parts: Iterable[Balance]) -> Balance:
    """Transformers' balances of one day added up into their feeder's or area's."""
    ps = list(parts)
    return Balance(
        level=level,
        subject=subject,
        day=day,
        supplied_wh=sum(p.supplied_wh for p in ps),
        supplied_estimated_wh=sum(p.supplied_estimated_wh for p in ps),
        billed_wh=sum(p.billed_wh for p in ps),
        billed_estimated_wh=sum(p.billed_estimated_wh for p in ps),
        intervals=sum(p.intervals for p in ps),
        intervals_expected=sum(p.intervals_expected for p in ps),
        consumer_intervals=sum(p.consumer_intervals for p in ps),
        consumer_intervals_expected=sum(p.consumer_intervals_expected for p in ps),
        transformers=sum(p.transformers for p in ps),
    )


def trend(history: Sequence[tuple[date, Decimal]]) -> Decimal | None:
    """How the loss percentage moves, in percentage points a day (least squares over the days
    given, to two places); None with fewer than two days."""
    if len(history) < 2:
        return None
    first = history[0][0]
    xs = [Decimal((d - first).days) for d, _ in history]
    ys = [pct for _, pct in history]
    n = Decimal(len(xs))
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if not sxx:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return (sxy / sxx).quantize(CENT, ROUND_HALF_EVEN)


def kwh(wh: int) -> str:
    """Whole Wh as kWh with three places, exactly, negative too (a meter's gain shows as one)."""
    sign = "-" if wh < 0 else ""
    return f"{sign}{abs(wh) // 1000}.{abs(wh) % 1000:03d}"
