"""What one ingest batch writes besides readings, as typed rows. Pure.

Times a meter sent (interval starts, event times, redemption times) stay in epoch seconds,
as the frames carry them, until the store writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import msgspec


class CounterUpdate(msgspec.Struct, frozen=True, gc=False):
    """A meter that sent authentic frames in the batch: its new frame counter and replay
    window, and the latest new interval it sent (epoch seconds, or None)."""

    meter_id: str
    last_fc: int
    fc_window: int
    latest: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusReport:
    """A meter's newest status frame in the batch; the store takes it only if it is newer
    (by frame counter) than the one it has."""

    meter_id: str
    fc: int
    active_sim: int
    operator: str
    rssi_dbm: int
    relay: int
    balance_mirror_paise: int
    failovers: int
    sim1_s: int
    sim2_s: int
    switched_at: int | None
    """Epoch seconds of the last SIM switch, if any."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DailyRegister:
    """The meter's registers at the start of an IST day (daily profile)."""

    meter_id: str
    day_start: int
    import_wh_total: int
    export_wh_total: int
    import_vah_total: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterEvent:
    meter_id: str
    code: int
    occurred_at: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenRedemption:
    """A recharge token the meter was given over its hotspot, and what it made of it."""

    meter_id: str
    token_id: int
    status: int
    amount_paise: int
    redeemed_at: int


@dataclass(frozen=True, slots=True, kw_only=True)
class QuarantineRecord:
    """A delivery kept only for audit, with the reason it was refused."""

    topic: str
    meter_id: str | None
    reason: str
    detail: str
    payload: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchLog:
    """One committed ingest batch, for operations."""

    worker: str
    committed_at: datetime
    received: int
    readings_stored: int
    readings_duplicate: int
    readings_replaced: int
    quarantined: int


@dataclass(frozen=True, slots=True, kw_only=True)
class KeptFrame:
    """A delivery in the quarantine, as kept: why it was set aside, and, once it was
    reprocessed, when and what became of it."""

    id: int
    received_at: datetime
    topic: str
    meter_id: str | None
    reason: str
    detail: str
    payload: bytes
    reprocessed_at: datetime | None = None
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class KeyCount:
    """How many meters hold `version`, and of them how many a key change moves to `pending`."""

    version: int
    pending: int | None
    meters: int
