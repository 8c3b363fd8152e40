"""What each interval and each day of an account costs, from facts only. Pure.

An interval's energy is counted in its account's month from the month's opening register:
the installation's opening register for a meter installed during the month, else the register
the meter had at the month's start (the end of its last actual reading before the month), and
a meter replaced during the month passes on what it measured (its closing register at removal
minus its opening). Nothing before installation or after removal is charged. So an interval's
charge depends only on its own reading, the month's opening and the installation records,
never on which reading arrived first; `derive` recomputes a month's interval charges the same
every time, and `day_totals` adds them up into the account's day charges the ledger holds.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import msgspec

from bijli.kernel.time import INTERVAL, ist_day, ist_midnight, month_key
from bijli.kernel.units import Paise, Wh
from bijli.prepaid.model import EntryKind, LedgerEntry, energy_price, fixed_price
from bijli.prepaid.tariff import Tariff
from bijli.protocol.frames import REGISTER_MODULUS


class Installation(msgspec.Struct, frozen=True, kw_only=True):
    """A meter's time on an account: charged from `installed_at` (counting from the opening
    register) until `removed_at` (None while it is installed). The record is the accounts
    area's; charging reads it."""

    account_no: str
    meter_id: str
    installed_at: datetime
    opening_wh_total: Wh
    """The import register at installation."""
    removed_at: datetime | None = None
    closing_wh_total: Wh | None = None
    """The import register at removal."""
    reason: str = ""
    """Why it was installed or removed (a replacement, a closure)."""

    def covers(self, interval_start: datetime) -> bool:
        """Whether some of the interval from `interval_start` falls while the meter was installed."""
        return interval_start + INTERVAL > self.installed_at and (
            self.removed_at is None or interval_start < self.removed_at
        )


class Account(msgspec.Struct, frozen=True, kw_only=True):
    """An account as charging sees it: its connection and its meters' installations, oldest first."""

    account_no: str
    sanctioned_load_w: int
    tariff: Tariff
    installations: tuple[Installation, ...]

    def installation(self, meter_id: str, interval_start: datetime) -> Installation | None:
        """The installation an interval of this meter is charged under, if any."""
        for inst in self.installations:
            if inst.meter_id == meter_id and inst.covers(interval_start):
                return inst
        return None

    def in_place_at(self, moment: datetime) -> Installation | None:
        """The installation that was in place before `moment` and still at it."""
        for inst in self.installations:
            if inst.installed_at < moment and (inst.removed_at is None or inst.removed_at > moment):
                return inst
        return None


class MonthOpening(msgspec.Struct, frozen=True):
    """The register a month's energy counts from, for the meter in place at the month's start."""

    wh_total: Wh
    read_at: datetime | None
    """When that register was read: the end of the reading it comes from, or the installation;
    None for an opening recorded before openings were facts (it is never moved)."""


class Metered(msgspec.Struct, frozen=True):
    """An actual reading as charging needs it."""

    meter_id: str
    interval_start: datetime
    wh: Wh
    wh_total: Wh
    """The import register at the interval's end."""


class IntervalCharge(msgspec.Struct, frozen=True, kw_only=True):
    """One interval's charge: derived, never stored; the same every time it is recomputed."""

    account_no: str
    meter_id: str
    interval_start: datetime
    wh: Wh
    """Energy charged: the interval's import while the meter was installed."""
    month_wh_before: Wh
    """The account's energy of the month before this interval."""
    energy_paise: Paise
    duty_paise: Paise
    tariff_version: str

    @property
    def total_paise(self) -> Paise:
        return self.energy_paise + self.duty_paise


class DayCharge(msgspec.Struct, frozen=True, kw_only=True):
    """An account's charges for one IST day (or what a day's charges grow by): positive paise."""

    account_no: str
    day: date
    charge_paise: Paise
    """Energy, fixed charge and duty."""
    duty_paise: Paise
    energy_wh: Wh
    tariff_version: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenDay:
    """A day's running charge next to what the ledger holds of it."""

    account_no: str
    day: date
    charge_paise: Paise
    duty_paise: Paise
    energy_wh: Wh
    tariff_version: str
    posted_paise: Paise
    posted_duty_paise: Paise
    posted_energy_wh: Wh
    postings: int


