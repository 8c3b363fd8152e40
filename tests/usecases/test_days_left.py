"""Days of credit left, read from each store's day charges in one batch: the same forecast on
the fake, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from bijli.fleet.city import build_city
from bijli.prepaid.charging import DayCharge
from bijli.prepaid.handlers import forecasts
from tests.support.world import World
from tests.usecases.conftest import day

TODAY = date(2026, 11, 30)
ACCOUNTS = [c.account_no for c in build_city(4)]


def charged(account_no: str, day: date, paise: int, wh: int) -> DayCharge:
    return DayCharge(account_no=account_no, day=day, charge_paise=paise, duty_paise=0, energy_wh=wh, tariff_version="t")


def test_each_account_gets_its_own_days_left_in_one_batch(world: World) -> None:
    first, second, third, _ = ACCOUNTS
    days = [charged(first, TODAY - timedelta(days=k), 5_000, 8_000) for k in range(1, 22)]
    days += [charged(second, TODAY - timedelta(days=k), 20_000, 30_000) for k in range(1, 22)]
    days += [charged(first, TODAY, 2_000, 3_000)]  # today's running charge
    days += [charged(first, TODAY - timedelta(days=40), 900_000, 10)]  # too old to count
    days += [charged(third, TODAY - timedelta(days=1), 5_000, 8_000)]  # one day: too little to tell
    with world.store.transaction() as uow:
        uow.day_charges.add(days, day(29))
    found = forecasts(world.store, {first: 20_000, second: 20_000, third: 20_000, ACCOUNTS[3]: -10}, TODAY)
    # 3,000 of today to come, then 5,000 a day: 0.6 + 3.4 days.
    assert found[first].days == Decimal("4.0")
    assert found[first].runs_out_on == TODAY + timedelta(days=4)
    assert found[second].days == Decimal("1.0")
    assert found[third].days is None
    assert found[ACCOUNTS[3]].days == Decimal("0.0")
