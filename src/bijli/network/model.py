"""Which transformers' losses are beyond what the network explains (pure; thresholds as data
in `losses.toml`).

A transformer is compared with its own earlier days, not with its neighbours: its street
lights, its no-load loss and its meters' biases are its own steady pattern, the same every
day, while a hook is new. Each day's losses are split by `losses.fit` (a round-the-clock
constant, the load square, the night's two halves); the evening beyond the morning
(`evening_w`: what the lights do not explain) and the constant are set against their medians
over the transformer's earlier days that were judged and not flagged (its usual). Only the
intervals both sides have whole are compared: an interval where a consumer's reading is still
missing (an offline meter before VEE has estimated it) is left out, so a missing reading never
looks like theft. Without an earlier day a higher bar stands in for the usual.
"""

from __future__ import annotations

import statistics
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cache, lru_cache
from importlib import resources

from bijli.kernel.time import INTERVALS_PER_DAY
from bijli.network.balance import Balance, Slot, TransformerDay, transformer_balance
from bijli.network.losses import Fit, fit, is_night

THRESHOLDS_FILE = "losses.toml"
USUAL_DAYS = 7
"""Earlier days a transformer's usual is taken from (the most recent ones not flagged)."""
USUAL_LOOKBACK_DAYS = 14
"""How far back the days a transformer's usual may come from are read."""
WHOLE_DAY = INTERVALS_PER_DAY - 8
"""Intervals compared for a day to count as whole (two hours may be missing)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Thresholds:
    """When a transformer is flagged."""

    excess_w: int
    """The evening beyond the morning, above the transformer's usual by this much: flagged."""
    first_day_w: int
    """Without an earlier day to compare, the evening beyond the morning by this much."""
    constant_w: int
    """The round-the-clock constant above the transformer's usual by this much: flagged."""
    first_day_constant_w: int
    """Without an earlier day, a round-the-clock constant of this much."""
    min_intervals: int
    min_coverage: Decimal
    min_evening_intervals: int
    """A sustained excess: the evening is judged once this many of its intervals are compared."""
    estimate_doubt: Decimal
    """Share of the consumers' estimated energy a bar rises by (an estimate may be that far off)."""


def parse_thresholds(text: str) -> Thresholds:
    """Thresholds from the TOML text of a `losses.toml`; `ValueError` names what is wrong."""
    data = tomllib.loads(text)
    try:
        found = Thresholds(
            excess_w=int(data["excess_w"]),
            first_day_w=int(data["first_day_w"]),
            constant_w=int(data["constant_w"]),
            first_day_constant_w=int(data["first_day_constant_w"]),
            min_intervals=int(data["min_intervals"]),
            min_coverage=Decimal(str(data["min_coverage"])),
            min_evening_intervals=int(data["min_evening_intervals"]),
            estimate_doubt=Decimal(str(data["estimate_doubt"])),
        )
    except (KeyError, ArithmeticError, ValueError) as e:
        raise ValueError(f"losses thresholds: {e!r}") from e
    watts = (found.excess_w, found.first_day_w, found.constant_w, found.first_day_constant_w)
    if (
        min(watts) <= 0
        or not 0 < found.min_coverage <= 1
        or found.min_intervals < 12
        or not 1 <= found.min_evening_intervals <= INTERVALS_PER_DAY // 4
        or not 0 <= found.estimate_doubt <= 1
    ):
        raise ValueError("losses thresholds out of range")
    return found


