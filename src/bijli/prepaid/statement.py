"""A monthly statement: how an account's balance moved in an IST month, and what its
electricity cost slab by slab. Pure: it reads ledger entries and the tariff, nothing else.

An entry belongs to the month of the moment it is for: a charge to its interval's or day's
start, any other entry (a recharge, a refund, an adjustment) to when it was posted. So one
month's closing balance is the next month's opening, and a reading that arrives late is
charged in the month it was used.

The slab lines are the month's energy under the tariff with cumulative rounding (the same
rule `prepaid.model.interval_charge` posts by): each slab's amount is the month's cost to the
paisa at the slab's top minus that at its bottom, so the slab amounts add up exactly to the
month's energy charge. A tariff version that takes effect mid-month prices the energy of its
days from the month's energy so far, as the charges did.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from bijli.kernel.time import ist_day, ist_midnight, month_key
from bijli.kernel.units import Paise, Wh, to_paise
from bijli.prepaid.model import EntryKind, fixed_price
from bijli.prepaid.tariff import Tariff, TariffVersion

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

DAY_CHARGE = EntryKind.DAY_CHARGE.value
"""One account's charges for one IST day: energy, the day's fixed charge and duty together."""
DAY_CORRECTION = EntryKind.DAY_CORRECTION.value
"""What a closed day's energy charge changed by when readings came after it closed."""
ENERGY_KINDS = frozenset({EntryKind.ENERGY.value, DAY_CORRECTION})
"""Charges for energy: what they charge beyond their duty is energy, slab by slab."""
FIXED_KINDS = frozenset({EntryKind.FIXED.value})
DUTY_KINDS = frozenset({EntryKind.DUTY.value})
"""Duty posted as an entry of its own (older ledgers)."""
CHARGE_KINDS = ENERGY_KINDS | FIXED_KINDS | DUTY_KINDS | {DAY_CHARGE}
ARREARS = EntryKind.ARREARS.value
"""What a consumer owed from before onboarding (negative): kept apart from the prepaid
balance; recharges recover it a share at a time (`arrears_recovery`, taken from the balance)."""
ARREARS_RECOVERY = EntryKind.ARREARS_RECOVERY.value


def in_balance(kind: str) -> bool:
    """Whether entries of this kind count in the prepaid balance (arrears do not)."""
    return kind != ARREARS


def owed_change(kind: str, amount_paise: Paise) -> Paise:
    """What an entry changes the arrears owed by: arrears posted add to them, a recovered
    share (negative, taken from the balance) takes them down, a refunded share puts them back."""
    if kind == ARREARS:
        return -amount_paise
    if kind == ARREARS_RECOVERY:
        return amount_paise
    return 0


def month_start(month: str) -> date:
    """The first day of a month written ``YYYY-MM``; ValueError for anything else."""
    found = MONTH.match(month)
    if found is None:
        raise ValueError(f"a month is written YYYY-MM, not {month!r}")
    return date(int(found[1]), int(found[2]), 1)


def next_month(first: date) -> date:
    return date(first.year + (first.month == 12), first.month % 12 + 1, 1)


def month_window(month: str) -> tuple[datetime, datetime]:
    """[start, end) of an IST month, as aware UTC."""
    first = month_start(month)
    return ist_midnight(first), ist_midnight(next_month(first))


@dataclass(frozen=True, slots=True, kw_only=True)
class Posted:
    """One ledger entry as a statement reads it."""

    kind: str
    amount_paise: Paise
    reference: str
    at: datetime
    """The moment the entry is for: its interval's or day's start, else when it was posted."""
    posted_at: datetime
    energy_wh: Wh | None = None
    duty_paise: Paise | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Fitted:
    """A meter's time on the account (an installation), as a statement names it."""

    meter_id: str
    installed_at: datetime
    removed_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Holder:
    """Who and what a statement is for."""

    account_no: str
    consumer_name: str
    meter_id: str | None
    sanctioned_load_w: int
    tariff: Tariff
    language: str = "en"
    """The language the consumer chose: ``hi`` or ``en``."""
    meters: tuple[Fitted, ...] = ()
    """The meters installed on the account at some time in the statement's month, oldest first."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SlabLine:
    """The month's energy in one slab of one tariff version, and what it cost."""

    tariff_label: str
    from_wh: Wh
    up_to_wh: Wh | None
    rate: Decimal
    """Rupees per kWh."""
    energy_wh: Wh
    amount_paise: Paise


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryLine:
    """A ledger entry that is not a charge (a recharge, a refund, an adjustment...), shown as it is."""

    kind: str
    day: date
    reference: str
    amount_paise: Paise


