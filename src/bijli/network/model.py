"""Which transformers' losses are beyond what the network explains (pure; thresholds as data
in `losses.toml`)."""

from __future__ import annotations

import statistics
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources

from bijli.network.balance import Balance, TransformerDay, transformer_balance
from bijli.network.losses import Fit, fit

THRESHOLDS_FILE = "losses.toml"
REFERENCE_POOL = 5
"""An area with this many transformers judged that day is its own reference."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Thresholds:
    """When a transformer is flagged."""

    excess_w: int
    loss_pct: Decimal
    min_intervals: int
    min_coverage: Decimal


def parse_thresholds(text: str) -> Thresholds:
    """Thresholds from the TOML text of a `losses.toml`; `ValueError` names what is wrong."""
    data = tomllib.loads(text)
    try:
        found = Thresholds(
            excess_w=int(data["excess_w"]),
            loss_pct=Decimal(str(data["loss_pct"])),
            min_intervals=int(data["min_intervals"]),
            min_coverage=Decimal(str(data["min_coverage"])),
        )
    except (KeyError, ArithmeticError) as e:
        raise ValueError(f"losses thresholds: {e!r}") from e
    if found.excess_w <= 0 or found.loss_pct <= 0 or not 0 < found.min_coverage <= 1 or found.min_intervals < 12:
        raise ValueError("losses thresholds out of range")
    return found


@cache
def thresholds() -> Thresholds:
    """The shipped thresholds (`network/losses.toml`), read once."""
    return parse_thresholds(resources.files(__package__).joinpath(THRESHOLDS_FILE).read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Judged:
    """One transformer's day: its balance, the split of its losses, and whether it is flagged."""

    day: TransformerDay
    balance: Balance
    fit: Fit | None
    excess_w: int | None
    """Unexplained watts beyond the area's reference (None: not judged)."""
    flagged: bool

    @property
    def unexplained_w(self) -> int | None:
        return None if self.fit is None else round(self.fit.constant_w)

    @property
    def night_w(self) -> int | None:
        return None if self.fit is None else round(self.fit.night_w)


def judgeable(b: Balance, th: Thresholds) -> bool:
    """Enough of the day is in to judge it."""
    return b.intervals >= th.min_intervals and b.consumer_intervals_expected > 0 and b.coverage >= th.min_coverage


def _references(days: Sequence[TransformerDay], values: Sequence[float | None]) -> dict[str, float]:
    """Each area's median of `values` that day (the day's median over all areas where an area
    has fewer than `REFERENCE_POOL`; none below three)."""
    per_area: dict[str, list[float]] = {}
    for d, v in zip(days, values, strict=True):
        if v is not None:
            per_area.setdefault(d.area, []).append(v)
    everywhere = [w for ws in per_area.values() for w in ws]
    reference: dict[str, float] = {}
    for area, ws in per_area.items():
        if len(ws) >= REFERENCE_POOL:
            reference[area] = statistics.median(ws)
        elif len(everywhere) >= 3:  # too few in the area to tell: the day's other transformers too
            reference[area] = statistics.median(everywhere)
    return reference


def judge(days: Sequence[TransformerDay], th: Thresholds) -> list[Judged]:
    """Every transformer's day balanced and fitted; flagged when its unexplained round-the-clock
    loss, or its evening's loss beyond the night's, exceeds its area's median that day by
    `excess_w`, or its loss share exceeds `loss_pct`."""
    balances = [transformer_balance(d) for d in days]
    fits = [fit(d.slots) if judgeable(b, th) else None for d, b in zip(days, balances, strict=True)]
    constant = _references(days, [None if f is None else f.constant_w for f in fits])
    evening = _references(days, [None if f is None else f.evening_w for f in fits])
    out = []
    for d, b, f in zip(days, balances, fits, strict=True):
        excess: int | None = None
        if f is not None and d.area in constant:
            excess = round(max(f.constant_w - constant[d.area], f.evening_w - evening.get(d.area, 0.0)))
        pct = b.loss_pct
        flagged = f is not None and (
            (excess is not None and excess >= th.excess_w) or (pct is not None and pct >= th.loss_pct)
        )
        out.append(Judged(day=d, balance=b, fit=f, excess_w=excess, flagged=flagged))
    return out