@cache
def thresholds() -> Thresholds:
    """The shipped thresholds (`network/losses.toml`), read once."""
    return parse_thresholds(resources.files(__package__).joinpath(THRESHOLDS_FILE).read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Usual:
    """A transformer's own usual losses: medians over its earlier days judged and not flagged."""

    evening_w: float
    constant_w: float
    days: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Judged:
    """One transformer's day: its balance, the split of its losses, and whether it is flagged."""

    day: TransformerDay
    balance: Balance
    fit: Fit | None
    usual: Usual | None
    excess_w: int | None
    """Watts beyond the transformer's usual (the evening's or the constant's, the larger;
    None: not judged)."""
    flagged: bool

    @property
    def unexplained_w(self) -> int | None:
        return None if self.fit is None else round(self.fit.constant_w)

    @property
    def night_w(self) -> int | None:
        return None if self.fit is None else round(self.fit.night_w)

    @property
    def evening_w(self) -> int | None:
        return None if self.fit is None else round(self.fit.evening_w)


def _whole(s: Slot, consumers: int) -> bool:
    return s.reporting - s.estimated_zero >= consumers


def whole_slots(td: TransformerDay) -> tuple[Slot, ...]:
    """The day's intervals with an interval whose consumers' side is not whole (a reading
    neither in nor estimated yet, or estimated as nothing: VEE had no reference day) left out
    like one the transformer's meter missed."""
    return tuple(s if _whole(s, td.consumers) else replace(s, supplied_wh=None) for s in td.slots)


def estimated_w(slots: Sequence[Slot], evening: bool) -> float:
    """The consumers' estimated energy as average watts, over the compared intervals (of the
    evening only, or of the whole day)."""
    half = INTERVALS_PER_DAY // 2
    wh = [
        s.billed_estimated_wh
        for i, s in enumerate(slots)
        if s.supplied_wh is not None and (not evening or (i >= half and is_night(i)))
    ]
    return 4 * sum(wh) / len(wh) if wh else 0.0


def evening_intervals(slots: Sequence[Slot]) -> int:
    """Intervals of the evening (dusk to midnight) the transformer's meter read."""
    half = INTERVALS_PER_DAY // 2
    return sum(1 for i, s in enumerate(slots) if s.supplied_wh is not None and i >= half and is_night(i))


def morning_intervals(slots: Sequence[Slot]) -> int:
    """Intervals of the morning (midnight to dawn) the transformer's meter read."""
    half = INTERVALS_PER_DAY // 2
    return sum(1 for i, s in enumerate(slots) if s.supplied_wh is not None and i < half and is_night(i))


def whole_day(slots: Sequence[Slot]) -> bool:
    """Nearly every interval of the day compared (a round-the-clock constant means something)."""
    return sum(1 for s in slots if s.supplied_wh is not None) >= WHOLE_DAY


@lru_cache(maxsize=8192)
def _fit_of(slots: tuple[Slot, ...]) -> Fit | None:
    """A day's fit, kept: earlier days are fitted again every round while their readings settle."""
    return fit(slots)


def judgeable(b: Balance, th: Thresholds) -> bool:
    """Enough of the day is in to judge it."""
    return b.intervals >= th.min_intervals and b.consumer_intervals_expected > 0 and b.coverage >= th.min_coverage


def usual(earlier: Sequence[tuple[TransformerDay, bool]], th: Thresholds) -> Usual | None:
    """A transformer's usual from its earlier days (each with whether it was flagged): the
    medians of the evening beyond the morning and of the constant over the `USUAL_DAYS` most
    recent whole days admitted. Oldest first, a day is admitted when it was not flagged and its
    evening stayed within half a bar of the usual of the days admitted before it (within half
    of `first_day_w` of zero for the first): a hook too small to be flagged on its first night
    does not become the transformer's usual, and is flagged on the next."""
    evenings: list[float] = []
    constants: list[float] = []
    for td, flagged in sorted(earlier, key=lambda e: e[0].day):
        slots = whole_slots(td)
        if flagged or not whole_day(slots) or not judgeable(transformer_balance(td), th):
            continue
        f = _fit_of(slots)
        if f is None:
            continue
        reference, bar = (statistics.median(evenings), th.excess_w) if evenings else (0.0, th.first_day_w)
        if f.evening_w - reference < bar / 2:
            evenings.append(f.evening_w)
            constants.append(f.constant_w)
    if not evenings:
        return None
    kept = slice(-USUAL_DAYS, None)
    return Usual(
        evening_w=statistics.median(evenings[kept]),
        constant_w=statistics.median(constants[kept]),
        days=len(evenings[kept]),
    )


def judge_day(td: TransformerDay, earlier: Sequence[tuple[TransformerDay, bool]], th: Thresholds) -> Judged:
    """One transformer's day against its own usual: flagged when, over the intervals both sides
    have whole, its evening beyond the morning exceeds its usual by `excess_w` (a sustained
    excess: once `min_evening_intervals` of the evening, and as many of the morning, are in),
    or, on a whole day, its round-the-clock constant exceeds its usual by `constant_w`. Without
    an earlier whole day, the `first_day_*` bars against zero."""
    b = transformer_balance(td)
    slots = whole_slots(td)
    judged = judgeable(b, th) and judgeable(transformer_balance(replace(td, slots=slots)), th)
    f = _fit_of(slots) if judged else None
    if f is None:
        return Judged(day=td, balance=b, fit=None, usual=None, excess_w=None, flagged=False)
    base = usual(earlier, th)
    bars = (th.excess_w, th.constant_w) if base else (th.first_day_w, th.first_day_constant_w)
    doubt = float(th.estimate_doubt)
    evening_bar = bars[0] + doubt * estimated_w(slots, evening=True)
    constant_bar = bars[1] + doubt * estimated_w(slots, evening=False)
    sustained = min(evening_intervals(slots), morning_intervals(slots)) >= th.min_evening_intervals
    beyond: list[float] = []
    flagged = False
    if sustained:
        beyond.append(f.evening_w - (base.evening_w if base else 0.0))
        flagged = beyond[-1] >= evening_bar
    if whole_day(slots):
        beyond.append(f.constant_w - (base.constant_w if base else 0.0))
        flagged = flagged or beyond[-1] >= constant_bar
    excess = round(max(beyond)) if beyond else None
    return Judged(day=td, balance=b, fit=f, usual=base, excess_w=excess, flagged=flagged)


def judge(
    days: Sequence[TransformerDay],
    th: Thresholds,
    earlier: Mapping[str, Sequence[tuple[TransformerDay, bool]]] | None = None,
) -> list[Judged]:
    """Every transformer's day judged against its own earlier days (`earlier`: by transformer,
    its stored days before this one, each with whether it was flagged)."""
    return [judge_day(d, (earlier or {}).get(d.transformer, ()), th) for d in days]
