"""What meter data management needs from a store, as repositories of one unit of work."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import msgspec

from bijli.mdm.meters import StatusChange
from bijli.mdm.model import DayUsage, EpochKey, IntervalRow, ReadingEdit, ReadingKey, StoredReading
from bijli.prepaid.model import Connection
from bijli.prepaid.ports import ChargingUnit

QueuedReading = tuple[str, int, int]
"""(meter id, interval start, when the meter sent it), epoch seconds."""


@dataclass(frozen=True, slots=True)
class QueuedBatch:
    """Readings one ingest batch left for settlement."""

    batch_id: int
    readings: list[tuple[str, datetime, int]]
    """(meter id, interval start, when the meter sent it in epoch seconds)."""


class MeterSupply(msgspec.Struct, frozen=True):
    """What settlement needs of a meter: its consumer's connection (None for a transformer's
    meter) and the relay state it last reported."""

    meter_id: str
    connection: Connection | None
    relay: int | None


class Readings(Protocol):
    """The interval readings, one per (meter, interval)."""

    def store(self, rows: Sequence[IntervalRow], now: datetime) -> set[EpochKey]:
        """Insert actual readings whose (meter, interval) is not stored yet; the keys of those
        that were (duplicates, or estimates to replace), which are left as they are."""
        ...

    def around(self, keys: Iterable[ReadingKey]) -> dict[ReadingKey, StoredReading]:
        """Stored readings at these keys and at the interval before each."""
        ...

    def at(self, keys: Iterable[ReadingKey]) -> dict[ReadingKey, StoredReading]:
        """Stored readings at exactly these keys."""
        ...

    def replace(self, readings: Sequence[StoredReading]) -> None:
        """Put these readings in place of the stored ones at their keys."""
        ...

    def set_flags(self, flags: Sequence[tuple[str, datetime, int]]) -> None:
        """Set the validation flags of stored readings: (meter, interval, flags)."""
        ...

    def registers_at(self, keys: Iterable[ReadingKey]) -> dict[ReadingKey, int]:
        """The import register at the end of these actual readings, where stored."""
        ...

    def incomplete_meters(self, first: datetime, last: datetime, expected: int) -> list[str]:
        """Meters in service with fewer than `expected` readings starting in [first, last]; a
        meter that never reported before `first` is counted from its first reading (one that
        never reported at all is not incomplete: nothing is missing that it could have sent)."""
        ...

    def between(self, meter_ids: Sequence[str], first: datetime, last: datetime) -> dict[str, list[StoredReading]]:
        """Each meter's readings starting in [first, last], oldest first."""
        ...

    def add_estimates(self, readings: Sequence[StoredReading]) -> set[ReadingKey]:
        """Store estimates where nothing is stored yet (a real reading stored meanwhile wins);
        the keys of those written."""
        ...


class ReadingEdits(Protocol):
    def record(self, edits: Sequence[ReadingEdit]) -> None:
        """Append to the edit log."""
        ...


class DailyUsage(Protocol):
    def add(self, days: Sequence[DayUsage]) -> None:
        """Add actual energy and intervals to each meter's day."""
        ...


class SettlementQueue(Protocol):
    """Ingest batches' new actual readings, waiting to be validated, charged and added up."""

    def enqueue(self, readings: Sequence[QueuedReading], now: datetime) -> None: ...

    def newest(self) -> int | None:
        """The id of the newest waiting batch (None: none waits)."""
        ...

    def claim(self, limit: int, last: int | None = None) -> list[QueuedBatch]:
        """The oldest waiting batches (up to `limit`; with `last`, of those up to that id) that
        no other settler holds, held until the unit of work ends."""
        ...

    def done(self, batch_ids: Sequence[int]) -> None: ...


class Supplies(Protocol):
    def supplies(self, meter_ids: Iterable[str]) -> dict[str, MeterSupply]: ...


class Presence(Protocol):
    def last_seen(self, meter_ids: Sequence[str]) -> dict[str, datetime | None]:
        """When each meter last sent an authentic frame."""
        ...


class StatusHistory(Protocol):
    def changes_after(self, meter_ids: Sequence[str], since: datetime) -> dict[str, list[StatusChange]]:
        """Each meter's status changes after `since`, oldest first (meters without any left out)."""
        ...


class SettlementUnit(ChargingUnit, Protocol):
    """What settling a queued batch writes, in one transaction: charging's, and the readings'."""

    @property
    def readings(self) -> Readings: ...
    @property
    def edits(self) -> ReadingEdits: ...
    @property
    def daily(self) -> DailyUsage: ...
    @property
    def settlement(self) -> SettlementQueue: ...
    @property
    def meters(self) -> Supplies: ...


class VeeUnit(Protocol):
    """What a pass of validation and estimation reads and writes."""

    @property
    def readings(self) -> Readings: ...
    @property
    def edits(self) -> ReadingEdits: ...
    @property
    def meters(self) -> Presence: ...
    @property
    def registry(self) -> StatusHistory: ...