@dataclass(frozen=True, slots=True, kw_only=True)
class Statement:
    """An account's month: opening balance, every credit and other entry, the charges by
    slab, fixed charge and duty, and the closing balance; every figure from the ledger."""

    holder: Holder
    month: str
    first_day: date
    last_day: date
    opening_paise: Paise
    arrears_opening_paise: Paise
    """What the consumer owed from before onboarding at the month's start."""
    entries: tuple[EntryLine, ...]
    """Every entry of the month that is not a charge, oldest first."""
    energy_wh: Wh
    slabs: tuple[SlabLine, ...]
    energy_paise: Paise
    """The month's energy charge as the ledger holds it (without duty)."""
    fixed_paise: Paise
    duty_paise: Paise
    closing_paise: Paise
    arrears_closing_paise: Paise
    """What is still owed of the arrears at the month's end."""
    days_charged: int
    charge_entries: int
    """How many ledger entries the charges add up."""
    tariff_labels: tuple[str, ...] = field(default=())

    @property
    def charges_paise(self) -> Paise:
        """Energy, fixed charge and duty: what the month cost (positive)."""
        return self.energy_paise + self.fixed_paise + self.duty_paise

    @property
    def slab_difference_paise(self) -> Paise:
        """The ledger's energy charge less the slabs' sum: 0 when every interval of the month
        is charged; otherwise energy the register counted but no charge has covered yet."""
        return self.energy_paise - sum(s.amount_paise for s in self.slabs)

    def total(self, kind: str | EntryKind) -> Paise:
        """What entries of one kind added to the balance in the month."""
        return sum(e.amount_paise for e in self.entries if e.kind == kind)

    @property
    def recharges_paise(self) -> Paise:
        return self.total(EntryKind.RECHARGE)

    @property
    def adjustments_paise(self) -> Paise:
        return self.total(EntryKind.ADJUSTMENT)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of the month's non-charge entries, in the order they first appear."""
        return tuple(dict.fromkeys(e.kind for e in self.entries))

    def ties_out(self) -> bool:
        """opening + every credit and other entry - charges = closing; the arrears owed at the
        start + arrears posted - recovered = the arrears owed at the end."""
        moved = sum(e.amount_paise for e in self.entries if in_balance(e.kind))
        owed = sum(owed_change(e.kind, e.amount_paise) for e in self.entries)
        return (
            self.opening_paise + moved - self.charges_paise == self.closing_paise
            and self.arrears_opening_paise + owed == self.arrears_closing_paise
        )


def monthly_statement(
    holder: Holder, month: str, opening_paise: Paise, entries: Iterable[Posted], arrears_paise: Paise = 0
) -> Statement:
    """The statement of `month` from the prepaid balance and the arrears owed before it, and
    the entries for it."""
    first = month_start(month)
    after = next_month(first)
    lines: list[EntryLine] = []
    energy = fixed = duty = 0
    day_wh: dict[date, Wh] = {}
    days: set[date] = set()
    charge_entries = 0
    closing = opening_paise
    owed = arrears_paise
    for e in sorted(entries, key=lambda e: e.at):  # stable: entries at one moment keep the ledger's order
        day = ist_day(e.at)
        if not first <= day < after:
            raise ValueError(f"entry {e.reference} is for {day}, not in {month}")
        owed += owed_change(e.kind, e.amount_paise)
        if in_balance(e.kind):
            closing += e.amount_paise
        if e.kind not in CHARGE_KINDS:
            lines.append(EntryLine(kind=e.kind, day=day, reference=e.reference, amount_paise=e.amount_paise))
            continue
        charge_entries += 1
        days.add(day)
        its_duty = -(e.duty_paise or 0)
        if e.kind == DAY_CHARGE:  # the day's fixed charge is in it, with its duty
            day_fixed = fixed_price(holder.tariff, holder.sanctioned_load_w, day).charge_paise
            fixed += day_fixed
            duty += its_duty
            energy += -e.amount_paise - its_duty - day_fixed
            day_wh[day] = day_wh.get(day, 0) + (e.energy_wh or 0)
        elif e.kind in DUTY_KINDS:
            duty -= e.amount_paise
        elif e.kind in FIXED_KINDS:
            duty += its_duty
            fixed += -e.amount_paise - its_duty
        else:
            duty += its_duty
            energy += -e.amount_paise - its_duty
            day_wh[day] = day_wh.get(day, 0) + (e.energy_wh or 0)
    slabs = slab_lines(holder.tariff, day_wh)
    # A month with no charge names the version in force at its start, if one was (a month
    # before the tariff's first version, asked of an account, has none to name).
    named = days or {d for d in (first,) if holder.tariff.versions and holder.tariff.versions[0].effective_from <= d}
    labels = tuple(dict.fromkeys(_label(holder.tariff.on(d)) for d in sorted(named)))
    return Statement(
        holder=holder,
        month=month_key(first),
        first_day=first,
        last_day=date.fromordinal(after.toordinal() - 1),
        opening_paise=opening_paise,
        arrears_opening_paise=arrears_paise,
        entries=tuple(lines),
        energy_wh=sum(day_wh.values()),
        slabs=slabs,
        energy_paise=energy,
        fixed_paise=fixed,
        duty_paise=duty,
        closing_paise=closing,
        arrears_closing_paise=owed,
        days_charged=len(days),
        charge_entries=charge_entries,
        tariff_labels=labels,
    )


