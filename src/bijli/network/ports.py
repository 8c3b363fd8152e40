"""What the energy accounting needs from outside: the readings as transformers' days, and a
table for the days worked out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from bijli.network.balance import Balance, TransformerDay


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
    def days_due(self, first: date, now: datetime, every: timedelta) -> list[date]:
        """IST days from `first` whose energy changed since their balance was worked out."""
        ...

    def transformer_days(self, day: date) -> list[TransformerDay]:
        """Every metered transformer's intervals of `day`, from the readings."""
        ...

    def save(self, records: Sequence[DayRecord], now: datetime) -> None: ...

    def stored(
        self,
        first: date,
        last: date,
        transformer: str | None = None,
        feeder: str | None = None,
        area: str | None = None,
    ) -> list[StoredDay]: ...

    def flagged(self, first: date, last: date) -> list[StoredDay]: ...

    def consumer_intervals(self, transformer: str, day: date) -> dict[str, list[int | None]]:
        """Each consumer meter's Wh per interval of the day (None: no reading)."""
        ...


class EnergyUnit(Protocol):
    @property
    def energy(self) -> EnergyBook: ...
