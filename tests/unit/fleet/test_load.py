"""The fleet's household load: physically possible, shaped like a city's day, repeatable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import pytest

from bijli.fleet.city import build_city
from bijli.fleet.load import household_scale, interval_wh, voltage_dv
from bijli.kernel.time import INTERVAL, INTERVAL_S, IST, epoch

METERS = 500
SEED = 7


def sanctioned(meters: int = METERS) -> npt.NDArray[np.int64]:
    return np.array([c.sanctioned_load_w for c in build_city(meters)], dtype=np.int64)


def day_of_intervals(day: datetime, seed: int = SEED) -> dict[datetime, npt.NDArray[np.int64]]:
    """Every meter's Wh for each 15-minute interval of one IST day, by interval start (IST)."""
    loads = sanctioned()
    scale = household_scale(loads, seed)
    out = {}
    for n in range(96):
        start = day + n * INTERVAL
        out[start] = interval_wh(scale, loads, start.astimezone(UTC), seed, epoch(start) // INTERVAL_S)
    return out


DAYS = [
    datetime(2026, 1, 14, tzinfo=IST),  # winter weekday
    datetime(2026, 6, 6, tzinfo=IST),  # hot Saturday, coolers on all night
    datetime(2026, 8, 20, tzinfo=IST),  # monsoon weekday
]


@pytest.mark.parametrize("day", DAYS, ids=["winter", "summer", "monsoon"])
def test_interval_energy_is_never_negative_nor_above_the_sanctioned_load(day: datetime) -> None:
    loads = sanctioned()

    for wh in day_of_intervals(day).values():
        assert wh.shape == (METERS,)
        assert wh.min() >= 0
        # Sanctioned load (W) for 15 minutes is load / 4 Wh.
        assert np.all(wh * 4 <= loads)


@pytest.mark.parametrize("day", DAYS, ids=["winter", "summer", "monsoon"])
def test_evening_peak_uses_more_than_the_small_hours(day: datetime) -> None:
    by_start = day_of_intervals(day)
    evening = [wh.mean() for start, wh in by_start.items() if 19 <= start.hour < 21]
    small_hours = [wh.mean() for start, wh in by_start.items() if 3 <= start.hour < 4]

    assert len(evening) == 8 and len(small_hours) == 4
    assert np.mean(evening) > 1.5 * np.mean(small_hours)


def test_households_use_energy_every_day() -> None:
    daily_kwh = np.stack(list(day_of_intervals(DAYS[0]).values())).sum(axis=0) / 1000

    assert daily_kwh.mean() > 1  # a city household uses kWh a day, not Wh


def test_same_seed_gives_the_same_numbers() -> None:
    assert all(
        np.array_equal(a, b)
        for a, b in zip(day_of_intervals(DAYS[0]).values(), day_of_intervals(DAYS[0]).values(), strict=True)
    )


def test_another_seed_gives_other_numbers() -> None:
    first = np.concatenate(list(day_of_intervals(DAYS[0], seed=1).values()))
    second = np.concatenate(list(day_of_intervals(DAYS[0], seed=2).values()))

    assert not np.array_equal(first, second)


def test_energy_is_whole_watt_hours() -> None:
    loads = sanctioned()
    wh = interval_wh(household_scale(loads, SEED), loads, DAYS[0], SEED, 0)

    assert wh.dtype == np.int64


def test_supply_voltage_hovers_around_230_volts_and_repeats_with_the_seed() -> None:
    volts = voltage_dv(METERS, SEED, 42)

    assert volts.dtype == np.int64
    assert 2250 < volts.mean() < 2350
    assert np.array_equal(volts, voltage_dv(METERS, SEED, 42))


def test_a_week_of_load_stays_physical() -> None:
    loads = sanctioned(50)
    scale = household_scale(loads, SEED)
    start = datetime(2026, 5, 25, tzinfo=IST).astimezone(UTC)

    for n in range(7 * 96):
        moment = start + timedelta(minutes=15 * n)
        wh = interval_wh(scale, loads, moment, SEED, epoch(moment) // INTERVAL_S)
        assert wh.min() >= 0 and np.all(wh * 4 <= loads)
