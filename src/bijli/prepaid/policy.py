"""The prepaid disconnection policy (UPPCL practice), as data with pure rules.

The rules live in a policy file (`bijli/prepaid/policies/uppcl.toml`) with a dated holiday
calendar beside it (`holidays-up.toml`): no disconnection between 18:00 and 08:00, on Sundays,
on public holidays or on second Saturdays; not while emergency credit lasts (three days from
when the balance first went negative) nor in a newly converted consumer's grace period; and
not without the minimum warning. The supply service (`bijli.supply`) and the meter twin, which
applies the rules by itself when offline, both read the same file (`load_policy`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from bijli.kernel.time import IST

POLICY_PACKAGE = "bijli.prepaid.policies"
UPPCL_FILE = "uppcl.toml"


@dataclass(frozen=True, slots=True)
class Holiday:
    """A public holiday of the calendar, named in English and Hindi."""

    day: date
    en: str
    hi: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PrepaidPolicy:
    """When a prepaid consumer is warned, may be disconnected, and is reconnected."""

    friendly_from_hour: int = 18
    """Friendly hours start (IST); no disconnection from here..."""
    friendly_until_hour: int = 8
    """...until here the next morning."""
    sundays: bool = True
    second_saturdays: bool = True
    emergency_credit: timedelta = timedelta(days=3)
    holidays: frozenset[date] = field(default_factory=frozenset)
    holiday_names: Mapping[date, Holiday] = field(default_factory=lambda: MappingProxyType({}))
    alert_shares: tuple[int, ...] = (30, 10, 0)
    """Low-balance alerts, as a percentage of the last recharge left."""
    grace: timedelta = timedelta(0)
    """No disconnection this long after a consumer is converted to prepaid (the account opens)."""
    min_warnings: int = 3
    min_channels: int = 2
    warning_lead: timedelta = timedelta(hours=24)
    """The last warning goes out at least this long before a cut."""
    reconnect_at_paise: int = 0
    """Supply comes back once the balance is at least this."""
    offline_cut_needs_permit: bool = True
    """A meter that cannot hear the server cuts itself only with a permit the server sent."""

    def friendly(self, moment: datetime) -> bool:
        """Whether `moment` falls in a time when nobody is disconnected."""
        local = moment.astimezone(IST)
        hour = local.hour
        if hour >= self.friendly_from_hour or hour < self.friendly_until_hour:
            return True
        day = local.date()
        if (self.sundays and day.weekday() == 6) or day in self.holidays:
            return True
        return self.second_saturdays and day.weekday() == 5 and 8 <= day.day <= 14  # the month's second Saturday

    def protected_until(self, moment: datetime) -> datetime:
        """The first moment at or after `moment` that is not protected (`moment` itself if it is not)."""
        at = moment
        for _ in range(400):  # a year of protected days at most; the rules leave far fewer
            if not self.friendly(at):
                return at
            local = at.astimezone(IST)
            morning = datetime.combine(local.date(), time(self.friendly_until_hour), IST)
            at = morning if local < morning else morning + timedelta(days=1)
        raise ValueError("the policy protects every day of a year: nobody could ever be disconnected")

    def protection_starts(self, moment: datetime) -> datetime:
        """When the next protected time begins (`moment` itself if it is protected already)."""
        if self.friendly(moment):
            return moment
        local = moment.astimezone(IST)
        return datetime.combine(local.date(), time(self.friendly_from_hour), IST)

    def may_disconnect(self, moment: datetime, balance_paise: int, negative_since: datetime | None) -> bool:
        """Whether a consumer with this balance may be disconnected at `moment` (the warnings
        are the supply service's to count: `bijli.supply.model`)."""
        if balance_paise >= 0 or negative_since is None:
            return False
        if moment - negative_since < self.emergency_credit:
            return False
        return not self.friendly(moment)

    def holiday(self, day: date) -> Holiday | None:
        """The public holiday on `day`, if the calendar has one."""
        return self.holiday_names.get(day)


def _hour(text: str) -> int:
    clock = time.fromisoformat(text)
    if clock.minute or clock.second:
        raise ValueError(f"friendly hours start and end on the hour, not {text}")
    return clock.hour


def parse_holidays(text: str) -> dict[date, Holiday]:
    """A holiday calendar file: its holidays by date."""
    doc = tomllib.loads(text)
    found: dict[date, Holiday] = {}
    for entry in doc.get("holiday", []):
        day = entry["date"]
        if not isinstance(day, date) or isinstance(day, datetime):
            raise ValueError(f"a holiday's date is a plain date, not {day!r}")
        if day in found:
            raise ValueError(f"{day} is listed twice")
        if day.year not in doc.get("years", [day.year]):
            raise ValueError(f"{day} lies outside the calendar's years")
        found[day] = Holiday(day, str(entry["en"]), str(entry["hi"]))
    return found


def parse_policy(text: str, holidays_text: str | None) -> PrepaidPolicy:
    """A policy file (and the holiday calendar it names) as a `PrepaidPolicy`."""
    doc: dict[str, Any] = tomllib.loads(text)
    protected, warning = doc["protected"], doc["warning"]
    holidays = parse_holidays(holidays_text) if holidays_text is not None else {}
    levels = tuple(int(x) for x in doc["alert_levels_pct"])
    if list(levels) != sorted(set(levels), reverse=True) or any(not 0 <= x <= 100 for x in levels):
        raise ValueError("alert levels are distinct percentages, highest first")
    return PrepaidPolicy(
        friendly_from_hour=_hour(protected["friendly_from"]),
        friendly_until_hour=_hour(protected["friendly_until"]),
        sundays=bool(protected["sundays"]),
        second_saturdays=bool(protected["second_saturdays"]),
        emergency_credit=timedelta(days=int(doc["emergency_credit"]["days"])),
        holidays=frozenset(holidays),
        holiday_names=MappingProxyType(holidays),
        alert_shares=levels,
        grace=timedelta(days=int(doc["grace"]["newly_converted_days"])),
        min_warnings=int(warning["min_warnings"]),
        min_channels=int(warning["min_channels"]),
        warning_lead=timedelta(hours=int(warning["last_at_least_hours_before"])),
        reconnect_at_paise=int(doc["reconnect"]["at_balance_paise"]),
        offline_cut_needs_permit=bool(doc["offline"]["cut_needs_permit"]),
    )


def load_policy(path: Path | None = None) -> PrepaidPolicy:
    """A policy file (the shipped UPPCL one when `path` is None), with its holiday calendar,
    which is named relative to the policy file."""
    if path is None:
        return uppcl()
    text = path.read_text(encoding="utf-8")
    name = tomllib.loads(text)["protected"].get("holidays")
    return parse_policy(text, (path.parent / name).read_text(encoding="utf-8") if name else None)


@cache
def uppcl() -> PrepaidPolicy:
    """UPPCL's policy as shipped (`policies/uppcl.toml` with `holidays-up.toml`), read once."""
    folder = resources.files(POLICY_PACKAGE)
    text = folder.joinpath(UPPCL_FILE).read_text(encoding="utf-8")
    name = tomllib.loads(text)["protected"].get("holidays")
    return parse_policy(text, folder.joinpath(name).read_text(encoding="utf-8") if name else None)
