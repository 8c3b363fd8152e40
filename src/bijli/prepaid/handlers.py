"""Prepaid use cases: charge what meters measured, close days onto the ledger, credit what
consumers paid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bijli.kernel.time import INTERVAL, ist_day
from bijli.kernel.unit import Transactions
from bijli.prepaid.charging import (
    Account,
    DayCharge,
    Installation,
    IntervalCharge,
    Metered,
    MonthOpening,
    Position,
    closing_entry,
    day_totals,
    derive,
    month_bounds,
    month_of,
    positions,
    price,
)
from bijli.prepaid.forecast import HISTORY_DAYS, Forecast, days_left
from bijli.prepaid.model import recharge
from bijli.prepaid.ports import ChargingUnit, DayKey, ForecastUnit, MonthKey, RechargeUnit, StatementUnit
from bijli.prepaid.statement import (
    Holder,
    Posted,
    Statement,
    in_balance,
    month_window,
    monthly_statement,
    owed_change,
)

CLOSE_AFTER = timedelta(hours=2)
"""A day's charge goes on the ledger once the day ended this long ago; later readings of it
are charged by a correction."""
QUIET = timedelta(minutes=30)
"""...and once no reading has changed it for this long (a meter delivering a day's buffer
after an outage gets one correction, not one per batch)."""
CLOSE_AT_ONCE = 2_000
"""Days closed in one transaction."""


def record_recharge(
    store: Transactions[RechargeUnit], account_no: str, amount_paise: int, payment_reference: str, now: datetime
) -> None:
    """Credit a paid recharge once, however often the payment is reported."""
    with store.transaction() as uow:
        uow.ledger.post([recharge(account_no, amount_paise, payment_reference)], now)


@dataclass(frozen=True, slots=True)
class Charged:
    intervals: int
    days: int
    recounted: int
    """Account-months counted again because their opening moved."""


def charge(uow: ChargingUnit, readings: Sequence[Metered], now: datetime) -> Charged:
    """Charge these newly settled actual readings to their accounts' running day charges (in
    the caller's unit of work). Each is priced from its month's opening register; a late
    reading from before a month already opened (one begun by `now`) moves that month's
    opening, and the month is counted again from its readings."""
    accounts = uow.installations.accounts_of({r.meter_id for r in readings})
    by_meter: dict[str, dict[str, Account]] = {}
    for account in accounts.values():
        for each in account.installations:
            by_meter.setdefault(each.meter_id, {})[account.account_no] = account
    billed: list[tuple[Account, Metered]] = []
    for r in readings:
        for account in by_meter.get(r.meter_id, {}).values():
            if account.installation(r.meter_id, r.interval_start) is not None:
                billed.append((account, r))
    if not billed:
        return Charged(0, 0, 0)
    openings = _open_months(uow, {(a.account_no, month_of(r.interval_start)): a for a, r in billed})
    recount = _moved_openings(uow, billed, openings, now)
    charges: dict[str, list[IntervalCharge]] = {}
    where: dict[MonthKey, dict[Installation, Position]] = {}
    for account, r in billed:
        key = (account.account_no, month_of(r.interval_start))
        if key in recount:
            continue
        inst = account.installation(r.meter_id, r.interval_start)
        if key not in where:
            where[key] = positions(account, key[1], openings[key])
        if inst is not None and inst in where[key]:
            charges.setdefault(account.account_no, []).append(price(account, inst, where[key][inst], r))
    keys: set[DayKey] = {(a, ist_day(c.interval_start)) for a, found in charges.items() for c in found}
    fresh: dict[str, set[date]] = {}
    for a, day in keys - uow.day_charges.known(keys):
        fresh.setdefault(a, set()).add(day)
    added: list[DayCharge] = []
    for account_no, found in sorted(charges.items()):
        added.extend(day_totals(accounts[account_no], found, fresh.get(account_no, set())))
    uow.day_charges.add(added, now)
    for account_no, month in sorted(recount):
        _recount(uow, accounts[account_no], month, recount[(account_no, month)], now)
    return Charged(sum(len(c) for c in charges.values()), len(added), len(recount))


def _open_months(uow: ChargingUnit, months: dict[MonthKey, Account]) -> dict[MonthKey, MonthOpening | None]:
    """Each month's opening: as opened, or from the installation record or the meter's last
    reading before the month (never from whichever reading of the month came first)."""
    openings: dict[MonthKey, MonthOpening | None] = dict(uow.billing_months.opened(months))
    fresh: dict[MonthKey, MonthOpening] = {}
    wanted: dict[MonthKey, tuple[str, datetime, datetime]] = {}
    for key, account in months.items():
        if key in openings:
            continue
        start, _ = month_bounds(key[1])
        inst = account.in_place_at(start)
        if inst is None:
            openings[key] = None  # no meter ran into the month: every meter counts from its installation
            continue
        fresh[key] = MonthOpening(inst.opening_wh_total, inst.installed_at)
        wanted[key] = (inst.meter_id, inst.installed_at, start)
    if fresh:
        found = uow.registers.last_before(wanted.values())
        for key, asked in wanted.items():
            if asked in found:
                fresh[key] = found[asked]
        openings.update(uow.billing_months.claim(fresh))
    return openings


MONTHS_AHEAD = 3
"""How many months after its own a late reading can move the opening of (a meter silent for
longer leaves the months after it counted from the reading before the silence)."""


def _moved_openings(
    uow: ChargingUnit,
    billed: list[tuple[Account, Metered]],
    openings: dict[MonthKey, MonthOpening | None],
    now: datetime,
) -> dict[MonthKey, MonthOpening | None]:
    """The months whose opening these readings move: a reading from before a month (begun by
    `now`) opened at an earlier register, of the meter in place at the month's start."""
    candidates: dict[MonthKey, MonthOpening] = {}
    for account, r in billed:
        end = r.interval_start + INTERVAL
        month = month_of(r.interval_start)
        for _ in range(MONTHS_AHEAD):
            begins = month_bounds(month)[1]
            if begins > now:
                break  # a month not begun has no charges yet
            month = month_of(begins)
            inst = account.in_place_at(begins)
            if inst is None or inst.meter_id != r.meter_id:
                break
            key = (account.account_no, month)
            best = candidates.get(key)
            if best is None or (best.read_at is not None and best.read_at < end):
                candidates[key] = MonthOpening(r.wh_total, end)
    if not candidates:
        return {}
    moved: dict[MonthKey, MonthOpening | None] = {}
    for key, was in uow.billing_months.opened(candidates).items():
        later = candidates[key]
        if was.read_at is not None and later.read_at is not None and was.read_at < later.read_at:
            moved[key] = later
    uow.billing_months.move({k: v for k, v in moved.items() if v is not None})
    openings.update(moved)
    return moved


