"""Moving the fleet to a new key version, on every store: a key-change command to each meter in
service, the meter's version switched by its answer, frames of the old version still taken
during the change, and a version the site does not hold quarantined as unknown-key."""

from __future__ import annotations

import pytest

from bijli.accounts.handlers import change_status
from bijli.headend.commands import Status, Step
from bijli.headend.handlers import ingest_batch
from bijli.headend.key_change import ChangeUnderWay, held_version, held_versions, key_counts, start_key_change
from bijli.headend.model import KeyRing
from bijli.headend.ports import Delivery
from bijli.kernel.time import epoch
from bijli.protocol import topics
from bijli.protocol.codec import seal
from bijli.protocol.frames import AckFrame
from bijli.protocol.keys import SiteKeys
from tests.support.keys import SITE, site_for
from tests.support.world import World
from tests.usecases.conftest import day

NOW = day(1)
CL1, MR1, CL2, MR2 = "KNCL0000001", "KNMR0000001", "KNCL0000002", "KNMR0000002"
ROTATED = site_for(versions=2)
"""The test site after one rotation: version 1 as before, version 2 new and current."""


def rotate(world: World) -> int:
    return start_key_change(world.store, 1, 2, NOW, requested_by="asha.ops", reason="yearly rotation")


def key_change_of(world: World, meter_id: str) -> str:
    with world.store.transaction() as uow:
        found: list[str] = [c.command_id for c in uow.commands.open_of(meter_id) if c.action == "key_change"]
    assert len(found) == 1
    return found[0]


def answer(meter_id: str, command_id: str, fc: int, version: int = 2) -> Delivery:
    """The meter's 'done', sealed (as a meter that has just changed keys seals it) with `version`."""
    ack = AckFrame(v=1, m=meter_id, fc=fc, ts=epoch(NOW), command_id=command_id, status="done", detail="key version 2")
    return Delivery(topics.uplink("bijli", meter_id, "ack"), seal(ROTATED.frame_key(meter_id, version), ack, version))


def test_a_rotation_asks_every_meter_in_service_to_change_keys(world: World) -> None:
    change_status(world.store, MR2, "decommissioned", changed_by="asha.ops", reason="burnt", now=NOW)

    assert rotate(world) == 3

    for meter_id in (CL1, CL2, MR1):
        command = world.probe.command(key_change_of(world, meter_id))
        assert (command.action, command.args, command.status) == ("key_change", {"version": 2}, Status.QUEUED)
        assert command.requested_by == "asha.ops"
    # Every meter still holds version 1; three are moving to 2, the decommissioned one is not.
    assert key_counts(world.store, 2) == {1: (4, 0), 2: (0, 3)}
    assert held_versions(world.store, 2) == {CL1: 1, CL2: 1, MR1: 1, MR2: 1}


def test_a_second_rotation_waits_for_the_first_and_changes_nothing(world: World) -> None:
    rotate(world)
    commands = world.probe.commands()

    with pytest.raises(ChangeUnderWay, match="4 meters not moved yet"):
        start_key_change(world.store, 2, 3, NOW, requested_by="asha.ops", reason="again")

    assert world.probe.commands() == commands
    assert key_counts(world.store, 2) == {1: (4, 0), 2: (0, 4)}


def test_a_meters_done_under_its_new_key_moves_it_and_old_frames_are_still_taken(world: World) -> None:
    ring = KeyRing(ROTATED)
    rotate(world)
    command = key_change_of(world, CL1)
    world.probe.sent(command, NOW)

    report = ingest_batch(
        world.store,
        [
            answer(CL1, command, fc=1),  # CL1 has its new keys: its 'done' is sealed with version 2
            *world.frames(CL2, 1, [NOW.replace(hour=3)]),  # CL2 has not moved: version 1, taken as ever
        ],
        ring,
        "bijli",
        NOW,
    )

    assert world.probe.quarantine() == []
    assert report.readings_stored == 1
    assert world.probe.command(command).status == Status.CONFIRMED
    assert held_version(world.store, CL1, 2) == 2 and held_version(world.store, CL2, 2) == 1
    assert key_counts(world.store, 2) == {1: (3, 0), 2: (1, 3)}


def test_the_change_is_done_when_every_meter_has_answered(world: World) -> None:
    ring = KeyRing(ROTATED)
    rotate(world)
    answers = []
    for n, meter_id in enumerate((CL1, CL2, MR1, MR2), start=1):
        command = key_change_of(world, meter_id)
        world.probe.sent(command, NOW)
        answers.append(answer(meter_id, command, fc=n))

    ingest_batch(world.store, answers, ring, "bijli", NOW)

    assert key_counts(world.store, 2) == {2: (4, 0)}
    start_key_change(world.store, 2, 3, NOW, requested_by="asha.ops", reason="next year")  # no longer refused


def test_a_meter_whose_key_change_ran_out_is_asked_again_by_the_next_rotation(world: World) -> None:
    rotate(world)
    with world.store.transaction() as uow:
        for meter_id in (CL1, MR1, CL2, MR2):
            (state,) = [c for c in uow.commands.open_of(meter_id) if c.action == "key_change"]
            uow.commands.move(state, Step(Status.EXPIRED, "expired before it could be sent"), NOW)

    assert start_key_change(world.store, 2, 3, NOW, requested_by="asha.ops", reason="again") == 4
    assert key_counts(world.store, 3) == {1: (4, 0), 3: (0, 4)}  # still on 1, now moving to 3


def test_a_frame_sealed_with_a_version_the_site_does_not_hold_is_quarantined_as_unknown_key(world: World) -> None:
    retired = KeyRing(SiteKeys(SITE.identity, {2: ROTATED.masters(2)}, 2, frozenset({1})))
    old = world.frames(CL1, 1, [NOW.replace(hour=3)])
    future = seal(
        site_for(versions=3).frame_key(CL2, 3),
        AckFrame(v=1, m=CL2, fc=1, ts=epoch(NOW), command_id="x", status="done"),
        3,
    )

    report = ingest_batch(
        world.store, [*old, Delivery(topics.uplink("bijli", CL2, "ack"), future)], retired, "bijli", NOW
    )

    assert report.quarantined == 2 and report.readings_stored == 0
    assert world.probe.quarantine() == ["unknown-key", "unknown-key"]
    assert world.probe.readings(CL1) == []
