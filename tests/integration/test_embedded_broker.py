"""The in-process MQTT broker admits each meter only with its own credentials and topics."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aiomqtt
import pytest

from bijli.adapters.brokers.address import BrokerAddress
from bijli.adapters.brokers.embedded import HEADEND_USER, headend_password, start_broker
from bijli.adapters.brokers.mqtt import MqttUplink
from bijli.protocol import topics
from tests.conftest import free_port
from tests.support.frames import reading
from tests.support.keys import SITE

SECRET = SITE


def _meter(port: int, meter_id: str, password: str) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1",
        port,
        identifier=meter_id,
        username=meter_id,
        password=password,
        protocol=aiomqtt.ProtocolVersion.V311,
        timeout=5,
    )


def test_a_meter_with_a_wrong_password_is_turned_away() -> None:
    async def scenario() -> None:
        port = free_port()
        broker = await start_broker(SECRET, "bijli", "127.0.0.1", port)
        try:
            with pytest.raises(aiomqtt.MqttError):
                async with _meter(port, "KNCL0000001", SECRET.mqtt_password("KNCL0000002")):
                    pass
            async with _meter(port, "KNCL0000001", SECRET.mqtt_password("KNCL0000001")):
                pass
        finally:
            await broker.shutdown()

    asyncio.run(scenario())


def test_a_meter_cannot_speak_on_another_meters_topic() -> None:
    async def scenario() -> list[str]:
        port = free_port()
        broker = await start_broker(SECRET, "bijli", "127.0.0.1", port)
        address = BrokerAddress("127.0.0.1", port, HEADEND_USER, headend_password(SECRET), mqtt5=False)
        uplink = MqttUplink(address, topics.uplink_filter("bijli"), "headend-test", asyncio.get_running_loop())
        await uplink.start()
        try:
            now = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
            async with _meter(port, "KNCL0000001", SECRET.mqtt_password("KNCL0000001")) as meter:
                other_topic, other_payload = reading(SECRET, "KNCL0000002", 1, now)
                await meter.publish(other_topic, other_payload, qos=1)
                own_topic, own_payload = reading(SECRET, "KNCL0000001", 1, now)
                await meter.publish(own_topic, own_payload, qos=1)
            batch = await asyncio.wait_for(uplink.next_batch(10, 0.5), timeout=10)
            return [d.topic for d in batch]
        finally:
            await uplink.close()
            await broker.shutdown()

    assert asyncio.run(scenario()) == [topics.uplink("bijli", "KNCL0000001", "reading")]
