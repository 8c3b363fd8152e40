"""A month's statement: slab amounts add up to the month's energy charge, and every figure ties out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bijli.kernel.time import INTERVAL, ist_midnight
from bijli.kernel.units import to_paise
from bijli.prepaid.model import EntryKind
from bijli.prepaid.statement import (
    Holder,
    Posted,
    intervals_behind,
    month_window,
    monthly_statement,
)
from bijli.prepaid.tariff import Slab, Tariff, TariffVersion, builtin_tariffs

LMV1 = builtin_tariffs()["UP-LMV1-DU"]
NOVEMBER = ist_midnight(date(2026, 11, 1))
POSTED = datetime(2026, 12, 1, tzinfo=UTC)


def holder(tariff: Tariff = LMV1) -> Holder:
    return Holder(
        account_no="KESCOCL0000001",
        consumer_name="Asha Verma",
        meter_id="KNCL0000001",
        sanctioned_load_w=2000,
        tariff=tariff,
    )


def cost(day: date, month_wh: int) -> tuple[int, int]:
    """The month's energy cost to the paisa, and its duty, after `month_wh` (published rates)."""
    version = LMV1.on(day)
    rupees = version.energy_cost(month_wh)
    return to_paise(rupees), to_paise(rupees * version.duty_rate)


def fixed(day: date, load_w: int = 2000) -> tuple[int, int]:
    """A day's fixed charge (Rs 110 per kW a month, spread over the month's days) and its duty."""
    monthly = Decimal(110) * load_w / 1000
    through, before = monthly * day.day / 30, monthly * (day.day - 1) / 30
    return to_paise(through) - to_paise(before), to_paise(through / 20) - to_paise(before / 20)


def ist(moment: datetime) -> date:
    return (moment + timedelta(hours=5, minutes=30)).date()


def month_of_charges(usage: list[int], tariff: Tariff = LMV1) -> list[Posted]:
    """A ledger written a charge per interval (consecutive intervals from 1 November, priced
    by cumulative rounding) and a fixed charge per day, as bijli wrote it before day charges."""
    entries: list[Posted] = []
    month_wh = 0
    days: set[date] = set()
    for i, wh in enumerate(usage):
        start = NOVEMBER + i * INTERVAL
        version = tariff.on(ist(start))
        before, after = version.energy_cost(month_wh), version.energy_cost(month_wh + wh)
        energy = to_paise(after) - to_paise(before)
        duty = to_paise(after * version.duty_rate) - to_paise(before * version.duty_rate)
        entries.append(
            Posted(
                kind="energy_charge",
                amount_paise=-(energy + duty),
                reference=f"energy:KNCL0000001:{start.isoformat()}",
                at=start,
                posted_at=POSTED,
                energy_wh=wh,
                duty_paise=-duty,
            )
        )
        month_wh += wh
        day = ist(start)
        if day not in days:
            days.add(day)
            f, f_duty = fixed(day)
            entries.append(
                Posted(
                    kind="fixed_charge",
                    amount_paise=-(f + f_duty),
                    reference=f"fixed:KNCL0000001:{day}",
                    at=ist_midnight(day),
                    posted_at=POSTED,
                    duty_paise=-f_duty,
                )
            )
    return entries


def month_of_day_charges(usage_by_day: list[int]) -> list[Posted]:
    """A ledger written one charge per account and day: energy, fixed charge and duty together."""
    entries: list[Posted] = []
    month_wh = 0
    for n, wh in enumerate(usage_by_day):
        day = date(2026, 11, n + 1)
        (e0, d0), (e1, d1) = cost(day, month_wh), cost(day, month_wh + wh)
        f, f_duty = fixed(day)
        entries.append(
            Posted(
                kind="day_charge",
                amount_paise=-(e1 - e0 + d1 - d0 + f + f_duty),
                reference=f"day:KESCOCL0000001:{day}",
                at=ist_midnight(day),
                posted_at=POSTED,
                energy_wh=wh,
                duty_paise=-(d1 - d0 + f_duty),
            )
        )
        month_wh += wh
    return entries


def credit(kind: EntryKind | str, paise: int, at: datetime, reference: str) -> Posted:
    return Posted(kind=str(kind), amount_paise=paise, reference=reference, at=at, posted_at=at)


def test_slabs_add_up_to_the_energy_charge_across_slab_edges() -> None:
    usage = [1300] * 2880  # 3,744 kWh in a month: every slab
    s = monthly_statement(holder(), "2026-11", 0, month_of_charges(usage))

    assert s.energy_wh == sum(usage)
    rates = LMV1.on(date(2026, 11, 1)).slabs
    assert [line.rate for line in s.slabs] == [slab.rate for slab in rates]
    assert sum(line.energy_wh for line in s.slabs) == sum(usage)
    assert sum(line.amount_paise for line in s.slabs) == s.energy_paise
    assert s.slab_difference_paise == 0
    first = rates[0]
    assert first.up_to_wh is not None
    assert s.slabs[0].energy_wh == first.up_to_wh
    assert s.slabs[0].amount_paise == first.rate * first.up_to_wh / 10  # paise: rate x kWh x 100


def test_every_figure_ties_out_and_closing_is_the_ledger_sum() -> None:
    charges = month_of_charges([250] * 96 * 30)
    recharge = credit(EntryKind.RECHARGE, 100_000, NOVEMBER + timedelta(days=3), "recharge:pay_1")
    recovery = credit("arrears_recovery", -20_000, NOVEMBER + timedelta(days=3), "arrears:pay_1")
    adjustment = credit(EntryKind.ADJUSTMENT, 1_234, NOVEMBER + timedelta(days=9), "adjustment:1")
    everything = [*charges, recharge, recovery, adjustment]

    s = monthly_statement(holder(), "2026-11", 5_000, everything)

    assert s.ties_out()
    assert s.closing_paise == 5_000 + sum(e.amount_paise for e in everything)
    assert s.recharges_paise == 100_000
    assert s.total("arrears_recovery") == -20_000
    assert s.adjustments_paise == 1_234
    assert [e.kind for e in s.entries] == ["recharge", "arrears_recovery", "adjustment"]
    assert s.fixed_paise == 22_000  # Rs 110 per kW for 2 kW, the whole month
    assert s.days_charged == 30


