"""What the prepaid rules need from a store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Protocol

from bijli.prepaid.charging import Account, DayCharge, Metered, MonthOpening, OpenDay
from bijli.prepaid.model import LedgerEntry
from bijli.prepaid.statement import Holder, Posted

MonthKey = tuple[str, str]
"""(account number, billing month ``YYYY-MM``)."""
DayKey = tuple[str, date]
"""(account number, IST day)."""


class Ledger(Protocol):
    def post(self, entries: Sequence[LedgerEntry], now: datetime) -> None:
        """Append entries; one whose reference is already posted is left alone."""
        ...


class BillingMonths(Protocol):
    """Each account's billing months and the register each month's energy counts from."""

    def claim(self, candidates: Mapping[MonthKey, MonthOpening]) -> dict[MonthKey, MonthOpening]:
        """The opening of these months, taking the candidate for a month not opened yet; the
        months stay locked until the unit of work ends (in one order), so two settlers never
        charge one account's month at once."""
        ...

    def opened(self, keys: Iterable[MonthKey]) -> dict[MonthKey, MonthOpening]:
        """The openings of those of these months that are opened, locked like `claim`."""
        ...

    def move(self, openings: Mapping[MonthKey, MonthOpening]) -> None:
        """Move these months' openings to a register read later (a late reading before the month)."""
        ...


class Registers(Protocol):
    def last_before(
        self, keys: Iterable[tuple[str, datetime, datetime]]
    ) -> dict[tuple[str, datetime, datetime], MonthOpening]:
        """For (meter, installed at, month start): the register at the end of the meter's last
        actual reading ending after its installation and by the month's start, where there is one."""
        ...

    def metered(self, meter_ids: Sequence[str], start: datetime, end: datetime) -> list[Metered]:
        """The actual readings of these meters starting in [start, end)."""
        ...


class Installations(Protocol):
    def accounts_of(self, meter_ids: Iterable[str]) -> dict[str, Account]:
        """Every account any of these meters was installed on, with all its installations."""
        ...

    def of_account(self, account_no: str) -> Account | None:
        """The account with all its installations (None: none of its own)."""
        ...


class DayCharges(Protocol):
    """Each account's running charge per IST day, and what of it the ledger holds."""

    def known(self, keys: Iterable[DayKey]) -> set[DayKey]:
        """Which of these account-days have a charge already."""
        ...

    def add(self, days: Sequence[DayCharge], now: datetime) -> None:
        """Add to these days' charges (a day not known yet starts at what is given), changed `now`."""
        ...

    def put(self, days: Sequence[DayCharge], now: datetime) -> None:
        """Set these days' charges to what is given (a month counted again), changed `now`."""
        ...

    def due(self, through: date, quiet_since: datetime, limit: int) -> list[OpenDay]:
        """Up to `limit` days up to `through`, not changed after `quiet_since`, whose charge is
        not all on the ledger yet (that no other settler holds), held until the unit of work ends."""
        ...

    def posted(self, days: Sequence[OpenDay]) -> None:
        """These days' charges are now all on the ledger."""
        ...


class ChargeHistory(Protocol):
    """Each account's charges per IST day, read in batches (the days-left forecast's history)."""

    def history(self, account_nos: Sequence[str], first: date, last: date) -> dict[str, dict[date, tuple[int, int]]]:
        """For each of these accounts that has any: its charge (energy, fixed charge and duty,
        paise; the running charge for a day not closed yet) and its energy (Wh) per IST day
        in [first, last]."""
        ...


class ForecastUnit(Protocol):
    @property
    def day_charges(self) -> ChargeHistory: ...


class ChargingUnit(Protocol):
    """What charging readings reads and writes."""

    @property
    def ledger(self) -> Ledger: ...
    @property
    def billing_months(self) -> BillingMonths: ...
    @property
    def registers(self) -> Registers: ...
    @property
    def installations(self) -> Installations: ...
    @property
    def day_charges(self) -> DayCharges: ...


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
    @property
    def installations(self) -> Installations: ...
    @property
    def billing_months(self) -> BillingMonths: ...
    @property
    def registers(self) -> Registers: ...
