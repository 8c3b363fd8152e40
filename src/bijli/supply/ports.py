"""What the supply service needs from outside: its table and facts, the alerts outbox, commands.

The alerts outbox is the alerts area's own port (`bijli.alerts.ports.Outbox`, `uow.alerts`):
supply raises its warnings with `raise_alerts` in the decision's transaction and counts what
reached the consumer with `warnings_sent`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bijli.alerts.ports import Outbox
from bijli.headend.ports import Commands, MeterStatuses
from bijli.prepaid.ports import ChargeHistory
from bijli.supply.model import AccountFacts, Outcome, SupplyState


class SupplyBook(Protocol):
    def claim_due(self, now: datetime, limit: int) -> list[SupplyState]:
        """Accounts whose next check has come, oldest first, held until the unit of work ends
        (another worker skips them)."""
        ...

    def facts(self, account_nos: Sequence[str]) -> dict[str, AccountFacts]:
        """Active accounts' balances, last recharges and relays (no entry: closed or unknown)."""
        ...

    def outcomes(self, command_ids: Sequence[str]) -> dict[str, Outcome]: ...

    def save(self, states: Sequence[SupplyState], now: datetime) -> None: ...


class SupplyUnit(Protocol):
    @property
    def supply(self) -> SupplyBook: ...
    @property
    def alerts(self) -> Outbox: ...
    @property
    def commands(self) -> Commands: ...
    @property
    def registry(self) -> MeterStatuses: ...
    @property
    def day_charges(self) -> ChargeHistory: ...
