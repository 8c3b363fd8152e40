"""What the network area needs from a store, as repositories of one unit of work: the outages',
and the energy accounting's (the readings as transformers' days, a table for the days worked out)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from bijli.network.balance import Balance, TransformerDay
from bijli.network.outages import Failure, Link, Outage, Place, Reporting, StoredOutage


class OutageBook(Protocol):
    """The outages found, and the facts they are found from."""

    def hold(self) -> None:
        """Keep other outage rounds waiting until this unit of work ends (one round at a time)."""
        ...

    def power_failures(self, since: datetime, until: datetime | None = None) -> list[Failure]:
        """Meters' losses of supply (last gasp to restoration) that began in [since, until]."""
        ...

    def places(self, meter_ids: Iterable[str]) -> dict[str, Place]:
        """Where these meters hang (unknown meters left out)."""
        ...

    def meters_on(self) -> dict[str, int]:
        """Meters in service on each transformer, and transformers on each feeder (by their ids)."""
        ...

    def displaced(self, now: datetime) -> list[Link]:
        """Meters in service silent or off their own SIM at `now` (`bijli.network.outages.is_displaced`)."""
        ...

    def operators(self) -> list[str]:
        """The operators the meters' SIMs are on (as their statuses name them)."""
        ...

    def reporting(self, now: datetime) -> dict[tuple[str, str], Reporting]:
        """By (area, operator): meters in service reporting at `now`, and those of them on their own SIM."""
        ...

    def returned(self, meter_ids: Sequence[str], after: datetime) -> datetime | None:
        """The latest moment one of these meters went back to its own SIM after `after`, if any did."""
        ...

    def recent(self, since: datetime) -> list[StoredOutage]:
        """Outages still open, and those that began since `since`."""
        ...

    def spanning(self, at: datetime) -> list[Outage]:
        """Outages going on at `at` (give or take `GATHER`)."""
        ...

    def save(self, outages: Sequence[StoredOutage], now: datetime) -> None:
        """Insert those without an id, update the others."""
        ...

    def drop(self, outage_ids: Sequence[int]) -> None:
        """Forget outages another one took over."""
        ...


class OutageUnit(Protocol):
    @property
    def outages(self) -> OutageBook: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class DayRecord:
    """A transformer's day as it is stored: its intervals, balance and judgement."""

    day: TransformerDay
    balance: Balance
    unexplained_w: int | None
    night_w: int | None
    excess_w: int | None
    flagged: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredDay:
    """A transformer's day read back."""

    day: TransformerDay
    unexplained_w: int | None
    night_w: int | None
    excess_w: int | None
    flagged: bool
    computed_at: datetime


class EnergyBook(Protocol):
    def due(self, first: date, now: datetime, every: timedelta) -> dict[date, set[str]]:
        """By IST day from `first`, the transformers whose meters' energy changed since that
        day of theirs was worked out (and not within `every`)."""
        ...

    def transformer_days(self, day: date, transformers: Collection[str] | None = None) -> list[TransformerDay]:
        """The metered transformers' intervals of `day` (of these, or of all), from the readings."""
        ...

    def save(self, records: Sequence[DayRecord], now: datetime) -> None: ...

    def rejudge(self, records: Sequence[DayRecord]) -> None:
        """A new judgement of stored days (intervals and when worked out unchanged)."""
        ...

    def stored(
        self,
        first: date,
        last: date,
        transformer: str | None = None,
        feeder: str | None = None,
        area: str | None = None,
        *,
        among: Collection[str] | None = None,
    ) -> list[StoredDay]: ...

    def flagged(self, first: date, last: date) -> list[StoredDay]: ...

    def consumer_intervals(self, transformer: str, day: date) -> dict[str, list[int | None]]:
        """Each consumer meter's Wh per interval of the day (None: no reading)."""
        ...


class EnergyUnit(Protocol):
    @property
    def energy(self) -> EnergyBook: ...
