"""What the head-end needs from the outside: a broker both ways, and a store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from bijli.headend.command_records import Claimed, CommandRecord, CommandState
from bijli.headend.commands import DispatchPolicy, Step
from bijli.headend.records import (
    BatchLog,
    CounterUpdate,
    DailyRegister,
    KeptFrame,
    KeyCount,
    MeterEvent,
    QuarantineRecord,
    StatusReport,
    TokenRedemption,
)
from bijli.mdm.ports import ReadingEdits, Readings, SettlementQueue

if TYPE_CHECKING:
    from bijli.headend.model import MeterRecord


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message as the broker handed it over; `token` is what acknowledges it.
    `redelivered`: the broker says it handed this very message over before, unacknowledged
    (JetStream counts each message's deliveries; a meter or anyone sending a frame again makes a
    new message, never a redelivery)."""

    topic: str
    payload: bytes
    token: object = None
    redelivered: bool = False


class Uplink(Protocol):
    """Meters' messages, in batches, acknowledged only once they are safely stored."""

    async def next_batch(self, max_messages: int, max_wait_s: float) -> list[Delivery]:
        """Wait for at least one message, then gather more until the first has waited `max_wait_s`."""
        ...

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Tell the broker these are stored; until then it will deliver them again. While the
        store is unavailable the head-end holds its batch and calls neither this nor
        `next_batch`: the broker keeps what is unacknowledged, however long that takes."""
        ...

    def waiting(self) -> int:
        """How many messages have arrived and wait for `next_batch`."""
        ...

    def idle_s(self) -> float:
        """Seconds since the last message arrived; 0 while messages wait for a batch (a
        backlog is work, however long ago it arrived)."""
        ...

    async def close(self) -> None: ...


class Downlink(Protocol):
    """Where sealed commands are published to meters."""

    async def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Publish and return once the broker has taken it; raise BrokerDown if it did not."""
        ...


class BrokerDown(RuntimeError):
    """The broker cannot be reached."""


# ---------------------------------------------------------------------------- the store


class MeterCounters(Protocol):
    """Each meter's frame counters and latest status, as ingest keeps them."""

    def counters_for(self, meter_ids: Iterable[str]) -> dict[str, MeterRecord]:
        """What ingest needs of these meters (status, frame counters), held until the unit of
        work ends, locked in one order (workers never deadlock)."""
        ...

    def update(self, counters: Sequence[CounterUpdate], statuses: Sequence[StatusReport], now: datetime) -> None:
        """New frame counters (seen `now`) and the batch's newest status reports, each status
        taken only if newer than the stored one."""
        ...


class Received(Protocol):
    """What meters send besides readings."""

    def add_events(self, events: Sequence[MeterEvent], now: datetime) -> None: ...
    def add_daily_registers(self, days: Sequence[DailyRegister], now: datetime) -> None: ...
    def add_redemptions(self, redemptions: Sequence[TokenRedemption], now: datetime) -> None: ...


class Quarantine(Protocol):
    """Deliveries set aside with their reason, kept for audit and, for some reasons, reprocessing."""

    def keep(self, records: Sequence[QuarantineRecord], now: datetime) -> None: ...

    def waiting(self, reasons: Sequence[str], meter_id: str | None, after_id: int, limit: int) -> list[KeptFrame]:
        """Up to `limit` kept frames not reprocessed yet, set aside for one of `reasons` (and
        from `meter_id`, if given), with ids above `after_id`, oldest first; held until the
        unit of work ends (another reprocessing run passes them by)."""
        ...

    def mark_reprocessed(self, outcomes: Mapping[int, str], now: datetime) -> None:
        """Record what became of these kept frames (by id) when they were reprocessed `now`."""
        ...


class IngestLog(Protocol):
    def add(self, entry: BatchLog) -> None: ...


class Commands(Protocol):
    """Commands to meters, each change with its entry in the audit trail."""

    def by_key(self, idempotency_key: str) -> CommandRecord | None: ...

    def add(self, command: CommandRecord) -> bool:
        """Store a new command with its history; False (and nothing stored) when its
        idempotency key is taken already."""
        ...

    def states(self, command_ids: Sequence[str]) -> dict[str, CommandState]:
        """Where these commands are, held until the unit of work ends."""
        ...

    def open_of(self, meter_id: str) -> list[CommandState]:
        """The meter's commands that may still move, held until the unit of work ends."""
        ...

    def move(self, command: CommandState, step: Step, now: datetime) -> bool:
        """Apply `step` if the command is still where `command` saw it, and log it; whether it applied."""
        ...


class CommandDispatch(Protocol):
    """The dispatcher's rounds over the stored commands, each in its own transaction;
    several dispatchers may run them side by side."""

    def expire_due(self, now: datetime, policy: DispatchPolicy) -> int: ...
    def confirm_observed(self, now: datetime, policy: DispatchPolicy) -> int: ...
    def claim_due(self, now: datetime, policy: DispatchPolicy) -> Claimed: ...


class MeterKeys(Protocol):
    """Each meter's key version; a meter without a record holds the site's current version."""

    def versions_of(self, meter_ids: Sequence[str]) -> dict[str, int]:
        """The recorded versions of these meters (those without a record are left out)."""
        ...

    def changing(self) -> int:
        """How many meters a key change is still moving: its command to them not settled yet."""
        ...

    def begin_change(self, current: int, to: int, now: datetime) -> list[str]:
        """Record `current` for every registered meter without a record, and `to` as pending
        for every meter in service not on `to` already; those meters' ids, in order."""
        ...

    def switch(self, meter_ids: Sequence[str], now: datetime) -> int:
        """These meters now hold the version they were moving to; how many moved."""
        ...

    def counts(self, current: int) -> list[KeyCount]:
        """Meters by (version, pending), those without a record counted on `current`."""
        ...

    def held(self, current: int, in_service: bool = False) -> dict[str, int]:
        """Every registered meter's version (with `in_service`, only those commissioned),
        those without a record on `current`."""
        ...


class MeterStatuses(Protocol):
    def status_for_command(self, meter_id: str) -> str | None:
        """The meter's status (None: not registered), held against a status change until
        the unit of work ends."""
        ...


class IngestUnit(Protocol):
    """What storing one batch writes, in one transaction."""

    @property
    def readings(self) -> Readings: ...
    @property
    def edits(self) -> ReadingEdits: ...
    @property
    def settlement(self) -> SettlementQueue: ...
    @property
    def meters(self) -> MeterCounters: ...
    @property
    def received(self) -> Received: ...
    @property
    def quarantine(self) -> Quarantine: ...
    @property
    def ingest_log(self) -> IngestLog: ...
    @property
    def commands(self) -> Commands: ...
    @property
    def meter_keys(self) -> MeterKeys: ...


class QuarantineUnit(Protocol):
    @property
    def quarantine(self) -> Quarantine: ...


class CommandUnit(Protocol):
    """What asking a meter for a command reads and writes."""

    @property
    def commands(self) -> Commands: ...
    @property
    def registry(self) -> MeterStatuses: ...
