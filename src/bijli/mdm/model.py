"""Meter data as the store keeps it: interval readings, their edits, days of usage. Pure.

Two shapes of a reading, each with one time representation: `IntervalRow` is what ingest
takes from a frame (interval start in epoch seconds, as the frame carries it, through the
whole batch), `StoredReading` is what settlement and VEE read back (an aware UTC datetime).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Final

import msgspec

ReadingKey = tuple[str, datetime]
"""(meter id, interval start)."""
EpochKey = tuple[str, int]
"""(meter id, interval start in epoch seconds)."""


class Quality(StrEnum):
    """Where a stored reading came from."""

    ACTUAL = "actual"
    """Measured and sent by the meter: the only quality that is billed."""
    ESTIMATED = "estimated"
    """Filled in by VEE for a missing interval; replaced by the actual reading when it comes."""


class IntervalRow(msgspec.Struct, frozen=True, gc=False):
    """One interval of a reading frame as ingest stores it (a struct: made once per reading
    on the hot path, at a tenth of a frozen dataclass's cost)."""

    meter_id: str
    interval_start: int
    """Epoch seconds."""
    import_wh: int
    import_vah: int
    export_wh: int
    voltage_dv: int
    current_ma: int
    import_wh_total: int

    @property
    def key(self) -> EpochKey:
        return (self.meter_id, self.interval_start)


class StoredReading(msgspec.Struct, frozen=True, kw_only=True):
    """A reading as stored, actual or estimated."""

    meter_id: str
    interval_start: datetime
    import_wh: int
    import_vah: int
    export_wh: int
    voltage_dv: int
    current_ma: int
    import_wh_total: int
    quality: str = Quality.ACTUAL
    flags: int = 0
    received_at: datetime | None = None

    @property
    def key(self) -> ReadingKey:
        return (self.meter_id, self.interval_start)

    @property
    def actual(self) -> bool:
        return self.quality == Quality.ACTUAL


class EditAction(StrEnum):
    """What an entry of the reading edit log records."""

    ESTIMATED = "estimated"
    REPLACED = "replaced"
    FLAGGED = "flagged"


EDIT_REASON_LENGTH: Final = 128
_AUDITED = ("import_wh", "import_wh_total", "quality", "flags")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadingEdit:
    """One entry of the reading edit log: what a reading was, what it became, and why."""

    meter_id: str
    interval_start: datetime
    action: EditAction
    before: str | None
    """The reading before, as JSON of its audited fields; None for a new one."""
    after: str
    reason: str
    at: datetime


def _audited(reading: StoredReading) -> str:
    return json.dumps({c: getattr(reading, c) for c in _AUDITED})


def edit(
    reading: StoredReading, action: EditAction, reason: str, at: datetime, before: StoredReading | None = None
) -> ReadingEdit:
    """The edit log entry for `reading` as it is now (and as it was, `before`)."""
    return ReadingEdit(
        meter_id=reading.meter_id,
        interval_start=reading.interval_start,
        action=action,
        before=None if before is None else _audited(before),
        after=_audited(reading),
        reason=reason[:EDIT_REASON_LENGTH],
        at=at,
    )


class DayUsage(msgspec.Struct, frozen=True, kw_only=True):
    """Actual energy added to one meter's IST day, and how many of its intervals were received
    in time for the collection report (`bijli.mdm.reports.COLLECTED_WITHIN`)."""

    meter_id: str
    day: date
    wh: int
    intervals: int
    last_received_at: datetime
    in_8h: int = 0
    """Of `intervals`, those received within 8 hours of the day's end."""
    in_24h: int = 0
    """Of `intervals`, those received within 24 hours of the day's end."""
