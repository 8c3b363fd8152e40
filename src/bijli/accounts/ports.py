"""What putting meters into service and taking them out needs from a store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from bijli.accounts.model import Installation, MeterRegistration
from bijli.headend.ports import Commands
from bijli.mdm.meters import StatusChange
from bijli.prepaid.ports import BillingMonths, Ledger


class Registry(Protocol):
    """The registered meters, their accounts and their status history."""

    def known(self, meter_ids: Iterable[str]) -> set[str]:
        """Which of these meters are registered."""
        ...

    def add(self, registrations: Sequence[MeterRegistration]) -> None:
        """Register new meters in service, with their accounts."""
        ...

    def installations_for(
        self, meter_ids: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[Installation]]:
        """Each meter's installations whose window [installed_at, removed_at) overlaps
        [start, end), oldest first: which account an interval is charged to, and the register
        its first month counts from."""
        ...

    def status_for_change(self, meter_id: str) -> str | None:
        """The meter's status (None: not registered), held until the unit of work ends."""
        ...

    def set_status(self, meter_id: str, current: str, new: str) -> bool:
        """Move the meter from `current` to `new`; False if it was not `current` any more."""
        ...

    def log_change(self, change: StatusChange) -> None: ...

    def history(self, meter_id: str) -> list[StatusChange]:
        """The meter's status changes, newest first."""
        ...


class CommissionUnit(Protocol):
    @property
    def registry(self) -> Registry: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def billing_months(self) -> BillingMonths: ...


class StatusUnit(Protocol):
    @property
    def registry(self) -> Registry: ...
    @property
    def commands(self) -> Commands: ...