def slab_lines(tariff: Tariff, day_wh: Mapping[date, Wh]) -> tuple[SlabLine, ...]:
    """The month's energy by slab, day by day in the tariff version of each day, with
    cumulative rounding: the amounts add up to the month's energy charge exactly."""
    lines: dict[tuple[str, int], SlabLine] = {}
    month_wh = 0
    for version, run_wh in _runs(tariff, day_wh):
        for line in _slabs_between(version, month_wh, month_wh + run_wh):
            key = (line.tariff_label, line.from_wh)
            known = lines.get(key)
            lines[key] = (
                line
                if known is None
                else SlabLine(
                    tariff_label=known.tariff_label,
                    from_wh=known.from_wh,
                    up_to_wh=known.up_to_wh,
                    rate=known.rate,
                    energy_wh=known.energy_wh + line.energy_wh,
                    amount_paise=known.amount_paise + line.amount_paise,
                )
            )
        month_wh += run_wh
    return tuple(lines.values())


def _runs(tariff: Tariff, day_wh: Mapping[date, Wh]) -> list[tuple[TariffVersion, Wh]]:
    """The month's energy in runs of days under one tariff version, in date order."""
    runs: list[tuple[TariffVersion, Wh]] = []
    for day in sorted(day_wh):
        version = tariff.on(day)
        if runs and runs[-1][0] is version:
            runs[-1] = (version, runs[-1][1] + day_wh[day])
        else:
            runs.append((version, day_wh[day]))
    return runs


def _slabs_between(version: TariffVersion, low: Wh, high: Wh) -> Sequence[SlabLine]:
    """The slab lines for the month's energy from `low` to `high` Wh under one version."""
    found: list[SlabLine] = []
    floor = 0
    for slab in version.slabs:
        top = slab.up_to_wh
        lo = max(floor, low)
        hi = high if top is None else min(top, high)
        if hi > lo:
            amount = to_paise(version.energy_cost(hi)) - to_paise(version.energy_cost(lo))
            found.append(
                SlabLine(
                    tariff_label=_label(version),
                    from_wh=floor,
                    up_to_wh=top,
                    rate=slab.rate,
                    energy_wh=hi - lo,
                    amount_paise=amount,
                )
            )
        if top is None or high <= top:
            break
        floor = top
    return found


def _label(version: TariffVersion) -> str:
    """A tariff version's name on a statement: its label, else the date it took effect."""
    label: str = getattr(version, "label", "")
    return label or f"from {version.effective_from.isoformat()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class IntervalCharge:
    """One 15-minute interval's part of a charge: the meter, the energy, and its price."""

    meter_id: str
    interval_start: datetime
    energy_wh: Wh
    energy_paise: Paise
    duty_paise: Paise
    tariff_label: str


def intervals_behind(holder: Holder, entry: Posted) -> tuple[IntervalCharge, ...]:
    """The intervals a charge was made of (an energy charge posted per interval is one); none
    for a charge that is not for energy, or an entry that is not a charge."""
    if entry.kind not in ENERGY_KINDS or entry.energy_wh is None:
        return ()
    _, meter_id, _ = entry.reference.split(":", 2)
    duty = -(entry.duty_paise or 0)
    return (
        IntervalCharge(
            meter_id=meter_id,
            interval_start=entry.at,
            energy_wh=entry.energy_wh,
            energy_paise=-entry.amount_paise - duty,
            duty_paise=duty,
            tariff_label=_label(holder.tariff.on(ist_day(entry.at))),
        ),
    )
