"""Exact money and energy, and time in the utility's terms (IST days, months, intervals)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from bijli.kernel.clock import SimulatedClock
from bijli.kernel.time import (
    INTERVAL,
    INTERVALS_PER_DAY,
    IST,
    days_in_month,
    epoch,
    is_interval_start,
    ist_day,
    ist_midnight,
    month_key,
    utc_from_epoch,
)
from bijli.kernel.units import format_rupees, kwh, rupees, to_paise


@pytest.mark.parametrize(
    ("amount", "paise"),
    [
        ("0", 0),
        ("0.004", 0),
        ("0.0049999", 0),
        ("0.005", 1),
        ("0.015", 2),
        ("0.025", 3),
        ("2.675", 268),  # a float would give 267
        ("605.616", 60562),
        ("1731.50", 173150),
        ("-0.005", -1),
        ("-0.004", 0),
    ],
)
def test_to_paise_rounds_half_away_from_zero(amount: str, paise: int) -> None:
    assert to_paise(Decimal(amount)) == paise


def test_to_paise_gives_an_int() -> None:
    assert type(to_paise(Decimal("12.345"))) is int


@pytest.mark.parametrize(
    ("paise", "text"),
    [(0, "0.00"), (5, "0.05"), (50, "0.50"), (123450, "1234.50"), (-150, "-1.50"), (10_000_000_00, "10000000.00")],
)
def test_format_rupees_always_shows_two_places(paise: int, text: str) -> None:
    assert format_rupees(paise) == text


def test_rupees_and_paise_round_trip() -> None:
    assert rupees(173150) == Decimal("1731.50")
    assert to_paise(rupees(173150)) == 173150


def test_watt_hours_are_exact_kwh() -> None:
    assert kwh(1500) == Decimal("1.5")
    assert kwh(1) == Decimal("0.001")


def test_ist_day_starts_at_1830_utc() -> None:
    assert ist_day(datetime(2026, 11, 30, 18, 30, tzinfo=UTC)) == date(2026, 12, 1)
    assert ist_day(datetime(2026, 11, 30, 18, 29, 59, tzinfo=UTC)) == date(2026, 11, 30)


def test_ist_month_boundary_decides_the_billing_month() -> None:
    assert month_key(ist_day(datetime(2026, 11, 30, 18, 30, tzinfo=UTC))) == "2026-12"
    assert month_key(ist_day(datetime(2026, 12, 31, 18, 29, tzinfo=UTC))) == "2026-12"
    assert month_key(ist_day(datetime(2026, 12, 31, 18, 30, tzinfo=UTC))) == "2027-01"


def test_ist_midnight_is_1830_utc_the_day_before() -> None:
    midnight = ist_midnight(date(2026, 12, 1))

    assert midnight == datetime(2026, 11, 30, 18, 30, tzinfo=UTC)
    assert midnight.utcoffset() == timedelta(0)
    assert ist_day(midnight) == date(2026, 12, 1)


def test_ist_is_five_and_a_half_hours_ahead() -> None:
    assert datetime(2026, 1, 1, tzinfo=IST) == datetime(2025, 12, 31, 18, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "days"),
    [
        (date(2024, 2, 10), 29),
        (date(2026, 2, 10), 28),
        (date(2000, 2, 1), 29),
        (date(2100, 2, 1), 28),
        (date(2026, 12, 31), 31),
        (date(2026, 11, 30), 30),
        (date(2026, 1, 1), 31),
    ],
)
def test_days_in_month(day: date, days: int) -> None:
    assert days_in_month(day) == days


def test_every_ist_midnight_is_an_interval_start() -> None:
    for day in (date(2026, 1, 1), date(2026, 6, 15), date(2028, 2, 29)):
        assert is_interval_start(epoch(ist_midnight(day)))


def test_interval_starts_are_every_15_minutes() -> None:
    t = epoch(ist_midnight(date(2026, 1, 1)))

    assert [is_interval_start(t + s) for s in (0, 1, 60, 899, 900, 1800)] == [True, False, False, False, True, True]
    assert timedelta(days=1) == INTERVAL * INTERVALS_PER_DAY


def test_epoch_seconds_round_trip() -> None:
    moment = datetime(2026, 3, 1, 12, 15, tzinfo=UTC)

    assert utc_from_epoch(epoch(moment)) == moment
    assert utc_from_epoch(0) == datetime(1970, 1, 1, tzinfo=UTC)


def test_simulated_clock_moves_only_when_told() -> None:
    clock = SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC))

    assert clock.now() == clock.now() == datetime(2026, 1, 1, tzinfo=UTC)
    clock.advance(INTERVAL)
    assert clock.now() == datetime(2026, 1, 1, 0, 15, tzinfo=UTC)
    clock.set(datetime(2027, 1, 1, tzinfo=UTC))
    assert clock.now() == datetime(2027, 1, 1, tzinfo=UTC)
