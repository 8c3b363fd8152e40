"""Days of credit left: the forecast from an account's own daily charges."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bijli.prepaid.forecast import Sample, days_left, error_at, pace

TODAY = date(2026, 12, 4)  # a Friday


def steady(paise: int, days: int = 28, weekend: int | None = None) -> dict[date, int]:
    found = {}
    for k in range(1, days + 1):
        d = TODAY - timedelta(days=k)
        found[d] = weekend if weekend is not None and d.weekday() >= 5 else paise
    return found


def test_a_steady_account_lasts_its_balance_over_its_daily_charge() -> None:
    f = days_left(30_000, steady(10_000), TODAY)
    assert f.days == Decimal("3.0")
    assert f.runs_out_on == TODAY + timedelta(days=2)
    assert f.daily_paise == 10_000


def test_what_was_spent_today_is_taken_off_the_day() -> None:
    f = days_left(30_000, steady(10_000), TODAY, spent_today=4_000)
    # 6,000 left of today (0.6 of a day), then 24,000 more: 2.4 days.
    assert f.days == Decimal("3.0")
    assert f.runs_out_on == TODAY + timedelta(days=3)


def test_weekends_that_cost_more_bring_the_day_closer() -> None:
    plain = days_left(50_000, steady(10_000), TODAY)
    heavy = days_left(50_000, steady(10_000, weekend=20_000), TODAY)
    assert plain.days is not None and heavy.days is not None
    # Friday to Tuesday: a heavy Saturday and Sunday use the credit up sooner.
    assert heavy.days < plain.days


def test_a_rising_use_is_followed_not_averaged() -> None:
    rising = {TODAY - timedelta(days=k): 10_000 + (28 - k) * 300 for k in range(1, 29)}
    flat_at_last_week = steady(sum(rising[TODAY - timedelta(days=k)] for k in range(1, 8)) // 7)
    up = days_left(100_000, rising, TODAY)
    flat = days_left(100_000, flat_at_last_week, TODAY)
    assert up.days is not None and flat.days is not None
    assert up.days < flat.days
    found = pace(rising, TODAY)
    assert found is not None and found.trend > 0


def test_a_used_up_balance_has_no_days_left() -> None:
    assert days_left(0, steady(10_000), TODAY).days == Decimal(0)
    assert days_left(-500, {}, TODAY).runs_out_on == TODAY


def test_too_little_history_gives_no_forecast() -> None:
    f = days_left(30_000, steady(10_000, days=2), TODAY)
    assert f.days is None and f.runs_out_on is None


def test_an_account_that_uses_nothing_never_runs_out() -> None:
    assert days_left(30_000, steady(0), TODAY).days is None


def test_days_older_than_four_weeks_or_from_today_are_not_history() -> None:
    history = steady(10_000) | {TODAY - timedelta(days=40): 900_000, TODAY: 900_000}
    assert days_left(30_000, history, TODAY).days == Decimal("3.0")


def test_a_large_balance_lasts_many_weeks() -> None:
    f = days_left(10_000 * 400, steady(10_000), TODAY)
    assert f.days == Decimal("400.0")
    assert f.runs_out_on == TODAY + timedelta(days=399)


@given(
    charges=st.lists(st.integers(min_value=0, max_value=50_000), min_size=28, max_size=28),
    balance=st.integers(min_value=1, max_value=2_000_000),
    more=st.integers(min_value=1, max_value=500_000),
)
def test_more_credit_never_lasts_less(charges: list[int], balance: int, more: int) -> None:
    history = {TODAY - timedelta(days=k + 1): v for k, v in enumerate(charges)}
    less, plus = days_left(balance, history, TODAY), days_left(balance + more, history, TODAY)
    if less.days is None:
        assert plus.days is None
        return
    assert plus.days is not None and plus.days >= less.days
    assert plus.runs_out_on is not None and less.runs_out_on is not None
    assert plus.runs_out_on >= less.runs_out_on


def test_the_error_at_three_days_counts_only_forecasts_three_days_out() -> None:
    samples = [
        Sample(Decimal("3.3"), Decimal("3.0")),  # 10 %
        Sample(Decimal("2.4"), Decimal("3.0")),  # 20 %
        Sample(Decimal("9"), Decimal("1.0")),  # not three days out
        Sample(None, Decimal("2.5")),  # no forecast: 100 %
    ]
    assert error_at(samples) == Decimal("43.3")
    assert error_at(samples[2:3]) is None


def test_a_months_slabs_do_not_pass_for_a_trend_when_the_energy_is_known() -> None:
    # The charge rises through the month as the slabs climb, the energy used does not.
    charges = {TODAY - timedelta(days=k): 10_000 + (28 - k) * 100 for k in range(1, 29)}
    energy = {d: 8_000 for d in charges}
    found = pace(charges, TODAY, energy)
    assert found is not None and found.trend == 0
    by_charges = pace(charges, TODAY)
    assert by_charges is not None and by_charges.trend > 0
