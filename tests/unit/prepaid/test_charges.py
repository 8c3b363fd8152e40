"""What energy and each day cost, priced so a month adds up to its exact bill."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

import pytest

from bijli.kernel.time import INTERVAL, IST, days_in_month, ist_midnight
from bijli.kernel.units import to_paise
from bijli.prepaid.model import EntryKind, energy_price, fixed_price, opening, recharge
from bijli.prepaid.tariff import builtin_tariffs

LMV1 = builtin_tariffs()["UP-LMV1-DU"]
RATES = LMV1.on(date(2026, 1, 1))
JANUARY = ist_midnight(date(2026, 1, 1))  # 2025-12-31T18:30Z


class Charged(NamedTuple):
    energy: int
    duty: int


def charged(start: datetime, before: int, wh: int) -> Charged:
    priced = energy_price(LMV1, start, before, wh)
    return Charged(priced.charge_paise, priced.duty_paise)


def test_interval_charge_is_the_energy_at_its_slab_rate_plus_duty() -> None:
    assert charged(JANUARY, 10_000, 1000) == (550, 28)  # 5% of Rs 5.50 = 27.5 paise, half up


@pytest.mark.parametrize(
    ("before_wh", "wh", "energy_paise", "duty_paise"),
    # Duty is the change in the month's duty rounded to the paisa, so it follows the month total.
    [
        # 500 Wh at Rs 5.50 and 500 Wh at Rs 6.00: Rs 2.75 + Rs 3.00; duty 41.40 - 41.1125.
        (149_500, 1000, 575, 29),
        # 200 Wh at Rs 6.00 and 200 Wh at Rs 6.50: Rs 1.20 + Rs 1.30; duty 86.315 - 86.19.
        (299_800, 400, 250, 13),
        # 200 Wh at Rs 6.50 and 200 Wh at Rs 7.00: Rs 1.30 + Rs 1.40; duty 151.32 - 151.185.
        (499_800, 400, 270, 13),
        # 100 kWh is no edge (the FY 2019-20 order's first slab runs to 150 kWh); duty 27.6375 - 27.3625.
        (99_500, 1000, 550, 28),
    ],
    ids=["across-150-kwh", "across-300-kwh", "across-500-kwh", "across-100-kwh"],
)
def test_interval_across_a_slab_edge_charges_each_part_at_its_rate(
    before_wh: int, wh: int, energy_paise: int, duty_paise: int
) -> None:
    assert charged(JANUARY, before_wh, wh) == (energy_paise, duty_paise)


def test_interval_without_import_costs_nothing() -> None:
    assert charged(JANUARY, 123_456, 0) == (0, 0)


def test_a_charge_names_the_tariff_version_it_used() -> None:
    assert energy_price(LMV1, JANUARY, 0, 100).tariff_version == "UPERC-TO-2019-20"
    assert fixed_price(LMV1, 1000, date(2026, 1, 1)).tariff_version == "UPERC-TO-2019-20"


def test_a_days_fixed_charge_carries_its_duty() -> None:
    priced = fixed_price(LMV1, 3000, date(2026, 11, 1))

    assert (priced.charge_paise, priced.duty_paise) == (1100, 55)  # Rs 330 / 30 = Rs 11.00, duty 5%


def month_of_charges(wh_per_interval: list[int]) -> Charged:
    energy = duty = before = 0
    for i, wh in enumerate(wh_per_interval):
        one = charged(JANUARY + i * INTERVAL, before, wh)
        energy, duty, before = energy + one.energy, duty + one.duty, before + wh
    return Charged(energy, duty)


def test_many_small_intervals_add_up_to_the_months_cost_rounded_once() -> None:
    intervals = 31 * 96
    assert intervals == 2976
    month = month_of_charges([37] * intervals)
    cost = RATES.energy_cost(37 * intervals)  # 110.112 kWh: Rs 605.616

    assert month.energy == to_paise(cost) == 60562
    assert month.duty == to_paise(cost * Decimal("0.05")) == 3028


def test_a_month_crossing_every_slab_adds_up_to_its_exact_cost() -> None:
    rng = random.Random(15959)
    wh = [rng.randint(0, 400) for _ in range(31 * 96)]
    month = month_of_charges(wh)
    cost = RATES.energy_cost(sum(wh))

    assert sum(wh) > 500_000
    assert month == (to_paise(cost), to_paise(cost * Decimal("0.05")))


def test_pricing_the_same_interval_twice_gives_the_same_charge() -> None:
    assert energy_price(LMV1, JANUARY, 40_000, 321) == energy_price(LMV1, JANUARY, 40_000, 321)


@pytest.mark.parametrize(
    ("first_day", "days"),
    [(date(2026, 11, 1), 30), (date(2026, 12, 1), 31), (date(2028, 2, 1), 29), (date(2026, 2, 1), 28)],
    ids=["30-days", "31-days", "leap-february", "february"],
)
def test_a_months_daily_fixed_charges_add_up_to_110_rupees_a_kw(first_day: date, days: int) -> None:
    assert days_in_month(first_day) == days
    month = [fixed_price(LMV1, 2000, first_day + timedelta(days=n)) for n in range(days)]

    assert sum(p.charge_paise for p in month) == 22_000  # Rs 220.00 for 2 kW
    assert sum(p.duty_paise for p in month) == 1_100  # 5%: Rs 11.00


@pytest.mark.parametrize(("load_w", "rupees"), [(1000, 110), (3000, 330), (7000, 770), (1500, 165)])
def test_fixed_charge_scales_with_the_sanctioned_load(load_w: int, rupees: int) -> None:
    first_day = date(2026, 12, 1)
    month = [fixed_price(LMV1, load_w, first_day + timedelta(days=n)) for n in range(31)]

    assert sum(p.charge_paise for p in month) == rupees * 100


def test_daily_fixed_charge_differs_by_at_most_a_paisa_from_day_to_day() -> None:
    first_day = date(2026, 11, 1)
    daily = [fixed_price(LMV1, 2000, first_day + timedelta(days=n)).charge_paise for n in range(30)]

    assert max(daily) - min(daily) <= 1  # Rs 220 / 30 days = Rs 7.333...


def test_fixed_charge_for_the_same_day_twice_is_identical() -> None:
    day = date(2026, 11, 7)

    assert fixed_price(LMV1, 2000, day) == fixed_price(LMV1, 2000, day)


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
    priced = [energy_price(LMV1, JANUARY, 149_777, 1_111), fixed_price(LMV1, 1500, day)]
    entries = [recharge("KESCOCL0000001", 12_345, "pay_1"), opening("KESCOCL0000001", 25_000)]

    assert all(type(p.charge_paise) is int and type(p.duty_paise) is int for p in priced)
    assert all(type(e.amount_paise) is int for e in entries)


def test_credits_are_positive() -> None:
    assert recharge("KESCOCL0000001", 100, "pay_1").amount_paise > 0


@pytest.mark.parametrize("paise", [10.5, True])
def test_recharge_of_a_non_integer_amount_is_refused(paise: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        recharge("KESCOCL0000001", paise, "pay_1")  # type: ignore[arg-type]


def test_an_interval_costs_the_same_for_the_same_instant_in_any_time_zone() -> None:
    in_utc = datetime(2026, 1, 10, 6, 0, tzinfo=UTC)

    assert energy_price(LMV1, in_utc, 0, 100) == energy_price(LMV1, in_utc.astimezone(IST), 0, 100)