def _recount(uow: ChargingUnit, account: Account, month: str, opening: MonthOpening | None, now: datetime) -> None:
    """Count an account's month again from its stored readings: its days' charges become what
    they should be, and closed days get a correction when they close again."""
    start, end = month_bounds(month)
    meters = sorted({i.meter_id for i in account.installations})
    charges = derive(account, month, opening, uow.registers.metered(meters, start, end))
    uow.day_charges.put(day_totals(account, charges), now)


def close_days(uow: ChargingUnit, now: datetime, limit: int = CLOSE_AT_ONCE) -> int:
    """Put the charge of days that ended `CLOSE_AFTER` ago and have been `QUIET` since their
    last change on the ledger, one debit per account and day (then a correction for whatever
    changed since); how many entries that made."""
    through: date = ist_day(now - CLOSE_AFTER) - timedelta(days=1)
    due = uow.day_charges.due(through, now - QUIET, limit)
    if not due:
        return 0
    entries = [closing_entry(d) for d in due]
    uow.ledger.post(entries, now)
    uow.day_charges.posted(due)
    return len(entries)


def forecasts(store: Transactions[ForecastUnit], balances: Mapping[str, int], today: date) -> dict[str, Forecast]:
    """Days of credit left for each of these accounts (balance now, paise), read in one batch."""
    with store.transaction() as uow:
        return forecasts_in(uow, balances, today)


def forecasts_in(uow: ForecastUnit, balances: Mapping[str, int], today: date) -> dict[str, Forecast]:
    """`forecasts` inside a unit of work the caller holds (a decision made in its transaction)."""
    history = uow.day_charges.history(list(balances), today - timedelta(days=HISTORY_DAYS), today)
    found = {}
    for account_no, balance in balances.items():
        days = history.get(account_no, {})
        charges = {day: paise for day, (paise, _) in days.items()}
        energy = {day: wh for day, (_, wh) in days.items()}
        found[account_no] = days_left(balance, charges, today, spent_today=charges.get(today, 0), energy=energy)
    return found


def charge_history(
    store: Transactions[ForecastUnit], account_no: str, first: date, last: date
) -> dict[date, tuple[int, int]]:
    """The account's charge (paise: energy, fixed charge and duty; a day not closed yet: its
    running charge) and energy (Wh) per IST day in [first, last]."""
    with store.transaction() as uow:
        return uow.day_charges.history([account_no], first, last).get(account_no, {})


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
    intervals: dict[date, list[IntervalCharge]] = field(default_factory=dict)
    """The derived interval charges of each day in the window (what its day charge holds, with
    the day's fixed charge): `bijli.prepaid.charging.derive`."""

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
        intervals = _derived(uow, account_no, start, end)
    return AccountLedger(
        holder=holder,
        start=start,
        end=end,
        balance_before_paise=before,
        arrears_before_paise=owed,
        entries=entries,
        intervals=intervals,
    )


def _derived(uow: StatementUnit, account_no: str, start: datetime, end: datetime) -> dict[date, list[IntervalCharge]]:
    """The account's interval charges for intervals starting in [start, end), by IST day."""
    account = uow.installations.of_account(account_no)
    if account is None:
        return {}
    months = sorted({month_of(start), month_of(end - INTERVAL)})
    opened = uow.billing_months.opened([(account_no, m) for m in months])
    meters = sorted({i.meter_id for i in account.installations})
    by_day: dict[date, list[IntervalCharge]] = {}
    for month in months:
        first, after = month_bounds(month)
        readings = uow.registers.metered(meters, max(first, start), min(after, end))
        for c in derive(account, month, opened.get((account_no, month)), readings):
            by_day.setdefault(ist_day(c.interval_start), []).append(c)
    return by_day
