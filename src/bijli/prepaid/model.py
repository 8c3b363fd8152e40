"""Prepaid rules: the ledger's entries, what energy and a day's fixed charge cost, and what
a recharge credits.

Prices use cumulative rounding: the energy charge of an interval is the month's cost to the
paisa after it minus the month's cost to the paisa before it, so a month's charges add up to
its exact cost rounded once. `bijli.prepaid.charging` says which energy of which month an
interval is; docs/billing.md tells the whole story.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import msgspec

from bijli.kernel.time import days_in_month, ist_day
from bijli.kernel.units import Paise, Wh, to_paise
from bijli.prepaid.tariff import Tariff


class EntryKind(enum.StrEnum):
    """What a ledger entry is for. Credits are positive, charges negative. The one list of
    kinds: every area that posts adds its kind here."""

    OPENING = "opening"
    """The balance an account starts with (onboarding)."""
    ARREARS = "arrears"
    """Arrears at onboarding (negative)."""
    RECHARGE = "recharge"
    ARREARS_RECOVERY = "arrears_recovery"
    """The share of a recharge that recovers arrears (negative: it leaves the prepaid balance),
    or, when the payment is refunded, the same share given back to the balance (positive)."""
    REFUND = "refund"
    """A refunded payment reversed (negative: the recharge's amount)."""
    REVERSAL = "reversal"
    """A refunded payment taken back."""
    DAY_CHARGE = "day_charge"
    """One account's charges for one IST day: energy, fixed charge and duty (docs/billing.md)."""
    DAY_CORRECTION = "day_correction"
    """What a closed day's charge changed by when readings came after it closed."""
    ENERGY = "energy_charge"
    """One interval's charge: only in ledgers written before migration 0013 (history)."""
    FIXED = "fixed_charge"
    """One meter-day's fixed charge: only in ledgers written before migration 0013 (history)."""
    DUTY = "electricity_duty"
    """Duty posted as an entry of its own: only in ledgers written before a charge carried its duty."""
    ADJUSTMENT = "adjustment"
    FINAL_SETTLEMENT = "final_settlement"
    """Closing an account (onboarding)."""


ARREARS_KINDS = frozenset({EntryKind.ARREARS})
"""Entries that are owed apart from the prepaid balance (arrears from before onboarding).
What is still owed is their amount less the recoveries (`ARREARS_RECOVERY`, which do leave the
prepaid balance)."""

CHARGE_KINDS = frozenset(
    {EntryKind.DAY_CHARGE, EntryKind.DAY_CORRECTION, EntryKind.ENERGY, EntryKind.FIXED, EntryKind.DUTY}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerEntry:
    """One append-only line of an account's ledger; `reference` makes it happen once."""

    account_no: str
    kind: EntryKind
    amount_paise: Paise
    reference: str
    period_start: datetime | None = None
    energy_wh: Wh | None = None
    duty_paise: Paise | None = None
    """Of `amount_paise`, the electricity duty on the charge (same sign)."""
    tariff_version: str | None = None
    """The label of the tariff version a charge was made with."""


class Connection(msgspec.Struct, frozen=True, kw_only=True):
    """What the tariff needs to know of a consumer's connection."""

    account_no: str
    meter_id: str
    sanctioned_load_w: int
    tariff: Tariff


class Priced(msgspec.Struct, frozen=True, kw_only=True):
    """What some energy or a day's fixed charge costs: the charge and the duty on it, paise."""

    charge_paise: Paise
    duty_paise: Paise
    tariff_version: str

    @property
    def total_paise(self) -> Paise:
        return self.charge_paise + self.duty_paise


def energy_price(tariff: Tariff, interval_start: datetime, month_wh_before: Wh, wh: Wh) -> Priced:
    """The energy charge of `wh` after `month_wh_before` of the month, with its duty, by
    cumulative rounding (the month's cost to the paisa after it minus before it)."""
    version = tariff.on(ist_day(interval_start))
    before = version.energy_cost(month_wh_before)
    after = version.energy_cost(month_wh_before + wh)
    energy = to_paise(after) - to_paise(before)
    duty = to_paise(after * version.duty_rate) - to_paise(before * version.duty_rate)
    return Priced(charge_paise=energy, duty_paise=duty, tariff_version=version.label)


def fixed_price(tariff: Tariff, sanctioned_load_w: int, day: date) -> Priced:
    """The fixed charge for one day (a month's charge spread over its days), with its duty."""
    version = tariff.on(day)
    monthly = version.fixed_per_kw_month * Decimal(sanctioned_load_w) / 1000
    n = days_in_month(day)
    through = monthly * day.day / n
    before = monthly * (day.day - 1) / n
    fixed = to_paise(through) - to_paise(before)
    duty = to_paise(through * version.duty_rate) - to_paise(before * version.duty_rate)
    return Priced(charge_paise=fixed, duty_paise=duty, tariff_version=version.label)


def recharge(account_no: str, amount_paise: Paise, payment_reference: str) -> LedgerEntry:
    """A credit for a payment; the payment reference makes it count once."""
    if type(amount_paise) is not int:
        raise TypeError("a recharge amount is whole paise (int)")
    if amount_paise <= 0:
        raise ValueError("a recharge must be a positive amount")
    return LedgerEntry(
        account_no=account_no,
        kind=EntryKind.RECHARGE,
        amount_paise=amount_paise,
        reference=f"recharge:{payment_reference}",
    )


def opening(account_no: str, amount_paise: Paise) -> LedgerEntry:
    """The balance an account starts with."""
    return LedgerEntry(
        account_no=account_no,
        kind=EntryKind.OPENING,
        amount_paise=amount_paise,
        reference=f"opening:{account_no}",
    )


def _utc(moment: datetime) -> datetime:
    """An aware moment in UTC, so one instant always gives one reference."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no place in the ledger")
    return moment.astimezone(UTC)