def test_a_tariff_change_mid_month_prices_its_days_from_the_month_so_far() -> None:
    old = LMV1.versions[-1]
    dearer = TariffVersion(
        effective_from=date(2026, 11, 16),
        slabs=tuple(Slab(up_to_wh=s.up_to_wh, rate=s.rate + Decimal("0.37")) for s in old.slabs),
        fixed_per_kw_month=old.fixed_per_kw_month,
        duty_rate=old.duty_rate,
    )
    tariff = Tariff(code=LMV1.code, name=LMV1.name, versions=(*LMV1.versions, dearer))
    usage = [137] * 2880

    s = monthly_statement(holder(tariff), "2026-11", 0, month_of_charges(usage, tariff))

    assert len({line.tariff_label for line in s.slabs}) == 2
    assert sum(line.amount_paise for line in s.slabs) == s.energy_paise
    assert sum(line.energy_wh for line in s.slabs) == sum(usage)


def test_a_ledger_of_day_charges_splits_into_energy_by_slab_fixed_charge_and_duty() -> None:
    usage = [5_300 * (1 + n % 4) for n in range(30)]  # about 400 kWh: three slabs
    entries = month_of_day_charges(usage)

    s = monthly_statement(holder(), "2026-11", 10_000, entries)

    energy, energy_duty = cost(date(2026, 11, 30), sum(usage))
    assert s.energy_paise == energy
    assert s.fixed_paise == 22_000
    assert s.duty_paise == energy_duty + 1_100
    assert len(s.slabs) >= 3 and sum(line.amount_paise for line in s.slabs) == energy
    assert s.slab_difference_paise == 0
    assert s.charge_entries == s.days_charged == 30
    assert s.closing_paise == 10_000 + sum(e.amount_paise for e in entries) and s.ties_out()


def test_a_day_correction_is_more_energy_on_its_day() -> None:
    entries = month_of_day_charges([4_000] * 30)
    late = Posted(
        kind="day_correction",
        amount_paise=-(220 + 11),  # 0.4 kWh at Rs 5.50, and 5% duty
        reference="day:KESCOCL0000001:2026-11-30:1",
        at=ist_midnight(date(2026, 11, 30)),
        posted_at=POSTED,
        energy_wh=400,
        duty_paise=-11,
    )
    before = monthly_statement(holder(), "2026-11", 0, entries)
    after = monthly_statement(holder(), "2026-11", 0, [*entries, late])

    assert after.energy_wh == before.energy_wh + 400
    assert after.energy_paise == before.energy_paise + 220
    assert after.fixed_paise == before.fixed_paise
    assert after.slab_difference_paise == 0
    assert after.closing_paise == before.closing_paise - 231 and after.ties_out()


def test_an_entry_outside_the_month_is_refused() -> None:
    late = credit(EntryKind.RECHARGE, 100, NOVEMBER - timedelta(minutes=1), "recharge:x")
    with pytest.raises(ValueError, match="not in 2026-11"):
        monthly_statement(holder(), "2026-11", 0, [late])


def test_a_month_is_its_ist_calendar_month() -> None:
    start, end = month_window("2026-12")
    assert start == datetime(2026, 11, 30, 18, 30, tzinfo=UTC)
    assert end == datetime(2026, 12, 31, 18, 30, tzinfo=UTC)
    with pytest.raises(ValueError):
        month_window("2026-13")


def test_an_energy_charge_traces_to_its_interval() -> None:
    entry = month_of_charges([500])[0]
    [interval] = intervals_behind(holder(), entry)

    assert interval.meter_id == "KNCL0000001"
    assert interval.interval_start == NOVEMBER
    assert interval.energy_wh == 500
    assert -(interval.energy_paise + interval.duty_paise) == entry.amount_paise


@settings(max_examples=60, deadline=None)
@given(
    usage=st.lists(st.integers(min_value=0, max_value=4_000), min_size=1, max_size=400),
    order=st.randoms(use_true_random=False),
)
def test_slabs_equal_the_charges_whatever_the_usage_and_the_order(usage: list[int], order: object) -> None:
    entries = month_of_charges([wh * 7 for wh in usage])
    order.shuffle(entries)  # type: ignore[attr-defined]

    s = monthly_statement(holder(), "2026-11", 0, entries)

    assert sum(line.amount_paise for line in s.slabs) == s.energy_paise
    assert s.ties_out()


def test_arrears_stay_apart_from_the_balance_and_recharges_recover_them() -> None:
    start = NOVEMBER + timedelta(days=2)
    entries = [
        credit("arrears", -50_000, start, "arrears:KESCOCL0000001"),
        credit(EntryKind.RECHARGE, 100_000, start + timedelta(days=1), "recharge:pay_1"),
        credit("arrears_recovery", -20_000, start + timedelta(days=1), "arrears_recovery:pay_1"),
    ]

    s = monthly_statement(holder(), "2026-11", 1_000, entries, arrears_paise=5_000)

    assert s.closing_paise == 1_000 + 100_000 - 20_000
    assert s.arrears_opening_paise == 5_000
    assert s.arrears_closing_paise == 5_000 + 50_000 - 20_000
    assert s.ties_out()
