"""What each interval and each day costs, posted so a month adds up to its exact bill."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from bijli.kernel.time import INTERVAL, IST, days_in_month, ist_midnight
from bijli.kernel.units import to_paise
from bijli.prepaid.model import (
    Connection,
    EntryKind,
    LedgerEntry,
    daily_fixed_charge,
    interval_charge,
    opening,
    recharge,
)
from bijli.prepaid.tariff import builtin_tariffs

LMV1 = builtin_tariffs()["UP-LMV1-DU"]
RATES = LMV1.on(date(2026, 1, 1))
JANUARY = ist_midnight(date(2026, 1, 1))  # 2025-12-31T18:30Z


def connection(sanctioned_load_w: int = 2000) -> Connection:
    return Connection(
        account_no="KESCOCL0000001", meter_id="KNCL0000001", sanctioned_load_w=sanctioned_load_w, tariff=LMV1
    )


def amount(entries: list[LedgerEntry], kind: EntryKind) -> int:
    """The charges of one kind, without their duty."""
    return sum(e.amount_paise - (e.duty_paise or 0) for e in entries if e.kind is kind)


def duty(entries: list[LedgerEntry]) -> int:
    return sum(e.duty_paise or 0 for e in entries)


def interval_charges(c: Connection, start: datetime, before: int, wh: int) -> list[LedgerEntry]:
    return [interval_charge(c, start, before, wh)]


def daily_fixed_charges(c: Connection, day: date, day_start: datetime) -> list[LedgerEntry]:
    return [daily_fixed_charge(c, day, day_start)]


def test_interval_charge_is_the_energy_at_its_slab_rate_plus_duty() -> None:
    entries = interval_charges(connection(), JANUARY, 10_000, 1000)

    assert amount(entries, EntryKind.ENERGY) == -550
    assert duty(entries) == -28  # 5% of Rs 5.50 = 27.5 paise, half up


@pytest.mark.parametrize(
    ("before_wh", "wh", "energy_paise", "duty_paise"),
    # Duty is the change in the month's duty rounded to the paisa, so it follows the month total.
    [
        # 500 Wh at Rs 5.50 and 500 Wh at Rs 6.00: Rs 2.75 + Rs 3.00; duty 41.40 - 41.1125.
        (149_500, 1000, 575, 29),
        # 200 Wh at Rs 6.00 and 200 Wh at Rs 6.50: Rs 1.20 + Rs 1.30; duty 86.315 - 86.19.
        (299_800, 400, 250, 13),
        # Both sides of 100 kWh are Rs 5.50; duty 27.6375 - 27.3625.
        (99_500, 1000, 550, 28),
    ],
    ids=["across-150-kwh", "across-300-kwh", "across-100-kwh"],
)
def test_interval_across_a_slab_edge_charges_each_part_at_its_rate(
    before_wh: int, wh: int, energy_paise: int, duty_paise: int
) -> None:
    entries = interval_charges(connection(), JANUARY, before_wh, wh)

    assert amount(entries, EntryKind.ENERGY) == -energy_paise
    assert duty(entries) == -duty_paise


def test_interval_without_import_costs_nothing() -> None:
    entry = interval_charge(connection(), JANUARY, 123_456, 0)

    assert (entry.amount_paise, entry.duty_paise) == (0, 0)


def test_an_interval_is_one_debit_carrying_its_duty() -> None:
    entry = interval_charge(connection(), JANUARY, 10_000, 1000)

    assert entry.kind is EntryKind.ENERGY
    assert (entry.amount_paise, entry.duty_paise, entry.energy_wh) == (-578, -28, 1000)  # Rs 5.50 + 28 paise duty


def test_a_days_fixed_charge_is_one_debit_carrying_its_duty() -> None:
    day = date(2026, 11, 1)
    entry = daily_fixed_charge(connection(3000), day, ist_midnight(day))

    assert entry.kind is EntryKind.FIXED
    assert (entry.amount_paise, entry.duty_paise) == (-1155, -55)  # Rs 330 / 30 = Rs 11.00, duty 5%


def month_of_charges(wh_per_interval: list[int]) -> list[LedgerEntry]:
    entries: list[LedgerEntry] = []
    before = 0
    for i, wh in enumerate(wh_per_interval):
        entries += interval_charges(connection(), JANUARY + i * INTERVAL, before, wh)
        before += wh
    return entries


def test_many_small_intervals_add_up_to_the_months_cost_rounded_once() -> None:
    intervals = 31 * 96
    assert intervals == 2976
    entries = month_of_charges([37] * intervals)
    cost = RATES.energy_cost(37 * intervals)  # 110.112 kWh: Rs 605.616

    assert amount(entries, EntryKind.ENERGY) == -to_paise(cost) == -60562
    assert duty(entries) == -to_paise(cost * Decimal("0.05")) == -3028


def test_a_month_crossing_every_slab_adds_up_to_its_exact_cost() -> None:
    rng = random.Random(15959)
    wh = [rng.randint(0, 300) for _ in range(31 * 96)]
    entries = month_of_charges(wh)
    cost = RATES.energy_cost(sum(wh))

    assert sum(wh) > 300_000
    assert amount(entries, EntryKind.ENERGY) == -to_paise(cost)
    assert duty(entries) == -to_paise(cost * Decimal("0.05"))


def test_charging_the_same_interval_twice_gives_identical_entries() -> None:
    first = interval_charges(connection(), JANUARY, 40_000, 321)
    again = interval_charges(connection(), JANUARY, 40_000, 321)

    assert first == again
    assert [e.reference for e in first] == [e.reference for e in again]


def test_each_interval_and_each_day_has_its_own_reference() -> None:
    day = date(2026, 1, 1)
    references = [
        interval_charge(connection(), JANUARY, 0, 100).reference,
        interval_charge(connection(), JANUARY + INTERVAL, 100, 100).reference,
        daily_fixed_charge(connection(), day, ist_midnight(day)).reference,
        daily_fixed_charge(connection(), day + timedelta(days=1), ist_midnight(day + timedelta(days=1))).reference,
    ]

    assert len(set(references)) == 4
    assert all("KNCL0000001" in r for r in references)


@pytest.mark.parametrize(
    ("first_day", "days"),
    [(date(2026, 11, 1), 30), (date(2026, 12, 1), 31), (date(2028, 2, 1), 29), (date(2026, 2, 1), 28)],
    ids=["30-days", "31-days", "leap-february", "february"],
)
def test_a_months_daily_fixed_charges_add_up_to_110_rupees_a_kw(first_day: date, days: int) -> None:
    assert days_in_month(first_day) == days
    entries: list[LedgerEntry] = []
    for n in range(days):
        day = first_day + timedelta(days=n)
        entries += daily_fixed_charges(connection(2000), day, ist_midnight(day))

    assert amount(entries, EntryKind.FIXED) == -22_000  # Rs 220.00 for 2 kW
    assert duty(entries) == -1_100  # 5%: Rs 11.00


@pytest.mark.parametrize(("load_w", "rupees"), [(1000, 110), (3000, 330), (7000, 770), (1500, 165)])
def test_fixed_charge_scales_with_the_sanctioned_load(load_w: int, rupees: int) -> None:
    first_day = date(2026, 12, 1)
    entries: list[LedgerEntry] = []
    for n in range(31):
        day = first_day + timedelta(days=n)
        entries += daily_fixed_charges(connection(load_w), day, ist_midnight(day))

    assert amount(entries, EntryKind.FIXED) == -rupees * 100


def test_daily_fixed_charge_differs_by_at_most_a_paisa_from_day_to_day() -> None:
    first_day = date(2026, 11, 1)
    daily = [
        amount(daily_fixed_charges(connection(2000), d, ist_midnight(d)), EntryKind.FIXED)
        for d in (first_day + timedelta(days=n) for n in range(30))
    ]

    assert max(daily) - min(daily) <= 1  # Rs 220 / 30 days = Rs 7.333...


def test_fixed_charge_for_the_same_day_twice_is_identical() -> None:
    day = date(2026, 11, 7)

    assert daily_fixed_charges(connection(), day, ist_midnight(day)) == daily_fixed_charges(
        connection(), day, ist_midnight(day)
    )


def test_recharge_credits_the_amount_once_per_payment_reference() -> None:
    entry = recharge("KESCOCL0000001", 50_000, "pay_123")

    assert entry.kind is EntryKind.RECHARGE
    assert entry.amount_paise == 50_000
    assert entry == recharge("KESCOCL0000001", 50_000, "pay_123")
    assert entry.reference != recharge("KESCOCL0000001", 50_000, "pay_124").reference


@pytest.mark.parametrize("paise", [0, -1, -50_000])
def test_recharge_of_zero_or_less_is_refused(paise: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        recharge("KESCOCL0000001", paise, "pay_123")


def test_opening_balance_is_one_entry_per_account() -> None:
    assert opening("KESCOCL0000001", 25_000) == opening("KESCOCL0000001", 25_000)
    assert opening("KESCOCL0000001", 25_000).amount_paise == 25_000


def test_money_is_integer_paise_never_float() -> None:
    day = date(2026, 11, 7)
    entries = [
        *interval_charges(connection(), JANUARY, 149_777, 1_111),
        *daily_fixed_charges(connection(1500), day, ist_midnight(day)),
        recharge("KESCOCL0000001", 12_345, "pay_1"),
        opening("KESCOCL0000001", 25_000),
    ]

    assert all(type(e.amount_paise) is int for e in entries)
    assert all(e.energy_wh is None or type(e.energy_wh) is int for e in entries)


def test_charges_are_negative_and_credits_positive() -> None:
    charges = interval_charges(connection(), JANUARY, 0, 500)

    assert all(e.amount_paise < 0 for e in charges)
    assert recharge("KESCOCL0000001", 100, "pay_1").amount_paise > 0


@pytest.mark.parametrize("paise", [10.5, True])
def test_recharge_of_a_non_integer_amount_is_refused(paise: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        recharge("KESCOCL0000001", paise, "pay_1")  # type: ignore[arg-type]


def test_interval_reference_is_the_same_for_the_same_instant_in_any_time_zone() -> None:
    in_utc = datetime(2026, 1, 10, 6, 0, tzinfo=UTC)

    assert interval_charges(connection(), in_utc, 0, 100) == interval_charges(
        connection(), in_utc.astimezone(IST), 0, 100
    )
