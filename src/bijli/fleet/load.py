"""Household load of a North Indian city, vectorised over the fleet.

Power follows the hour of day (morning bump, evening peak, fans and coolers through the
night in the hot months), the season, the weekday, and each household's own size, with
noise that is the same for the same seed, meter and interval.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import numpy.typing as npt

from bijli.kernel.time import IST

# Share of a household's typical peak draw, by IST hour.
HOURLY_SHAPE = np.array(
    [
        0.35,
        0.30,
        0.28,
        0.27,
        0.28,
        0.38,
        0.55,
        0.70,
        0.62,
        0.50,
        0.45,
        0.45,
        0.48,
        0.50,
        0.48,
        0.45,
        0.48,
        0.58,
        0.80,
        0.95,
        1.00,
        0.92,
        0.72,
        0.50,
    ]
)
# Cooling load by month: May-June hottest, monsoon humid, Dec-Jan cool.
SEASON = np.array([0.75, 0.80, 0.95, 1.25, 1.55, 1.60, 1.40, 1.35, 1.30, 1.10, 0.90, 0.78])
NIGHT_COOLING_HOURS = {22, 23, 0, 1, 2, 3, 4, 5}


def household_scale(sanctioned_w: npt.NDArray[np.int64], seed: int) -> npt.NDArray[np.float64]:
    """Each household's typical peak draw in watts: a share of its sanctioned load."""
    rng = np.random.default_rng([seed, 1])
    share = rng.uniform(0.22, 0.55, size=sanctioned_w.shape)
    return sanctioned_w.astype(np.float64) * share


def interval_wh(
    scale_w: npt.NDArray[np.float64],
    sanctioned_w: npt.NDArray[np.int64],
    start: datetime,
    seed: int,
    interval_index: int,
) -> npt.NDArray[np.int64]:
    """Energy each meter imports in the 15 minutes from `start`, whole Wh, never negative."""
    local = start.astimezone(IST)
    shape = HOURLY_SHAPE[local.hour]
    season = SEASON[local.month - 1]
    if local.hour in NIGHT_COOLING_HOURS:
        shape *= 1.0 + max(0.0, season - 1.0)
    weekday = 1.08 if local.weekday() >= 5 else 1.0
    rng = np.random.default_rng([seed, 2, interval_index])
    noise = rng.lognormal(mean=-0.05, sigma=0.30, size=scale_w.shape)
    watts = np.minimum(scale_w * shape * season * weekday * noise, sanctioned_w * 1.0)
    wh: npt.NDArray[np.int64] = np.rint(watts / 4.0).astype(np.int64)
    return wh


def voltage_dv(size: int, seed: int, interval_index: int) -> npt.NDArray[np.int64]:
    """Average supply voltage in 0.1 V: around 230 V, sagging a little at random."""
    rng = np.random.default_rng([seed, 3, interval_index])
    volts: npt.NDArray[np.int64] = np.rint(rng.normal(2300.0, 45.0, size=size)).astype(np.int64)
    return volts