@functools.lru_cache(maxsize=256)
def month_bounds(month: str) -> tuple[datetime, datetime]:
    """A billing month ``YYYY-MM``'s first and next month's first IST midnight."""
    year, mon = int(month[:4]), int(month[5:7])
    first = date(year, mon, 1)
    following = date(year + mon // 12, mon % 12 + 1, 1)
    return ist_midnight(first), ist_midnight(following)


@functools.lru_cache(maxsize=8192)
def month_of(interval_start: datetime) -> str:
    """The billing month (IST) an interval starting then is in."""
    return month_key(ist_day(interval_start))


def since(register: Wh, opening: Wh) -> Wh:
    """Energy from `opening` to `register` across a rollover; a register below its opening
    (a reading from before it) counts nothing."""
    wh = (register - opening) % REGISTER_MODULUS
    return 0 if wh >= REGISTER_MODULUS // 2 else wh


class Position(msgspec.Struct, frozen=True):
    """Where an installation's energy sits in its account's month."""

    opening_wh_total: Wh
    carried_wh: Wh
    """Energy of the month measured by the account's meters before this one."""


def positions(account: Account, month: str, opening: MonthOpening | None) -> dict[Installation, Position]:
    """Each installation of the month with the register it counts from and the energy before it."""
    start, end = month_bounds(month)
    found: dict[Installation, Position] = {}
    carried = 0
    for inst in account.installations:
        if inst.installed_at >= end or (inst.removed_at is not None and inst.removed_at <= start):
            continue
        carried_over = inst.installed_at < start and opening is not None
        counted_from = opening.wh_total if carried_over and opening is not None else inst.opening_wh_total
        found[inst] = Position(counted_from, carried)
        if inst.closing_wh_total is not None:
            carried += since(inst.closing_wh_total, counted_from)
    return found


def price(account: Account, inst: Installation, at: Position, reading: Metered) -> IntervalCharge:
    """One interval's charge, from its reading and where its meter's energy sits in the month."""
    end = since(reading.wh_total, at.opening_wh_total)
    begin = max(0, end - reading.wh)
    if inst.closing_wh_total is not None:
        cap = since(inst.closing_wh_total, at.opening_wh_total)
        begin, end = min(begin, cap), min(end, cap)
    before = at.carried_wh + begin
    priced = energy_price(account.tariff, reading.interval_start, before, end - begin)
    return IntervalCharge(
        account_no=account.account_no,
        meter_id=reading.meter_id,
        interval_start=reading.interval_start,
        wh=end - begin,
        month_wh_before=before,
        energy_paise=priced.charge_paise,
        duty_paise=priced.duty_paise,
        tariff_version=priced.tariff_version,
    )


def derive(
    account: Account, month: str, opening: MonthOpening | None, readings: Iterable[Metered]
) -> list[IntervalCharge]:
    """Every interval charge of the account's month from its actual readings, by interval."""
    where = positions(account, month, opening)
    found = []
    for r in readings:
        if month_of(r.interval_start) != month:
            continue
        inst = account.installation(r.meter_id, r.interval_start)
        if inst is not None and inst in where:
            found.append(price(account, inst, where[inst], r))
    return sorted(found, key=lambda c: (c.interval_start, c.meter_id))


def day_totals(
    account: Account, charges: Sequence[IntervalCharge], new_days: Iterable[date] | None = None
) -> list[DayCharge]:
    """The account's day charges from interval charges, with each day's fixed charge: on every
    day with a charged interval, or only on `new_days` when adding to days already running."""
    days: dict[date, list[IntervalCharge]] = {}
    for c in charges:
        days.setdefault(ist_day(c.interval_start), []).append(c)
    fixed_on = set(days) if new_days is None else set(new_days) & set(days)
    totals = []
    for day, found in sorted(days.items()):
        charge = sum(c.total_paise for c in found)
        duty = sum(c.duty_paise for c in found)
        version = found[-1].tariff_version
        if day in fixed_on:
            fixed = fixed_price(account.tariff, account.sanctioned_load_w, day)
            charge += fixed.total_paise
            duty += fixed.duty_paise
            version = fixed.tariff_version
        totals.append(
            DayCharge(
                account_no=account.account_no,
                day=day,
                charge_paise=charge,
                duty_paise=duty,
                energy_wh=sum(c.wh for c in found),
                tariff_version=version,
            )
        )
    return totals


def closing_entry(day: OpenDay) -> LedgerEntry:
    """What a day's charge puts on the ledger when it closes: the first time the day's debit,
    afterwards a correction by what changed since (its own reference each time)."""
    first = day.postings == 0
    return LedgerEntry(
        account_no=day.account_no,
        kind=EntryKind.DAY_CHARGE if first else EntryKind.DAY_CORRECTION,
        amount_paise=-(day.charge_paise - day.posted_paise),
        reference=f"day:{day.account_no}:{day.day.isoformat()}" + ("" if first else f":{day.postings}"),
        period_start=ist_midnight(day.day),
        energy_wh=day.energy_wh - day.posted_energy_wh,
        duty_paise=-(day.duty_paise - day.posted_duty_paise),
        tariff_version=day.tariff_version,
    )
