"""Prepaid rules: what each interval and each day costs, and what a recharge credits.

Charges are posted with cumulative rounding: the energy charge of an interval is the month's
cost to the paisa after it minus the month's cost to the paisa before it. However readings
arrive (late, out of order, twice), a month's charges add up to its exact cost rounded once,
and each charge depends only on the interval's own facts, so posting it again changes nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from bijli.kernel.time import days_in_month, ist_day
from bijli.kernel.units import Paise, Wh, to_paise
from bijli.prepaid.tariff import Tariff
from bijli.protocol.frames import REGISTER_MODULUS


class EntryKind(enum.StrEnum):
    """What a ledger entry is for. Credits are positive, charges negative."""

    OPENING = "opening"
    RECHARGE = "recharge"
    ENERGY = "energy_charge"
    FIXED = "fixed_charge"
    DUTY = "electricity_duty"
    """Duty posted as an entry of its own: only in ledgers written before a charge carried its duty."""
    ADJUSTMENT = "adjustment"
    ARREARS = "arrears"
    """What a consumer owed from before onboarding (negative); kept apart from the prepaid
    balance and recovered from recharges a share at a time."""
    FINAL_SETTLEMENT = "final_settlement"
    """Closing an account: takes its prepaid balance to zero (refund if it was positive)."""
    ARREARS_RECOVERY = "arrears_recovery"
    """The share of a recharge that recovers arrears (negative: it leaves the prepaid balance),
    or, when the payment is refunded, the same share given back to the balance (positive)."""
    REFUND = "refund"
    """A refunded payment reversed (negative: the recharge's amount)."""


ARREARS_KINDS = frozenset({EntryKind.ARREARS})
"""Entries that are owed apart from the prepaid balance (arrears from before onboarding).
What is still owed is their amount less the recoveries (`ARREARS_RECOVERY`, which do leave the
prepaid balance)."""

CHARGE_KINDS = frozenset({EntryKind.ENERGY, EntryKind.FIXED, EntryKind.DUTY})


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
    """Of `amount_paise`, the electricity duty on the charge (same sign): an interval's or a
    day's charge and its duty are one debit, so the ledger takes one entry per interval."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Connection:
    """What the tariff needs to know of a consumer's connection."""

    account_no: str
    meter_id: str
    sanctioned_load_w: int
    tariff: Tariff


def interval_charge(connection: Connection, interval_start: datetime, month_wh_before: Wh, wh: Wh) -> LedgerEntry:
    """The energy charge for one interval's import, with its duty."""
    version = connection.tariff.on(ist_day(interval_start))
    before = version.energy_cost(month_wh_before)
    after = version.energy_cost(month_wh_before + wh)
    energy = to_paise(after) - to_paise(before)
    duty = to_paise(after * version.duty_rate) - to_paise(before * version.duty_rate)
    return LedgerEntry(
        account_no=connection.account_no,
        kind=EntryKind.ENERGY,
        amount_paise=-(energy + duty),
        reference=f"energy:{connection.meter_id}:{_utc(interval_start).isoformat()}",
        period_start=_utc(interval_start),
        energy_wh=wh,
        duty_paise=-duty,
    )


def daily_fixed_charge(connection: Connection, day: date, day_start: datetime) -> LedgerEntry:
    """The fixed charge for one day (a month's charge spread over its days), with its duty."""
    version = connection.tariff.on(day)
    monthly = version.fixed_per_kw_month * Decimal(connection.sanctioned_load_w) / 1000
    n = days_in_month(day)
    through = monthly * day.day / n
    before = monthly * (day.day - 1) / n
    fixed = to_paise(through) - to_paise(before)
    duty = to_paise(through * version.duty_rate) - to_paise(before * version.duty_rate)
    return LedgerEntry(
        account_no=connection.account_no,
        kind=EntryKind.FIXED,
        amount_paise=-(fixed + duty),
        reference=f"fixed:{connection.meter_id}:{day.isoformat()}",
        period_start=day_start,
        duty_paise=-duty,
    )


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


def earliest(a: Wh, b: Wh) -> Wh:
    """Of two readings of a register that rolls over, the one taken first (they are close)."""
    return a if (b - a) % REGISTER_MODULUS < REGISTER_MODULUS // 2 else b


def month_wh_before(import_wh_total: Wh, import_wh: Wh, opening_wh_total: Wh) -> Wh:
    """A month's energy before an interval, from the register at the interval's end, the
    interval's own energy and the register the month opened at (across a rollover too)."""
    return (import_wh_total - import_wh - opening_wh_total) % REGISTER_MODULUS


def _utc(moment: datetime) -> datetime:
    """An aware moment in UTC, so one instant always gives one reference."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no place in the ledger")
    return moment.astimezone(UTC)
