"""A broker restart on a real Mosquitto: meters keep what was not acknowledged and send it
again, sealed anew, once they are back; the head-end ends up with every reading once."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from bijli.adapters.brokers.address import BrokerAddress
from bijli.adapters.brokers.mqtt import MqttUplink
from bijli.fleet.city import build_city
from bijli.fleet.links import MeterConnections
from bijli.fleet.twin import FleetTwin, TwinOptions
from bijli.headend.model import KeyRing, MeterRecord, screen
from bijli.headend.ports import Delivery
from bijli.kernel.time import INTERVAL, ist_midnight
from bijli.prepaid.tariff import builtin_tariffs
from bijli.protocol import topics
from bijli.protocol.frames import ReadingFrame
from tests.conftest import free_port, port_open, require, wait_until
from tests.support.keys import SITE

SECRET = SITE
START = ist_midnight(date(2026, 11, 2))


class Mosquitto:
    """A Mosquitto of this test's own, with persistence, that can be stopped and started."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {folder}/\nmax_queued_messages 10000\nuser root\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)], stderr=subprocess.DEVNULL)
        wait_until(lambda: port_open("127.0.0.1", self.port), 10, "mosquitto listening")

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(timeout=10)
        wait_until(lambda: not port_open("127.0.0.1", self.port), 10, "mosquitto stopped")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    require("the mosquitto program", shutil.which("mosquitto") is not None)
    m = Mosquitto(tmp_path)
    m.start()
    yield m
    if m.proc is not None and m.proc.poll() is None:
        m.stop()


@pytest.mark.mosquitto
def test_readings_sent_while_the_broker_was_down_arrive_once_it_is_back(broker: Mosquitto) -> None:
    city = build_city(6)
    twin = FleetTwin(city, [], SECRET, builtin_tariffs()["UP-LMV1-DU"], start=START, options=TwinOptions(drift_ppm=0))
    address = BrokerAddress("127.0.0.1", broker.port)

    async def scenario() -> list[Delivery]:
        uplink = MqttUplink(address, topics.uplink_filter("bijli"), "headend-restart", asyncio.get_running_loop())
        await uplink.start()
        received: list[Delivery] = []

        async def take() -> None:
            while True:
                batch = await uplink.next_batch(500, 0.1)
                received.extend(batch)
                await uplink.ack(batch)

        taker = asyncio.create_task(take())
        async with MeterConnections(address, twin.mqtt_password, twin.meter_ids, "bijli", retry_s=0.2) as link:
            twin.close_interval(START)
            assert await link.publish(twin.take_outgoing()) == []

            await asyncio.to_thread(broker.stop)
            twin.close_interval(START + INTERVAL)
            undelivered = await link.publish(twin.take_outgoing())
            assert undelivered  # nothing got through
            twin.undelivered(undelivered)

            await asyncio.to_thread(broker.start)
            for _ in range(200):
                if link.connected == len(twin.meter_ids):
                    break
                await asyncio.sleep(0.1)
            link.came_back()
            twin.retry(twin.now)
            twin.close_interval(START + 2 * INTERVAL)
            assert await link.publish(twin.take_outgoing()) == []

            expected = 3 * len(twin.meter_ids)
            for _ in range(300):
                if sum(isinstance(_open(d), ReadingFrame) for d in received) >= expected - 0:
                    count = sum(len(f.intervals) for d in received if isinstance(f := _open(d), ReadingFrame))
                    if count >= expected:
                        break
                await asyncio.sleep(0.1)
        taker.cancel()
        await uplink.close()
        return received

    received = asyncio.run(scenario())
    # What the head-end keeps: screen the deliveries as they came, counters carried forward.
    registry = {m: MeterRecord(m, "commissioned", 0, None) for m in twin.meter_ids}
    screened = screen(received, registry, KeyRing(SECRET), "bijli", START + timedelta(days=1))
    accepted_payloads = {a.delivery.payload for a in screened.accepted}
    # The broker may hand over again what it had not yet seen acknowledged when it stopped:
    # the very same bytes, refused as a replay, so nothing counts twice.
    assert all(r.refusal.code == "replayed" and r.delivery.payload in accepted_payloads for r in screened.rejected)
    intervals: dict[str, list[int]] = defaultdict(list)
    for a in screened.accepted:
        if isinstance(a.frame, ReadingFrame):
            intervals[a.frame.m].extend(r.start for r in a.frame.intervals)
    starts = [int((START + n * INTERVAL).timestamp()) for n in range(3)]
    assert {m: sorted(v) for m, v in intervals.items()} == {m: starts for m in twin.meter_ids}


def _open(d: Delivery) -> object:
    from bijli.protocol.codec import open_frame

    parsed = topics.parse_uplink("bijli", d.topic)
    assert parsed is not None
    return open_frame(SECRET.frame_key(parsed[0]), parsed[0], d.payload)
