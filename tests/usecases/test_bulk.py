"""Actions on many meters: nothing happens until a second person approves, and then each
meter gets its command once, on every store."""

from __future__ import annotations

import pytest

from bijli.access import bulk
from bijli.accounts.handlers import change_status
from bijli.fleet.city import build_city
from bijli.mdm.meters import MeterStatus
from tests.support.world import World
from tests.usecases.conftest import day

CITY = [c.meter_id for c in build_city(4)]


def test_a_bulk_disconnect_waits_for_a_second_person_then_asks_each_meter_once(world: World) -> None:
    asked = bulk.request_bulk(
        world.store, "relay_disconnect", [*CITY[:3], CITY[0]], "feeder 7 arrears drive", "sharma", day()
    )
    assert (asked.status, asked.meter_ids) == ("pending", tuple(CITY[:3]))
    assert world.probe.commands() == 0

    with pytest.raises(bulk.BulkRefused, match="a second person must approve"):
        bulk.approve_bulk(world.store, asked.request_id, "sharma", day())
    assert world.probe.commands() == 0

    approved, outcomes = bulk.approve_bulk(world.store, asked.request_id, "verma", day())
    assert (approved.status, approved.decided_by) == ("approved", "verma")
    assert [o.meter_id for o in outcomes] == CITY[:3] and all(o.command_id for o in outcomes)
    command = world.probe.command(str(outcomes[0].command_id))
    assert (command.action, command.requested_by) == ("relay_disconnect", "sharma")
    assert command.reason == f"feeder 7 arrears drive (bulk {asked.request_id[:8]}, approved by verma)"

    _, repeated = bulk.approve_bulk(world.store, asked.request_id, "verma", day())  # after a crash, say
    assert [o.command_id for o in repeated] == [o.command_id for o in outcomes]
    assert world.probe.commands() == 3
    assert bulk.bulk_request(world.store, asked.request_id)[1] == outcomes
    with pytest.raises(bulk.BulkRefused, match="approved already"):
        bulk.approve_bulk(world.store, asked.request_id, "khan", day())
    with pytest.raises(bulk.BulkRefused, match="approved already"):
        bulk.refuse_bulk(world.store, asked.request_id, "khan", "too late", day())


def test_a_refused_request_sends_nothing_and_cannot_be_approved(world: World) -> None:
    asked = bulk.request_bulk(world.store, "relay_connect", CITY, "restore after outage", "sharma", day())
    refused = bulk.refuse_bulk(world.store, asked.request_id, "verma", "not all paid", day())
    assert (refused.status, refused.decided_by, refused.note) == ("refused", "verma", "not all paid")
    with pytest.raises(bulk.BulkRefused, match="refused already"):
        bulk.approve_bulk(world.store, asked.request_id, "khan", day())
    assert world.probe.commands() == 0


def test_meters_unknown_or_out_of_service_get_no_command_and_say_why(world: World) -> None:
    change_status(world.store, CITY[1], MeterStatus.DECOMMISSIONED, changed_by="khan", reason="removed", now=day())
    asked = bulk.request_bulk(world.store, "relay_disconnect", [CITY[0], CITY[1], "KNZZ0000001"], "drive", "a", day())
    _, outcomes = bulk.approve_bulk(world.store, asked.request_id, "b", day())
    assert [(o.command_id is not None, o.problem) for o in outcomes] == [
        (True, ""),
        (False, f"meter {CITY[1]} is decommissioned; it takes no commands"),
        (False, "meter KNZZ0000001 not found"),
    ]


@pytest.mark.parametrize(
    ("action", "meters", "reason", "message"),
    [
        ("credit", CITY, "r", "cannot be asked of many meters"),
        ("relay_disconnect", [], "r", "1 to 1000 meters"),
        ("relay_disconnect", CITY, " ", "a reason"),
    ],
)
def test_bad_bulk_requests_are_refused_and_store_nothing(
    world: World, action: str, meters: list[str], reason: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        bulk.request_bulk(world.store, action, meters, reason, "sharma", day())
    with pytest.raises(bulk.UnknownBulkRequest):
        bulk.bulk_request(world.store, "no-such-request")
