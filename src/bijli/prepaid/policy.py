"""The prepaid disconnection policy (UPPCL practice), as data with one pure rule.

No disconnection between 18:00 and 08:00, on Sundays, on public holidays or on second
Saturdays; and not while emergency credit lasts (three days from when the balance first went
negative). The meter applies it by itself when offline; the server applies the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bijli.kernel.time import IST


@dataclass(frozen=True, slots=True, kw_only=True)
class PrepaidPolicy:
    """When a prepaid consumer may be disconnected."""

    friendly_from_hour: int = 18
    """Friendly hours start (IST); no disconnection from here..."""
    friendly_until_hour: int = 8
    """...until here the next morning."""
    emergency_credit: timedelta = timedelta(days=3)
    holidays: frozenset[date] = field(default_factory=frozenset)
    alert_shares: tuple[int, ...] = (30, 10, 0)
    """Low-balance alerts, as a percentage of the last recharge left."""

    def friendly(self, moment: datetime) -> bool:
        """Whether `moment` falls in a time when nobody is disconnected."""
        local = moment.astimezone(IST)
        hour = local.hour
        if hour >= self.friendly_from_hour or hour < self.friendly_until_hour:
            return True
        day = local.date()
        if day.weekday() == 6 or day in self.holidays:
            return True
        return day.weekday() == 5 and 8 <= day.day <= 14  # the month's second Saturday

    def may_disconnect(self, moment: datetime, balance_paise: int, negative_since: datetime | None) -> bool:
        """Whether a consumer with this balance may be disconnected at `moment`."""
        if balance_paise >= 0 or negative_since is None:
            return False
        if moment - negative_since < self.emergency_credit:
            return False
        return not self.friendly(moment)


UPPCL = PrepaidPolicy()
