"""Time in the utility's terms: IST days and months, 15-minute intervals."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta, timezone

IST = timezone(timedelta(hours=5, minutes=30), "IST")
INTERVAL = timedelta(minutes=15)
INTERVAL_S = 900
INTERVALS_PER_DAY = 96


def utc_from_epoch(seconds: int) -> datetime:
    """An epoch second as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)


def epoch(moment: datetime) -> int:
    """An aware datetime as whole epoch seconds."""
    return int(moment.timestamp())


@functools.lru_cache(maxsize=4096)  # a round's readings share their interval's start
def ist_day(moment: datetime) -> date:
    """The IST calendar day a moment falls on."""
    return moment.astimezone(IST).date()


@functools.lru_cache(maxsize=1024)
def ist_midnight(day: date) -> datetime:
    """Midnight IST at the start of a day, as aware UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=IST).astimezone(UTC)


def month_key(day: date) -> str:
    """A billing month as ``YYYY-MM``."""
    return f"{day.year:04d}-{day.month:02d}"


def days_in_month(day: date) -> int:
    """How many days the month of `day` has."""
    first_next = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return (first_next - date(day.year, day.month, 1)).days


def is_interval_start(seconds: int) -> bool:
    """Whether an epoch second is on a 15-minute boundary."""
    return seconds % INTERVAL_S == 0
