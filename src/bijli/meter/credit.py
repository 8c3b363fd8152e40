"""The meter's credit mirror: its own copy of the tariff, in whole-number arithmetic.

Thousands of meters are charged at once, so this works on arrays of integers; it gives, to
the paisa, the same charges as the server's `prepaid.model` (cumulative rounding on the
month-to-date energy), which the tests check against each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from bijli.kernel.time import days_in_month
from bijli.prepaid.tariff import TariffVersion

Ints = npt.NDArray[np.int64]
SCALE = 10_000
"""Rates are held in 1/10,000 rupee."""


def _scaled(value: Decimal) -> int:
    scaled = value * SCALE
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more than four decimal places; the meter cannot hold it exactly")
    return int(scaled)


def _round_half_up(numerator: Ints, denominator: int) -> Ints:
    """numerator / denominator rounded half up, for numerators of either sign."""
    result: Ints = np.floor_divide(2 * numerator + denominator, 2 * denominator)
    return result


class MirrorTariff:
    """A tariff version as the meter holds it."""

    def __init__(self, version: TariffVersion) -> None:
        self.edges = np.array([s.up_to_wh if s.up_to_wh is not None else 2**62 for s in version.slabs], dtype=np.int64)
        self.rates = np.array([_scaled(s.rate) for s in version.slabs], dtype=np.int64)
        self.duty = _scaled(version.duty_rate)
        self.fixed = _scaled(version.fixed_per_kw_month)

    @classmethod
    def pushed(cls, args: Mapping[str, int]) -> MirrorTariff:
        """The rates a `tariff` command carries (figures in 1/10,000 rupee, as held here)."""
        mirror = cls.__new__(cls)
        n = sum(1 for k in range(1, 99) if f"r{k}" in args)
        mirror.rates = np.array([args[f"r{k}"] for k in range(1, n + 1)], dtype=np.int64)
        mirror.edges = np.array([args.get(f"s{k}", 2**62) for k in range(1, n)] + [2**62], dtype=np.int64)
        mirror.duty = args["duty"]
        mirror.fixed = args["fixed"]
        return mirror

    def _cost(self, month_wh: Ints) -> Ints:
        """Month cost in 1/10,000 rupee x Wh/kWh, i.e. exact to 10^-7 rupee."""
        cost = np.zeros_like(month_wh)
        floor = 0
        for edge, rate in zip(self.edges, self.rates, strict=True):
            part = np.clip(month_wh, floor, edge) - floor
            cost += part * rate
            floor = int(edge)
        return cost

    def interval_charge(self, month_wh_before: Ints, wh: Ints) -> Ints:
        """Energy charge plus its duty for each meter's interval, paise (positive)."""
        before, after = self._cost(month_wh_before), self._cost(month_wh_before + wh)
        to_paise = SCALE * 1000 // 100
        energy = _round_half_up(after, to_paise) - _round_half_up(before, to_paise)
        duty = _round_half_up(after * self.duty, to_paise * SCALE) - _round_half_up(
            before * self.duty, to_paise * SCALE
        )
        return energy + duty

    def fixed_charge(self, sanctioned_w: Ints, day: date) -> Ints:
        """One day's fixed charge plus its duty, paise (positive)."""
        n = days_in_month(day)
        per_paise = SCALE * 1000 * n // 100  # month charge = fixed x W / 1000; its share d / n
        through, before = self.fixed * sanctioned_w * day.day, self.fixed * sanctioned_w * (day.day - 1)
        charge = _round_half_up(through, per_paise) - _round_half_up(before, per_paise)
        duty = _round_half_up(through * self.duty, per_paise * SCALE) - _round_half_up(
            before * self.duty, per_paise * SCALE
        )
        return charge + duty
