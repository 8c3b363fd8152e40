"""Days of credit left, forecast from an account's own recent daily charges. Pure.

The seam of issue 13 (tracker and days left): `days_left(balance_paise, history, today,
spent_today=0) -> Forecast`, the history being the account's charges (energy, fixed charge
and duty, paise) per IST day, as `day_charges` holds them (`prepaid.ports.ChargeHistory`).

How (docs/billing.md, "Days of credit left"):

- **Weekday.** Over the last four weeks, each weekday's mean against all days' mean, shrunk
  towards 1 by how few of that weekday there are: a household that uses more on Sundays is
  expected to on the coming Sundays.
- **Level.** The mean of the last seven days with a charge, each divided by its weekday's
  factor.
- **Season.** The trend: the last week's energy (kWh, which a month's slabs do not distort)
  against the days 8-28 back, as a change per day (at most 0.5 % a day either way), followed
  for two weeks ahead and then held; so the forecast leans into a warming spring or a cooling
  autumn instead of lagging a week behind it.
- **Today.** Today's charge so far (`spent_today`) is taken off the day's forecast: what is
  left of today is the part of a day that remains.

Money stays exact (paise and `Decimal`); a forecast is an estimate to 0.1 day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from bijli.kernel.units import Paise, Wh

HISTORY_DAYS: Final = 28
"""The days of history a forecast reads (four weeks: four of each weekday)."""
LEVEL_DAYS: Final = 7
MIN_DAYS: Final = 3
"""Fewer days with a charge than this, and there is no forecast (a new account)."""
WEEKDAYS_FROM: Final = 14
"""Weekday factors only from this many days of history (two of each weekday)."""
TREND_CAP: Final = Decimal("0.005")
"""The trend's largest change per day, either way (15 % a month: a season's ramp)."""
TREND_HORIZON: Final = 14
"""Days ahead the trend is followed; after that the level is held."""
TENTH: Final = Decimal("0.1")
ONE: Final = Decimal(1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Forecast:
    """How long an account's credit lasts at its own pace."""

    days: Decimal | None
    """Days of credit from now, to 0.1 day; 0 when the balance is used up; None when there is
    too little history to tell (or the account uses nothing)."""
    runs_out_on: date | None
    """The IST day the balance reaches zero (today when it has)."""
    daily_paise: Paise | None
    """The charge of an ordinary day at the current level (weekday aside)."""


@dataclass(frozen=True, slots=True)
class Pace:
    """An account's expected charge per day: level, trend and weekday factors."""

    level: Decimal
    """Paise per day, weekday aside, centred `centre` days before today."""
    centre: Decimal
    trend: Decimal
    """Relative change per day."""
    weekday: tuple[Decimal, ...]
    """Factor per weekday, Monday first."""

    def on(self, today: date, ahead: int) -> Decimal:
        """The expected charge `ahead` days after today."""
        days = self.centre + min(ahead, TREND_HORIZON)
        grown = max(ONE + self.trend * days, Decimal("0.25"))
        return self.level * grown * self.weekday[(today + timedelta(days=ahead)).weekday()]


def pace(history: Mapping[date, Paise], today: date, energy: Mapping[date, Wh] | None = None) -> Pace | None:
    """The pace of an account's charges from its days in the four weeks before `today`; None
    with fewer than `MIN_DAYS` of them. The trend is read from `energy` (Wh per day) where
    given: a month's slabs change what a kWh costs, not how many are used."""
    first = today - timedelta(days=HISTORY_DAYS)
    days = sorted((d, Decimal(max(v, 0))) for d, v in history.items() if first <= d < today)
    if len(days) < MIN_DAYS:
        return None
    weekday = _weekday_factors(days)
    plain = [(d, v / weekday[d.weekday()]) for d, v in days]
    recent = plain[-LEVEL_DAYS:]
    level = _mean(v for _, v in recent)
    centre = _mean(Decimal((today - d).days) for d, _ in recent)
    if energy is not None:
        used = sorted((d, Decimal(max(energy.get(d, 0), 0))) for d, _ in days)
        trend = _trend([(d, v / weekday[d.weekday()]) for d, v in used], today)
    else:
        trend = _trend(plain, today)
    return Pace(level=level, centre=centre, trend=trend, weekday=weekday)


