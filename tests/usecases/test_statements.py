"""Statements over what charging really posts, on SQLite and PostgreSQL: day debits, the
corrections late readings bring, days still open, a recharge; every figure ties out."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from bijli.accounts.handlers import install_meter, register_consumer
from bijli.fleet.city import build_city
from bijli.headend.handlers import ingest_batch
from bijli.headend.ports import Delivery
from bijli.kernel.time import INTERVAL, ist_midnight
from bijli.mdm.handlers import settle_all
from bijli.prepaid.handlers import QUIET, account_ledger, monthly_statements, record_recharge
from bijli.prepaid.model import fixed_price
from bijli.prepaid.statement import month_window
from bijli.prepaid.tariff import builtin_tariffs
from tests.support.frames import reading
from tests.support.world import SECRET, World
from tests.usecases.conftest import REGISTER_AT_INSTALLATION
from tests.usecases.test_onboarding import ASHA, NOW, TARIFFS, installing

CL1, ACCOUNT = "KNCL0000001", "KESCOCL0000001"
LMV1 = builtin_tariffs()["UP-LMV1-DU"]
NOVEMBER = ist_midnight(date(2026, 11, 1))
WH = 1_900
"""Each interval's import: about 180 kWh a day, so the month climbs through every slab."""

pytestmark = pytest.mark.parametrize(
    "world", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def sent(starts: list[datetime], late: set[int]) -> tuple[list[Delivery], list[Delivery]]:
    """A frame per interval, the register rising from installation in time order: those sent
    on time, and the `late` ones, sent afterwards (with the meter's later frame counters)."""
    on_time = [k for k in range(len(starts)) if k not in late]
    order = on_time + sorted(late)
    frames = {
        k: Delivery(*reading(SECRET, CL1, n + 1, starts[k], wh=WH, total=REGISTER_AT_INSTALLATION + WH * (k + 1)))
        for n, k in enumerate(order)
    }
    return [frames[k] for k in on_time], [frames[k] for k in sorted(late)]


def test_a_month_of_day_debits_corrections_and_open_days_ties_out_to_the_balance(world: World) -> None:
    # From 3 Nov (IST) on: 27 days of intervals; the meter went in on 2 Nov.
    starts = [NOVEMBER + timedelta(days=2) + k * INTERVAL for k in range(27 * 96)]
    late = {k for k in range(len(starts)) if k % 97 == 5}  # a few of each day's readings come later
    on_time, later = sent(starts, late)
    settled_at = NOVEMBER + timedelta(days=29, minutes=30)  # 30 Nov, 00:30 IST: 29 Nov is not closed yet
    ingest_batch(world.store, on_time, world.ring, "bijli", settled_at)
    settle_all(world.store, settled_at)
    closed_at = settled_at + QUIET  # the days up to 28 Nov close, once quiet
    settle_all(world.store, closed_at)
    record_recharge(world.store, ACCOUNT, 150_000, "pay-st-1", NOVEMBER + timedelta(days=10))
    ingest_batch(world.store, later, world.ring, "bijli", closed_at)
    settle_all(world.store, closed_at)
    settle_all(world.store, closed_at + QUIET)  # closed days get corrections; 29 Nov stays open

    found = monthly_statements(world.store, [ACCOUNT, "KESCONOSUCH0001"], "2026-11")
    s = found[ACCOUNT]
    kinds = [kind for kind, _, _ in world.probe.ledger(ACCOUNT)]

    assert list(found) == [ACCOUNT]
    assert kinds.count("day_correction") > 0  # late readings after days closed
    assert s.ties_out()
    assert s.energy_wh == WH * len(starts)
    assert sum(line.amount_paise for line in s.slabs) == s.energy_paise and s.slab_difference_paise == 0
    assert len(s.slabs) == len(LMV1.on(date(2026, 11, 1)).slabs)  # every slab
    charged_days = [date(2026, 11, 3) + timedelta(days=n) for n in range(27)]
    load = build_city(4)[0].sanctioned_load_w
    assert s.fixed_paise == sum(fixed_price(LMV1, load, d).charge_paise for d in charged_days)
    assert s.days_charged == 27
    assert s.recharges_paise == 150_000
    assert s.closing_paise == world.probe.balance(ACCOUNT)  # open days included: the balance shown

    start, end = month_window("2026-11")
    ledger = account_ledger(world.store, ACCOUNT, start, end)
    assert ledger is not None
    assert ledger.balance_after_paise == s.closing_paise
    assert ledger.balance_before_paise == s.opening_paise
    [still_open] = [e for entry_id, e in ledger.entries if entry_id == 0]  # not on the ledger yet
    assert still_open.at == ist_midnight(date(2026, 11, 29)) and still_open.kind == "day_charge"
    december = monthly_statements(world.store, [ACCOUNT], "2026-12")[ACCOUNT]
    assert december.opening_paise == s.closing_paise and december.charges_paise == 0


def test_arrears_posted_at_onboarding_are_owed_apart_and_agree_with_the_account(world: World) -> None:
    register_consumer(world.store, ASHA)
    install_meter(world.store, installing(opening_balance_paise=0, arrears_paise=123_456), TARIFFS, NOW, by="fe1")
    record_recharge(world.store, "KESCONW0000001", 40_000, "pay-st-2", NOW)

    s = monthly_statements(world.store, ["KESCONW0000001"], "2026-11")["KESCONW0000001"]
    with world.store.transaction() as uow:
        balance, arrears = uow.accounts.balance("KESCONW0000001")

    assert (s.arrears_opening_paise, s.arrears_closing_paise) == (0, 123_456) == (0, arrears)
    assert s.closing_paise == balance == 40_000 and s.ties_out()
    assert [e.kind for e in s.entries] == ["arrears", "recharge"]
