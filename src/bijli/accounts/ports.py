"""What putting meters into service and taking them out needs from a store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from bijli.accounts.model import Account, AccountTerms, Consumer, Installation, MeterSite
from bijli.headend.ports import Commands
from bijli.mdm.meters import StatusChange
from bijli.prepaid.ports import BillingMonths, Ledger


class Registry(Protocol):
    """The registered meters, their accounts and their status history."""

    def known(self, meter_ids: Iterable[str]) -> set[str]:
        """Which of these meters are registered."""
        ...

    def sites(self, meter_ids: Sequence[str]) -> dict[str, tuple[MeterSite, str]]:
        """Registered meters among these: where each sits, and its status."""
        ...

    def register(self, sites: Sequence[tuple[MeterSite, datetime]]) -> None:
        """Register new meters in service (commissioned) from when each went in, their frame
        counters at zero."""
        ...

    def move(self, sites: Sequence[MeterSite]) -> None:
        """Record where registered meters sit now (area, feeder, transformer, phases)."""
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


class Accounts(Protocol):
    """Consumers, their accounts and the meters' installations on them."""

    def hold(self) -> None:
        """Hold onboarding for this unit of work: one request's checks and writes at a time."""
        ...

    def consumers(self, consumer_ids: Sequence[str]) -> dict[str, Consumer]: ...

    def add_consumers(self, consumers: Sequence[Consumer]) -> None: ...

    def update_consumers(self, consumers: Sequence[Consumer]) -> None:
        """New details of registered consumers (their accounts' SMS number and name with them)."""
        ...

    def accounts(self, account_nos: Sequence[str]) -> dict[str, Account]: ...

    def accounts_of(self, consumer_id: str) -> list[Account]:
        """The consumer's accounts, in account-number order."""
        ...

    def open_accounts(self, accounts: Sequence[Account], holders: Mapping[str, Consumer]) -> None:
        """New accounts, each held by one of `holders` (by consumer id), with the meter its
        installation (in this unit of work) puts on it."""
        ...

    def set_terms(self, terms: Mapping[str, AccountTerms]) -> None:
        """New tariff category, sanctioned load or arrears share of accounts."""
        ...

    def installed(self, meter_ids: Sequence[str]) -> dict[str, Installation]:
        """The open installation of each of these meters that has one."""
        ...

    def meters_removed(self, meter_ids: Sequence[str]) -> dict[str, datetime]:
        """When each of these meters last came off an account (those that ever did)."""
        ...

    def accounts_removed(self, account_nos: Sequence[str]) -> dict[str, datetime]:
        """When each of these accounts last had a meter taken off (those that ever did)."""
        ...

    def installations(self, account_no: str) -> list[Installation]:
        """The account's installations, oldest first."""
        ...

    def install(self, installations: Sequence[Installation]) -> None:
        """Open installations; each becomes its account's meter."""
        ...

    def remove(self, meter_id: str, at: datetime, closing_wh_total: int, reason: str) -> None:
        """Close the meter's open installation; its account has no meter until the next."""
        ...

    def close(self, account_no: str, at: datetime) -> None: ...

    def posted(self, account_nos: Sequence[str]) -> dict[str, dict[str, int]]:
        """The ledger entries onboarding posted for these accounts (opening balance,
        arrears), by reference, in paise."""
        ...

    def balance(self, account_no: str) -> tuple[int, int]:
        """The account's prepaid balance and the arrears it owes now, in paise."""
        ...


class OnboardingUnit(Protocol):
    @property
    def registry(self) -> Registry: ...
    @property
    def accounts(self) -> Accounts: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def billing_months(self) -> BillingMonths: ...
    @property
    def commands(self) -> Commands: ...


class StatusUnit(Protocol):
    @property
    def registry(self) -> Registry: ...
    @property
    def commands(self) -> Commands: ...