def _trend(days: list[tuple[date, Decimal]], today: date) -> Decimal:
    """The last week's level against the weeks before it, as a change per day, capped."""
    recent, older = days[-LEVEL_DAYS:], days[:-LEVEL_DAYS]
    if len(older) < LEVEL_DAYS:
        return Decimal(0)
    now, before = _mean(v for _, v in recent), _mean(v for _, v in older)
    gap = _mean(Decimal((today - d).days) for d, _ in older) - _mean(Decimal((today - d).days) for d, _ in recent)
    if now <= 0 or before <= 0 or gap <= 0:
        return Decimal(0)
    return min(max((now / before - ONE) / gap, -TREND_CAP), TREND_CAP)


def days_left(
    balance_paise: Paise,
    history: Mapping[date, Paise],
    today: date,
    spent_today: Paise = 0,
    energy: Mapping[date, Wh] | None = None,
) -> Forecast:
    """Days of credit left from now: `balance_paise` (the balance now, today's running charge
    taken off) spent at the account's own pace (`history`: charge per IST day; `energy`: Wh
    per IST day, for the trend)."""
    found = pace(history, today, energy)
    daily = None if found is None else int(found.level.to_integral_value(ROUND_HALF_UP))
    if balance_paise <= 0:
        return Forecast(days=Decimal("0.0"), runs_out_on=today, daily_paise=daily)
    if found is None or found.level <= 0:
        return Forecast(days=None, runs_out_on=None, daily_paise=daily)
    left = Decimal(balance_paise)
    expected = found.on(today, 0)
    rest = max(expected - spent_today, Decimal(0))
    if left <= rest:
        return _at(left / expected, today, 0, daily)
    left -= rest
    elapsed = rest / expected
    ahead = 1
    while ahead <= TREND_HORIZON + 7:
        expected = found.on(today, ahead)
        if left <= expected:
            return _at(elapsed + left / expected, today, ahead, daily)
        left -= expected
        elapsed += 1
        ahead += 1
    week = sum(found.on(today, ahead + k) for k in range(7))
    weeks = int(left // week)
    if weeks and left == weeks * week:
        weeks -= 1  # run out on the last day of a week, not the first of the next
    left -= weeks * week
    elapsed += 7 * weeks
    ahead += 7 * weeks
    while True:
        expected = found.on(today, ahead)
        if left <= expected:
            return _at(elapsed + left / expected, today, ahead, daily)
        left -= expected
        elapsed += 1
        ahead += 1


def _at(days: Decimal, today: date, ahead: int, daily: Paise | None) -> Forecast:
    return Forecast(
        days=days.quantize(TENTH, ROUND_HALF_UP), runs_out_on=today + timedelta(days=ahead), daily_paise=daily
    )


def _weekday_factors(days: list[tuple[date, Decimal]]) -> tuple[Decimal, ...]:
    """Each weekday's charge against its own week's (the seven days around it), so that a
    rising season or a month's slabs do not pass for a weekday's habit."""
    if len(days) < WEEKDAYS_FROM:
        return (ONE,) * 7
    ratios: list[list[Decimal]] = [[] for _ in range(7)]
    for d, v in days:
        around = [w for e, w in days if abs((e - d).days) <= 3]
        local = _mean(around)
        if len(around) >= 5 and local > 0:
            ratios[d.weekday()].append(v / local)
    factors = []
    for found in ratios:
        if not found:
            factors.append(ONE)
            continue
        n = Decimal(len(found))
        factors.append(max(ONE + (_mean(found) - ONE) * n / (n + ONE), Decimal("0.2")))
    return tuple(factors)


def _mean(values: Iterable[Decimal]) -> Decimal:
    items = list(values)
    return sum(items, Decimal(0)) / len(items) if items else Decimal(0)


# ------------------------------------------------------------------------------ backtests


@dataclass(frozen=True, slots=True)
class Sample:
    """One forecast against what happened: days forecast (None: no forecast) and the days the
    credit really lasted from the same moment."""

    forecast: Decimal | None
    actual: Decimal


def error_at(samples: Iterable[Sample], days: int = 3, within: Decimal = Decimal("0.5")) -> Decimal | None:
    """The mean absolute error, in percent of the real time left, of the forecasts made when
    the credit really had `days` (± `within`) days left; a missing forecast counts as 100 %.
    None when no sample is that close to running out."""
    errors = [
        ONE if s.forecast is None else abs(s.forecast - s.actual) / s.actual
        for s in samples
        if days - within <= s.actual < days + within and s.actual > 0
    ]
    if not errors:
        return None
    return (_mean(errors) * 100).quantize(TENTH, ROUND_HALF_UP)
