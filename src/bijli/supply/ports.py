"""What the supply service needs from outside: its table and facts, the alerts outbox, commands.

`SupplyWarnings` is supply's view of the alerts outbox (`bijli.alerts`, on the unit of work as
`uow.alerts`: `raise_alerts`, `warnings_sent`); the SQL store adapts the one to the other
(`bijli.adapters.db.supply_alerts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from bijli.headend.ports import Commands, MeterStatuses
from bijli.supply.model import AccountFacts, Alerting, Outcome, SupplyState, Warned


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


class SupplyWarnings(Protocol):
    def raise_alerts(self, alerts: Mapping[str, Sequence[Alerting]], now: datetime) -> None:
        """Raise each account's alerts in this unit of work (an alert whose fact key exists is
        not raised again)."""
        ...

    def sent(self, since: Mapping[str, datetime]) -> dict[str, list[Warned]]:
        """Each account's warnings delivered (state ``sent``) since its moment, per channel."""
        ...


class SupplyUnit(Protocol):
    @property
    def supply(self) -> SupplyBook: ...
    @property
    def supply_warnings(self) -> SupplyWarnings: ...
    @property
    def commands(self) -> Commands: ...
    @property
    def registry(self) -> MeterStatuses: ...
