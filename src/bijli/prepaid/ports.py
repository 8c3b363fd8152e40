"""What the prepaid rules need from a store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from bijli.prepaid.model import LedgerEntry
from bijli.prepaid.statement import Holder, Posted

MonthKey = tuple[str, str]
"""(account number, billing month ``YYYY-MM``)."""


class Ledger(Protocol):
    def post(self, entries: Sequence[LedgerEntry], now: datetime) -> None:
        """Append entries; one whose reference is already posted is left alone."""
        ...


class BillingMonths(Protocol):
    """Each account's billing months and the register each month's energy counts from."""

    def claim(self, candidates: Mapping[MonthKey, int]) -> dict[MonthKey, int]:
        """The opening register of these months, taking the candidate for a month not opened
        yet; the months stay locked until the unit of work ends (in one order), so two
        settlers never charge one account's month at once."""
        ...

    def lower(self, openings: Mapping[MonthKey, int]) -> None:
        """Move these months' opening registers to an earlier reading."""
        ...


class Registers(Protocol):
    def registers_at(self, keys: Iterable[tuple[str, datetime]]) -> Mapping[tuple[str, datetime], int]:
        """The import register at the end of these actual readings, where stored."""
        ...


class ChargingUnit(Protocol):
    """What charging readings reads and writes."""

    @property
    def ledger(self) -> Ledger: ...
    @property
    def billing_months(self) -> BillingMonths: ...
    @property
    def readings(self) -> Registers: ...


class RechargeUnit(Protocol):
    @property
    def ledger(self) -> Ledger: ...


class StatementBooks(Protocol):
    """The accounts and the ledger, read for statements and the account ledger."""

    def holders(self, account_nos: Sequence[str], start: datetime, end: datetime) -> dict[str, Holder]:
        """Who and what each account is, for those that exist, with the meters installed on it
        at some time in [start, end)."""
        ...

    def balances_before(self, account_nos: Sequence[str], moment: datetime) -> dict[str, tuple[int, int]]:
        """Each account's prepaid balance and arrears owed, from its entries for moments before `moment`."""
        ...

    def entries_between(
        self, account_nos: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[tuple[int, Posted]]]:
        """Each account's entries for moments in [start, end) with their ledger ids, in time order."""
        ...


class StatementUnit(Protocol):
    @property
    def statements(self) -> StatementBooks: ...
