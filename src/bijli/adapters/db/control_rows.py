"""What the control room's lists are made of: the groups of the fleet, the meters' filter and
rows, commands, reconciliation items and ledger lines, and the sorts and views by name. Pure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bijli.adapters.db.queries import MeterView
from bijli.headend.commands import Status
from bijli.kernel.time import INTERVALS_PER_DAY

Level = Literal["area", "feeder", "transformer"]
LEVELS: tuple[Level, ...] = ("area", "feeder", "transformer")
GroupSort = Literal["name", "meters", "online", "sim2", "failovers", "collection", "energy", "losses"]
GROUP_SORTS: tuple[GroupSort, ...] = (
    "name",
    "meters",
    "online",
    "sim2",
    "failovers",
    "collection",
    "energy",
    "losses",
)
MeterSort = Literal["meter", "area", "transformer", "last_seen", "signal", "failovers"]
METER_SORTS: tuple[MeterSort, ...] = ("meter", "area", "transformer", "last_seen", "signal", "failovers")
Exception_ = Literal["offline", "silent", "low_balance", "disconnected", "decommissioned"]
METER_EXCEPTIONS: tuple[Exception_, ...] = ("offline", "silent", "low_balance", "disconnected", "decommissioned")
OPEN_STATUSES = (Status.QUEUED.value, Status.SENT.value, Status.ACKNOWLEDGED.value)
"""A command in one of these has not reached its end yet."""
LOW_LEVEL_PCT = 10
"""A balance the supply service has warned about at this share of the last recharge or below counts as low."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupRow:
    """One area, feeder or transformer: its meters now, and its readings on the day shown."""

    name: str
    area: str
    meters: int
    in_service: int
    online: int
    on_sim2: int
    failovers: int
    intervals: int
    """Intervals stored for the day (actual or estimated), of `in_service` x 96 expected."""
    energy_wh: int
    """Energy its consumers' meters (those on an account) recorded that day."""
    supplied_wh: int | None = None
    """Energy in through its transformers' own meters that day (the energy balance); None: none metered."""
    billed_wh: int | None = None
    """Of it, the energy the balance counted to those transformers' consumers."""
    flagged: bool = False
    """A transformer of it lost more than its threshold that day (network/losses.toml)."""

    @property
    def loss_wh(self) -> int | None:
        return None if self.supplied_wh is None or self.billed_wh is None else self.supplied_wh - self.billed_wh

    @property
    def loss_pct(self) -> float | None:
        loss = self.loss_wh
        return None if loss is None or not self.supplied_wh else 100.0 * loss / self.supplied_wh

    @property
    def online_pct(self) -> float:
        return 100.0 * self.online / self.in_service if self.in_service else 0.0

    @property
    def sim2_pct(self) -> float:
        return 100.0 * self.on_sim2 / self.in_service if self.in_service else 0.0

    @property
    def collection_pct(self) -> float:
        expected = self.in_service * INTERVALS_PER_DAY
        return min(100.0, 100.0 * self.intervals / expected) if expected else 0.0


GROUP_KEYS: dict[GroupSort, Callable[[GroupRow], object]] = {
    "name": lambda g: g.name,
    "meters": lambda g: g.meters,
    "online": lambda g: g.online / g.in_service if g.in_service else None,
    "sim2": lambda g: g.on_sim2 / g.in_service if g.in_service else None,
    "failovers": lambda g: g.failovers,
    "collection": lambda g: g.intervals / g.in_service if g.in_service else None,
    "energy": lambda g: g.energy_wh,
    "losses": lambda g: g.loss_pct,
}
"""What each sort of the groups orders by (None: not known, such as a group with none in service)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterFilter:
    """What the meters list is narrowed to; every field optional."""

    q: str = ""
    """A meter id, account number or consumer name, or the start of one (case ignored)."""
    area: str = ""
    feeder: str = ""
    transformer: str = ""
    exception: Exception_ | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterRow:
    """A meter of the list, with the figures the sorts use."""

    meter: MeterView
    failovers: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandRow:
    command_id: str
    meter_id: str
    action: str
    status: str
    requested_by: str
    reason: str
    created_at: datetime
    updated_at: datetime
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemRow:
    id: int
    kind: str
    meter_id: str | None
    account_no: str | None
    amount_paise: int | None
    detail: str
    opened_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerRow:
    id: int
    kind: str
    amount_paise: int
    reference: str
    posted_at: datetime
    energy_wh: int | None
