"""Which energy of which month an interval is, and what an account's days cost: from the
installation record, the month's opening and the tariff in force, never from arrival order."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

from bijli.kernel.time import INTERVAL, ist_day, ist_midnight
from bijli.kernel.units import to_paise
from bijli.prepaid.charging import (
    Account,
    Installation,
    Metered,
    MonthOpening,
    OpenDay,
    closing_entry,
    day_totals,
    derive,
)
from bijli.prepaid.model import EntryKind, fixed_price
from bijli.prepaid.tariff import Slab, Tariff, TariffVersion, builtin_tariffs

LMV1 = builtin_tariffs()["UP-LMV1-DU"]
RATES = LMV1.on(date(2026, 11, 1))
NOV = ist_midnight(date(2026, 11, 1))
INSTALLED = NOV + timedelta(days=2, hours=10, minutes=7)  # 3 Nov, 10:07 IST: inside an interval


def account(*installations: Installation, tariff: Tariff = LMV1) -> Account:
    return Account(account_no="KESCOCL0000001", sanctioned_load_w=2000, tariff=tariff, installations=installations)


def installed(
    meter: str = "KNCL0000001", at: datetime = INSTALLED, opening: int = 5_000_000, **kw: object
) -> Installation:
    return Installation(account_no="KESCOCL0000001", meter_id=meter, installed_at=at, opening_wh_total=opening, **kw)  # type: ignore[arg-type]


def run(meter: str, first: datetime, register_before: int, whs: list[int]) -> list[Metered]:
    """Readings of consecutive intervals from `first`, the register counting up from `register_before`."""
    out, total = [], register_before
    for k, wh in enumerate(whs):
        total += wh
        out.append(Metered(meter, first + k * INTERVAL, wh, total))
    return out


def test_readings_before_installation_are_not_charged_and_the_interval_it_fell_in_only_in_part() -> None:
    # Installed at 10:07 reading 5,000,000 Wh: the register read 4,999,700 Wh at 10:00 and
    # 5,000,200 Wh at 10:15, so 200 Wh of that interval came after installation.
    readings = run("KNCL0000001", INSTALLED - timedelta(minutes=37), 4_999_000, [300, 400, 500, 500])

    charges = derive(account(installed()), "2026-11", None, readings)

    assert [c.wh for c in charges] == [200, 500]  # the interval from 10:00 counts from 5,000,000 Wh
    assert charges[0].interval_start == INSTALLED - timedelta(minutes=7)
    assert charges[0].month_wh_before == 0 and charges[1].month_wh_before == 200


def test_nothing_after_removal_is_charged() -> None:
    removed = INSTALLED + timedelta(minutes=53)  # 11:00 IST, reading 5,000,900 Wh
    old = installed(removed_at=removed, closing_wh_total=5_000_900)
    readings = run("KNCL0000001", INSTALLED - timedelta(minutes=7), 5_000_000, [200, 300, 300, 100, 400, 400])

    charges = derive(account(old), "2026-11", None, readings)

    assert [c.wh for c in charges] == [200, 300, 300, 100]
    assert sum(c.wh for c in charges) == 900


def test_a_replacement_meter_carries_on_the_months_slabs_from_the_old_meters_energy() -> None:
    swap = INSTALLED + timedelta(days=5)
    old = installed(removed_at=swap, closing_wh_total=5_149_000)  # 149 kWh this month
    new = installed(meter="KNCL0000009", at=swap, opening=12)
    readings = run("KNCL0000009", swap, 12, [2000])

    [charge] = derive(account(old, new), "2026-11", None, readings)

    assert charge.month_wh_before == 149_000
    # 1 kWh at Rs 5.50 then 1 kWh at Rs 6.00: the second slab starts at 150 kWh of the month.
    assert charge.energy_paise == 1150


def test_a_month_counts_from_its_opening_register_whatever_reading_came_first() -> None:
    readings = run("KNCL0000001", NOV + 4 * INTERVAL, 7_988_427, [500] * 8)
    opened = MonthOpening(7_988_427, NOV)
    before_installation = installed(at=NOV - timedelta(days=40), opening=7_000_000)

    for _ in range(5):
        shuffled = random.sample(readings, len(readings))
        charges = derive(account(before_installation), "2026-11", opened, shuffled)
        assert [c.month_wh_before for c in charges] == [500 * k for k in range(8)]


def test_day_totals_add_every_interval_and_one_fixed_charge_per_day() -> None:
    readings = run("KNCL0000001", NOV + 90 * INTERVAL, 5_000_000, [1000] * 12)  # 22:30 IST on 1 Nov to 01:30
    inst = installed(at=NOV)
    charges = derive(account(inst), "2026-11", None, readings)

    days = day_totals(account(inst), charges)

    assert [d.day for d in days] == [date(2026, 11, 1), date(2026, 11, 2)]
    assert [d.energy_wh for d in days] == [6000, 6000]
    for d in days:
        fixed = fixed_price(LMV1, 2000, d.day)
        of_day = [c for c in charges if ist_day(c.interval_start) == d.day]
        assert d.charge_paise == sum(c.total_paise for c in of_day) + fixed.total_paise
        assert d.tariff_version == "UPERC-TO-2019-20"
    cost = RATES.energy_cost(12_000)
    assert sum(c.energy_paise for c in charges) == to_paise(cost)


def test_a_tariff_change_in_the_middle_of_a_month_applies_from_its_day() -> None:
    published = LMV1.versions[-1]
    dearer = TariffVersion(
        effective_from=date(2026, 11, 15),
        slabs=(Slab(None, Decimal("8.00")),),
        fixed_per_kw_month=Decimal("120.00"),
        duty_rate=Decimal("0.05"),
        label="TEST-LATER",
        source="made up for this test",
    )
    tariff = Tariff(LMV1.code, LMV1.name, (published, dearer))
    inst = installed(at=NOV)
    readings = [
        *run("KNCL0000001", ist_midnight(date(2026, 11, 14)) + 40 * INTERVAL, 5_000_000, [1000]),
        *run("KNCL0000001", ist_midnight(date(2026, 11, 15)) + 40 * INTERVAL, 5_001_000, [1000]),
    ]

    charges = derive(account(inst, tariff=tariff), "2026-11", None, readings)
    days = day_totals(account(inst, tariff=tariff), charges)

    assert [(c.energy_paise, c.tariff_version) for c in charges] == [(550, "UPERC-TO-2019-20"), (800, "TEST-LATER")]
    assert [d.tariff_version for d in days] == ["UPERC-TO-2019-20", "TEST-LATER"]
    assert days[1].charge_paise - charges[1].total_paise == fixed_price(tariff, 2000, date(2026, 11, 15)).total_paise
    assert fixed_price(tariff, 2000, date(2026, 11, 15)).charge_paise == 800  # Rs 240 / 30 days


def test_a_day_closes_with_one_debit_then_a_correction_for_what_came_later() -> None:
    day = date(2026, 11, 3)
    fresh = OpenDay(
        account_no="KESCOCL0000001",
        day=day,
        charge_paise=2000,
        duty_paise=95,
        energy_wh=3000,
        tariff_version="UPERC-TO-2019-20",
        posted_paise=0,
        posted_duty_paise=0,
        posted_energy_wh=0,
        postings=0,
    )
    later = OpenDay(**{**_fields(fresh), "charge_paise": 2600, "duty_paise": 124, "energy_wh": 4000})
    later = OpenDay(**{**_fields(later), "posted_paise": 2000, "posted_duty_paise": 95, "posted_energy_wh": 3000})
    later = OpenDay(**{**_fields(later), "postings": 1})

    first, correction = closing_entry(fresh), closing_entry(later)

    assert (first.kind, first.amount_paise, first.duty_paise, first.energy_wh) == (
        EntryKind.DAY_CHARGE,
        -2000,
        -95,
        3000,
    )
    assert first.reference == "day:KESCOCL0000001:2026-11-03" and first.period_start == ist_midnight(day)
    assert (correction.kind, correction.amount_paise, correction.energy_wh) == (EntryKind.DAY_CORRECTION, -600, 1000)
    assert correction.reference == "day:KESCOCL0000001:2026-11-03:1"
    assert first.tariff_version == correction.tariff_version == "UPERC-TO-2019-20"


def _fields(day: OpenDay) -> dict[str, object]:
    return {name: getattr(day, name) for name in OpenDay.__dataclass_fields__}
