"""Settlement, on every store: what was stored is validated, charged and added up once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bijli.headend.handlers import ingest_batch
from bijli.headend.ports import Delivery
from bijli.kernel.time import INTERVAL, ist_day
from bijli.mdm.handlers import queued_until, settle, settle_all
from bijli.mdm.vee import Flag
from bijli.prepaid.handlers import QUIET, record_recharge
from tests.support.frames import reading
from tests.support.world import SECRET, World
from tests.usecases.conftest import day

START = day(1)
NOW = START + timedelta(hours=3)
NEXT_DAY = START + timedelta(days=1, hours=3)
CL1, ACCOUNT = "KNCL0000001", "KESCOCL0000001"
OPENING = 30_000
"""KESCOCL0000001's opening balance in the test city, in paise."""


def test_readings_are_charged_when_settled_exactly_once(world: World) -> None:
    ingest_batch(world.store, world.frames(CL1, 1, [START + k * INTERVAL for k in range(4)]), world.ring, "bijli", NOW)
    assert world.probe.balance(ACCOUNT) == OPENING  # stored, acknowledged, not charged yet
    assert world.probe.queued() == 1

    first = settle(world.store, NOW)
    charged = world.probe.balance(ACCOUNT)
    again = settle(world.store, NOW)

    assert (first.batches, first.readings) == (1, 4) and again.batches == 0
    assert charged < OPENING and world.probe.balance(ACCOUNT) == charged
    assert world.probe.queued() == 0
    assert world.probe.daily_wh(CL1) == 400


def test_a_day_goes_on_the_ledger_as_one_debit_with_its_duty_once_it_has_ended(world: World) -> None:
    ingest_batch(world.store, world.frames(CL1, 1, [START + k * INTERVAL for k in range(4)]), world.ring, "bijli", NOW)
    settle_all(world.store, NOW)
    running = world.probe.balance(ACCOUNT)
    assert [kind for kind, _, _ in world.probe.ledger(ACCOUNT)] == ["opening"]  # the day is still open

    settle_all(world.store, NEXT_DAY)

    entries = world.probe.ledger(ACCOUNT)
    assert [kind for kind, _, _ in entries] == ["day_charge", "opening"]
    _, amount, duty = entries[0]
    assert duty is not None and amount < duty < 0  # energy, fixed charge and 5% duty on both
    assert world.probe.balance(ACCOUNT) == running == OPENING + amount
    assert world.probe.days(ACCOUNT) == [(ist_day(START), -amount, 400, -amount)]


def test_the_same_reading_settled_again_later_charges_nothing_more(world: World) -> None:
    frames = world.frames(CL1, 1, [START, START + INTERVAL])
    ingest_batch(world.store, frames[:1], world.ring, "bijli", NOW)
    settle_all(world.store, NOW)
    ingest_batch(world.store, world.frames(CL1, 20, [START]), world.ring, "bijli", NOW)  # resent: a duplicate
    ingest_batch(world.store, frames[1:], world.ring, "bijli", NOW)
    settle_all(world.store, NOW)

    [(_, charge, energy, _)] = world.probe.days(ACCOUNT)
    assert energy == 200
    assert world.probe.balance(ACCOUNT) == OPENING - charge


def test_a_reading_after_its_day_closed_is_charged_once_by_a_correction(world: World) -> None:
    frames = world.frames(CL1, 1, [START + k * INTERVAL for k in range(3)])
    ingest_batch(world.store, frames[:2], world.ring, "bijli", NOW)
    settle_all(world.store, NOW)
    settle_all(world.store, NEXT_DAY)  # the day closes
    closed = world.probe.balance(ACCOUNT)

    ingest_batch(world.store, frames[2:], world.ring, "bijli", NEXT_DAY)
    settle_all(world.store, NEXT_DAY)
    assert world.probe.balance(ACCOUNT) < closed  # charged at once, on the ledger when it has been quiet a while
    settle_all(world.store, NEXT_DAY + QUIET)

    kinds = [kind for kind, _, _ in world.probe.ledger(ACCOUNT)]
    assert kinds.count("day_charge") == 1 and kinds.count("day_correction") == 1
    [(_, charge, energy, posted)] = world.probe.days(ACCOUNT)
    assert (energy, posted) == (300, charge)
    assert OPENING - charge == world.probe.balance(ACCOUNT) < closed


def test_a_settlement_that_fails_midway_leaves_its_batch_queued_and_charges_nothing(world: World) -> None:
    ingest_batch(world.store, world.frames(CL1, 1, [START, START + INTERVAL]), world.ring, "bijli", NOW)
    world.fail("daily", "add")
    with pytest.raises(RuntimeError):
        settle(world.store, NOW)
    assert (world.probe.queued(), world.probe.balance(ACCOUNT), world.probe.daily_wh(CL1)) == (1, OPENING, 0)
    assert [r.flags for r in world.probe.readings(CL1)] == [0, 0]


def test_a_reading_that_looks_wrong_is_kept_charged_and_flagged(world: World) -> None:
    ok = reading(SECRET, CL1, 1, START, wh=100, total=2_000_100)
    spike = reading(SECRET, CL1, 2, START + INTERVAL, wh=9_000, total=2_009_100)  # 36 kW on a 3 kW connection
    ingest_batch(world.store, [Delivery(*ok), Delivery(*spike)], world.ring, "bijli", NOW)
    settle_all(world.store, NOW)

    flags = [r.flags for r in world.probe.readings(CL1)]
    assert flags[0] == 0 and flags[1] & Flag.SPIKE
    assert [(a, why) for _, a, why in world.probe.edits(CL1)] == [("flagged", "spike")]
    assert [energy for _, _, energy, _ in world.probe.days(ACCOUNT)] == [9_100]  # both charged


def test_a_recharge_is_credited_once_however_often_it_is_reported(world: World) -> None:
    for _ in range(3):
        record_recharge(world.store, ACCOUNT, 50_000, "UPI-2026-11-02-0001", NOW)
    assert world.probe.balance(ACCOUNT) == OPENING + 50_000


def test_settling_up_to_a_batch_leaves_what_was_queued_after_it(world: World) -> None:
    frames = world.frames(CL1, 1, [START + k * INTERVAL for k in range(2)])
    ingest_batch(world.store, frames[:1], world.ring, "bijli", NOW)
    last = queued_until(world.store)
    ingest_batch(world.store, frames[1:], world.ring, "bijli", NOW)  # queued after the moment `last` names

    assert last is not None and settle_all(world.store, NOW, last) == 1
    assert world.probe.queued() == 1 and world.probe.daily_wh(CL1) == 100
    assert settle_all(world.store, NOW) == 1 and world.probe.daily_wh(CL1) == 200
    assert queued_until(world.store) is None
