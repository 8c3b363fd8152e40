"""A month's statement: slab amounts add up to the month's energy charge, and every figure ties out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bijli.kernel.time import INTERVAL, ist_midnight
from bijli.prepaid.model import Connection, EntryKind, LedgerEntry, daily_fixed_charge, interval_charge
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


def connection(tariff: Tariff = LMV1) -> Connection:
    return Connection(account_no="KESCOCL0000001", meter_id="KNCL0000001", sanctioned_load_w=2000, tariff=tariff)


def posted(e: LedgerEntry, at: datetime | None = None) -> Posted:
    moment = e.period_start or at
    assert moment is not None
    return Posted(
        kind=e.kind.value,
        amount_paise=e.amount_paise,
        reference=e.reference,
        at=moment,
        posted_at=POSTED,
        energy_wh=e.energy_wh,
        duty_paise=e.duty_paise,
    )


def month_of_charges(usage: list[int], tariff: Tariff = LMV1) -> list[Posted]:
    """Interval charges for consecutive intervals from 1 November, and each day's fixed charge."""
    c = connection(tariff)
    entries: list[Posted] = []
    month_wh = 0
    days: set[date] = set()
    for i, wh in enumerate(usage):
        start = NOVEMBER + i * INTERVAL
        entries.append(posted(interval_charge(c, start, month_wh, wh)))
        month_wh += wh
        day = (start + timedelta(hours=5, minutes=30)).date()
        if day not in days:
            days.add(day)
            entries.append(posted(daily_fixed_charge(c, day, ist_midnight(day))))
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
