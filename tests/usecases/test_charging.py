"""Charging on every store: a month counts from facts (the installation, the register at the
month's start), never from which reading arrived first; nothing before installation is charged."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from bijli.fleet.city import build_city
from bijli.headend.handlers import ingest_batch
from bijli.headend.ports import Delivery
from bijli.kernel.time import INTERVAL, ist_midnight
from bijli.mdm.handlers import settle_all
from bijli.prepaid.charging import Account, Installation, Metered, MonthOpening, day_totals, derive
from bijli.prepaid.tariff import builtin_tariffs
from tests.support.frames import reading
from tests.support.world import SECRET, World
from tests.usecases.conftest import INSTALLED, REGISTER_AT_INSTALLATION

CL1, ACCOUNT = "KNCL0000001", "KESCOCL0000001"
OPENING = 30_000
LMV1 = builtin_tariffs()["UP-LMV1-DU"]
DECEMBER = ist_midnight(date(2026, 12, 1))
LATER = DECEMBER + timedelta(days=3)


def frames(meter: str, starts: list[datetime], wh: int, first_total: int) -> list[Delivery]:
    """One frame per interval, counters and the register rising in time order."""
    return [
        Delivery(*reading(SECRET, meter, k + 1, at, wh=wh, total=first_total + wh * (k + 1)))
        for k, at in enumerate(starts)
    ]


def test_nothing_before_installation_is_charged_not_even_the_fixed_charge(world: World) -> None:
    before = [INSTALLED - 4 * INTERVAL + k * INTERVAL for k in range(4)]  # the last one ends at installation
    ingest_batch(world.store, frames(CL1, before, 100, REGISTER_AT_INSTALLATION - 400), world.ring, "bijli", LATER)

    settle_all(world.store, LATER)

    assert world.probe.days(ACCOUNT) == []
    assert world.probe.balance(ACCOUNT) == OPENING


def test_a_months_charges_are_the_same_whichever_reading_came_first(world: World) -> None:
    # 28 Nov 12:00 IST, then 23:00 on 30 Nov to 01:00 on 1 Dec: a month boundary in the middle.
    starts = [DECEMBER - timedelta(days=2, hours=12)] + [DECEMBER - 4 * INTERVAL + k * INTERVAL for k in range(8)]
    sent = frames(CL1, starts, 700, REGISTER_AT_INSTALLATION + 148_000)

    for part in ([5, 6, 7, 8], [0], [3, 1], [4, 2]):  # December first, then November, late and out of order
        ingest_batch(world.store, [sent[k] for k in part], world.ring, "bijli", LATER)
        settle_all(world.store, LATER)

    readings = [
        Metered(CL1, at, 700, REGISTER_AT_INSTALLATION + 148_000 + 700 * (k + 1)) for k, at in enumerate(starts)
    ]
    account = Account(
        account_no=ACCOUNT,
        sanctioned_load_w=build_city(4)[0].sanctioned_load_w,
        tariff=LMV1,
        installations=(
            Installation(
                account_no=ACCOUNT, meter_id=CL1, installed_at=INSTALLED, opening_wh_total=REGISTER_AT_INSTALLATION
            ),
        ),
    )
    december_opens = MonthOpening(readings[4].wh_total, DECEMBER)
    expected = day_totals(account, derive(account, "2026-11", None, readings)) + day_totals(
        account, derive(account, "2026-12", december_opens, readings)
    )
    assert [(d.day, d.charge_paise, d.energy_wh) for d in expected] == [
        (day, charge, energy) for day, charge, energy, _ in world.probe.days(ACCOUNT)
    ]
    december = derive(account, "2026-12", december_opens, readings)
    assert december[0].month_wh_before == 0  # December counts from the register at midnight
    charged = sum(d.charge_paise for d in expected)
    assert world.probe.balance(ACCOUNT) == OPENING - charged
    # 1 Dec closed first counted from the installation (past 150 kWh: dearer); the November
    # readings moved December's opening to midnight's register: a correction. 30 Nov closed
    # before its last readings came: another.
    kinds = [kind for kind, _, _ in world.probe.ledger(ACCOUNT)]
    assert kinds.count("day_charge") == 3 and kinds.count("day_correction") == 2
