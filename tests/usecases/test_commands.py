"""Asking meters for commands, on every store: once per idempotency key, only of meters in
service, only what a meter can do; meters' answers move them; decommissioning ends them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bijli.accounts.handlers import change_status
from bijli.headend.command_records import (
    CommandRequest,
    IdempotencyConflict,
    InvalidCommand,
    MeterNotInService,
)
from bijli.headend.commands import Status
from bijli.headend.handlers import ask_for_profile, record_acks, submit_command
from bijli.kernel.time import INTERVAL
from bijli.mdm.meters import UnknownMeter
from bijli.protocol.frames import AckFrame
from tests.support.world import World
from tests.usecases.conftest import day

NOW = day(1)
CL1, CL2 = "KNCL0000001", "KNCL0000002"


def request(**change: Any) -> CommandRequest:
    asked: dict[str, Any] = {
        "meter_id": CL1,
        "action": "relay_disconnect",
        "args": {},
        "reason": "arrears",
        "requested_by": "operator.verma",
        "idempotency_key": "arrears-2026-11-KNCL0000001",
        "expires_in": timedelta(hours=24),
    }
    return CommandRequest(**(asked | change))


def test_the_same_idempotency_key_gives_the_same_command(world: World) -> None:
    first, new = submit_command(world.store, request(), NOW)
    again, new_again = submit_command(world.store, request(), NOW + timedelta(seconds=5))

    assert (new, new_again) == (True, False)
    assert again.command_id == first.command_id and world.probe.commands() == 1
    stored = world.probe.command(first.command_id)
    assert stored.status == Status.QUEUED
    assert [h.detail for h in stored.history] == ["requested by operator.verma: arrears"]


@pytest.mark.parametrize("change", [{"action": "relay_connect"}, {"meter_id": CL2}, {"reason": "other"}])
def test_a_used_key_with_a_different_request_conflicts_and_stores_nothing(world: World, change: dict[str, Any]) -> None:
    submit_command(world.store, request(), NOW)
    with pytest.raises(IdempotencyConflict):
        submit_command(world.store, request(**change), NOW)
    assert world.probe.commands() == 1


def test_an_unknown_meter_a_meter_out_of_service_and_bad_arguments_are_refused(world: World) -> None:
    with pytest.raises(UnknownMeter):
        submit_command(world.store, request(meter_id="KNXX0000009"), NOW)
    with pytest.raises(InvalidCommand, match="window_s"):
        submit_command(world.store, request(action="hotspot_settings", args={"window_s": 10}), NOW)
    change_status(world.store, CL2, "decommissioned", changed_by="operator.verma", reason="burnt", now=NOW)
    with pytest.raises(MeterNotInService, match="decommissioned"):
        submit_command(world.store, request(meter_id=CL2, idempotency_key="k2"), NOW)
    assert world.probe.commands() == 0


def test_decommissioning_a_meter_fails_its_open_commands_with_the_reason(world: World) -> None:
    first, _ = submit_command(world.store, request(), NOW)
    second, _ = submit_command(world.store, request(action="read_now", idempotency_key="k2"), NOW)
    other, _ = submit_command(world.store, request(meter_id=CL2, idempotency_key="k3"), NOW)

    change, ended = change_status(
        world.store, CL1, "decommissioned", changed_by="operator.verma", reason="meter burnt", now=NOW
    )

    assert (change.from_status, change.to_status, ended) == ("commissioned", "decommissioned", 2)
    for command in (first, second):
        stored = world.probe.command(command.command_id)
        assert (stored.status, stored.detail) == (Status.FAILED, "meter decommissioned: meter burnt")
    assert world.probe.command(other.command_id).status == Status.QUEUED


def test_an_answer_to_a_command_never_sent_or_from_another_meter_changes_nothing(world: World) -> None:
    command, _ = submit_command(world.store, request(action="read_now"), NOW)

    def answer(meter_id: str) -> int:
        ack = AckFrame(v=1, m=meter_id, fc=7, ts=int(NOW.timestamp()), command_id=command.command_id, status="done")
        with world.store.transaction() as uow:
            return record_acks(uow.commands, [ack], NOW)

    assert (answer(CL2), answer(CL1)) == (0, 0)
    assert [h.status for h in world.probe.command(command.command_id).history] == [Status.QUEUED]


def test_a_gap_is_asked_for_once_however_often_it_is_found(world: World) -> None:
    begin = NOW - 4 * INTERVAL
    first = ask_for_profile(world.store, CL1, begin, NOW, NOW)
    again = ask_for_profile(world.store, CL1, begin, NOW, NOW + timedelta(minutes=5))
    misaligned = ask_for_profile(world.store, CL1, begin + timedelta(minutes=1), NOW, NOW)

    assert first is not None and again is not None and again.command_id == first.command_id
    assert misaligned is None
    assert world.probe.command(first.command_id).args == {"from": int(begin.timestamp()), "to": int(NOW.timestamp())}
    assert world.probe.commands() == 1
