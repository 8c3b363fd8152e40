"""In a scenario run, a command reaches its meter's twin when the meter can hear it: at once
if it is online, else when it is back (a persistent session keeps QoS 1 messages)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from bijli.entrypoints.scenario_run import TwinDownlink
from bijli.fleet.city import build_city
from bijli.fleet.twin import FleetTwin
from bijli.kernel.clock import SimulatedClock
from bijli.kernel.time import epoch, ist_midnight
from bijli.prepaid.tariff import builtin_tariffs
from bijli.protocol import topics
from bijli.protocol.codec import seal
from bijli.protocol.frames import PROTOCOL_VERSION, CommandFrame
from tests.support.keys import SITE

START = ist_midnight(date(2026, 11, 2))


def command(meter_id: str, fc: int, action: str, at: float) -> bytes:
    frame = CommandFrame(v=PROTOCOL_VERSION, m=meter_id, fc=fc, ts=int(at), command_id=f"c{fc}", action=action)
    return seal(SITE.frame_key(meter_id), frame)


def test_a_command_for_an_offline_meter_waits_until_the_meter_is_back() -> None:
    twin = FleetTwin(build_city(4), [], SITE, builtin_tariffs()["UP-LMV1-DU"], start=START, first_counter=0)
    t0 = float(epoch(START)) + 36_000
    clock = SimulatedClock(datetime.fromtimestamp(t0, UTC))
    downlink = TwinDownlink(twin, clock)
    online, offline = twin.meter_ids[0], twin.meter_ids[1]
    twin.condition("comm_module_removed", [1], True, t0 - 60)

    async def publish() -> None:
        for n, meter in enumerate((online, offline), start=1):
            await downlink.publish(topics.downlink("bijli", meter), command(meter, n, "relay_disconnect", t0))

    asyncio.run(publish())
    downlink.deliver()
    assert not twin.relay[0] and twin.relay[1]
    assert [m for m, _ in downlink.held] == [offline]

    twin.condition("comm_module_removed", [1], False, t0 + 600)
    clock.set(datetime.fromtimestamp(t0 + 600, UTC))
    downlink.deliver()
    assert not twin.relay[1] and downlink.held == [] and downlink.delivered == 2
