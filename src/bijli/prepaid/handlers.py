"""Prepaid use cases: charge what meters measured, credit what consumers paid."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bijli.kernel.time import INTERVAL, ist_day, ist_midnight, month_key
from bijli.kernel.unit import Transactions
from bijli.prepaid.model import (
    Connection,
    LedgerEntry,
    daily_fixed_charge,
    earliest,
    interval_charge,
    month_wh_before,
    recharge,
)
from bijli.prepaid.ports import ChargingUnit, MonthKey, RechargeUnit, StatementUnit
from bijli.prepaid.statement import (
    Holder,
    Posted,
    Statement,
    in_balance,
    month_window,
    monthly_statement,
    owed_change,
)
from bijli.protocol.frames import REGISTER_MODULUS

Measured = tuple[Connection, datetime, int, int]
"""(connection, interval start, energy in the interval in Wh, import register at its end in Wh)."""


def record_recharge(
    store: Transactions[RechargeUnit], account_no: str, amount_paise: int, payment_reference: str, now: datetime
) -> None:
    """Credit a paid recharge once, however often the payment is reported."""
    with store.transaction() as uow:
        uow.ledger.post([recharge(account_no, amount_paise, payment_reference)], now)


def charges(uow: ChargingUnit, measured: Sequence[Measured]) -> list[LedgerEntry]:
    """The energy charge (with its duty) of each actual interval, and each new day's fixed
    charge, counted from each month's opening register (in the caller's unit of work).

    A month opens at the last reading of the month before where that is stored, else at the
    register at installation, else at the earliest reading of the month seen so far.
    """
    lows: dict[MonthKey, int] = {}
    billed: list[tuple[MonthKey, Measured]] = []
    for item in measured:
        supply, start, wh, total = item
        key = (supply.account_no, month_key(ist_day(start)))
        start_total = (total - wh) % REGISTER_MODULUS
        lows[key] = earliest(lows.get(key, start_total), start_total)
        billed.append((key, item))
    month_starts = {
        (supply.meter_id, ist_midnight(ist_day(start).replace(day=1)) - INTERVAL): key
        for key, (supply, start, _, _) in billed
    }
    for (meter, at), total in uow.readings.registers_at(month_starts).items():
        lows[month_starts[(meter, at)]] = total
    openings = uow.billing_months.claim(lows)
    lowered = {key: low for key, low in lows.items() if earliest(low, openings[key]) != openings[key]}
    if lowered:
        uow.billing_months.lower(lowered)
        openings.update(lowered)
    entries: list[LedgerEntry] = []
    days: set[tuple[str, date]] = set()
    for key, (supply, start, wh, total) in billed:
        entries.append(interval_charge(supply, start, month_wh_before(total, wh, openings[key]), wh))
        day = ist_day(start)
        if (supply.account_no, day) not in days:
            days.add((supply.account_no, day))
            entries.append(daily_fixed_charge(supply, day, ist_midnight(day)))
    return entries


def monthly_statements(
    store: Transactions[StatementUnit], account_nos: Sequence[str], month: str
) -> dict[str, Statement]:
    """The statements of `month` (``YYYY-MM``) of these accounts, for those that exist."""
    start, end = month_window(month)
    with store.transaction() as uow:
        holders = uow.statements.holders(account_nos, start, end)
        found = sorted(holders)
        opening = uow.statements.balances_before(found, start)
        entries = uow.statements.entries_between(found, start, end)
    return {
        a: monthly_statement(holders[a], month, opening[a][0], (e for _, e in entries[a]), arrears_paise=opening[a][1])
        for a in found
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountLedger:
    """An account's entries for moments in a window, with the prepaid balance (and the arrears
    owed) before and after it."""

    holder: Holder
    start: datetime
    end: datetime
    balance_before_paise: int
    arrears_before_paise: int
    entries: list[tuple[int, Posted]]

    @property
    def balance_after_paise(self) -> int:
        return self.balance_before_paise + sum(e.amount_paise for _, e in self.entries if in_balance(e.kind))

    @property
    def arrears_after_paise(self) -> int:
        return self.arrears_before_paise + sum(owed_change(e.kind, e.amount_paise) for _, e in self.entries)


def account_ledger(
    store: Transactions[StatementUnit], account_no: str, start: datetime, end: datetime
) -> AccountLedger | None:
    """The account's ledger in [start, end); None if there is no such account."""
    with store.transaction() as uow:
        holder = uow.statements.holders([account_no], start, end).get(account_no)
        if holder is None:
            return None
        before, owed = uow.statements.balances_before([account_no], start)[account_no]
        entries = uow.statements.entries_between([account_no], start, end)[account_no]
    return AccountLedger(
        holder=holder, start=start, end=end, balance_before_paise=before, arrears_before_paise=owed, entries=entries
    )
