"""What the utility reports every day: data collection, silent meters, connectivity, usage.

The figures as the reports give them (pure); the queries that work them out are
`bijli.adapters.db.reports`, and the same code answers the API and `bijli report`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from bijli.kernel.time import ist_midnight

Level = Literal["meter", "transformer", "feeder", "area"]
WITHIN_8H = timedelta(hours=8)
WITHIN_24H = timedelta(hours=24)
"""The collection report's marks: a day's intervals received within 8 h and within 24 h of its
end (after 24 h a day's figures move only with a meter's late backfill)."""


def received_within(day: date, received_at: datetime) -> tuple[bool, bool]:
    """Whether an interval of the IST `day` received at `received_at` came within 8 h and
    within 24 h of the day's end."""
    end = ist_midnight(day + timedelta(days=1))
    return received_at <= end + WITHIN_8H, received_at <= end + WITHIN_24H


@dataclass(frozen=True, slots=True, kw_only=True)
class Collection:
    """How completely one IST day's intervals reached the store, and how fast."""

    day: date
    meters: int
    complete_within_8h: int
    complete_within_24h: int
    complete_now: int
    complete_with_estimates: int
    intervals_expected: int
    intervals_actual: int
    intervals_estimated: int

    def share(self, n: int) -> float:
        """`n` meters as a percentage of all, to two places."""
        return round(100 * n / self.meters, 2) if self.meters else 0.0

    def as_dict(self) -> dict[str, Any]:
        share = self.share
        return {
            "day": self.day.isoformat(),
            "meters": self.meters,
            "complete_within_8h": self.complete_within_8h,
            "complete_within_8h_pct": share(self.complete_within_8h),
            "complete_within_24h": self.complete_within_24h,
            "complete_within_24h_pct": share(self.complete_within_24h),
            "complete_now": self.complete_now,
            "complete_with_estimates": self.complete_with_estimates,
            "intervals_expected": self.intervals_expected,
            "intervals_actual": self.intervals_actual,
            "intervals_estimated": self.intervals_estimated,
        }


def kwh_text(wh: int) -> str:
    """Whole Wh as kWh with three places, exactly."""
    return f"{wh // 1000}.{wh % 1000:03d}"
