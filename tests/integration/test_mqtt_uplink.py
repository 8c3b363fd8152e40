"""The head-end's MQTT uplink on the real Mosquitto: nothing is acknowledged before commit."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from bijli.adapters.brokers.address import BrokerAddress
from bijli.adapters.brokers.mqtt import MqttUplink
from bijli.headend.ports import Delivery
from bijli.protocol import topics
from tests.support.meters_mqtt import publish


async def _connect(url: str, root: str, client_id: str) -> MqttUplink:
    uplink = MqttUplink(BrokerAddress.parse(url), topics.uplink_filter(root), client_id, asyncio.get_running_loop())
    await uplink.start()
    return uplink


async def _take(uplink: MqttUplink, count: int) -> list[Delivery]:
    got: list[Delivery] = []
    while len(got) < count:
        got.extend(await asyncio.wait_for(uplink.next_batch(100, 0.2), timeout=15))
    return got


@pytest.mark.mosquitto
def test_messages_not_acknowledged_are_delivered_again_after_a_reconnect(mosquitto: str, topic_root: str) -> None:
    client_id = f"headend-{uuid.uuid4().hex[:8]}"
    topic = topics.uplink(topic_root, "KNCL0000001", "reading")

    async def scenario() -> tuple[list[bytes], list[bytes], list[bytes]]:
        uplink = await _connect(mosquitto, topic_root, client_id)
        await asyncio.to_thread(publish, mosquitto, [(topic, b"one"), (topic, b"two")])
        first = await _take(uplink, 2)
        await uplink.close()  # gone before its commit: nothing acknowledged

        uplink = await _connect(mosquitto, topic_root, client_id)
        again = await _take(uplink, 2)
        await uplink.ack(again)  # committed this time
        await asyncio.sleep(0)
        await uplink.close()

        uplink = await _connect(mosquitto, topic_root, client_id)
        await asyncio.to_thread(publish, mosquitto, [(topic, b"three")])
        last = await _take(uplink, 1)
        await uplink.ack(last)
        await uplink.close()
        return [d.payload for d in first], [d.payload for d in again], [d.payload for d in last]

    first, again, last = asyncio.run(scenario())
    assert first == [b"one", b"two"]
    assert sorted(again) == [b"one", b"two"]
    assert last == [b"three"]


@pytest.mark.mosquitto
def test_a_large_batch_acknowledged_in_one_write_is_never_delivered_again(mosquitto: str, topic_root: str) -> None:
    client_id = f"headend-{uuid.uuid4().hex[:8]}"
    items = [(topics.uplink(topic_root, f"KNCL{n:07d}", "reading"), f"{n}".encode()) for n in range(1, 5001)]

    async def scenario() -> tuple[int, list[bytes]]:
        uplink = await _connect(mosquitto, topic_root, client_id)
        await asyncio.to_thread(publish, mosquitto, items)
        batch = await _take(uplink, len(items))
        await uplink.ack(batch)
        await uplink.close()

        uplink = await _connect(mosquitto, topic_root, client_id)
        await asyncio.to_thread(publish, mosquitto, [(items[0][0], b"after")])
        after = await _take(uplink, 1)
        await uplink.ack(after)
        await uplink.close()
        return len({d.payload for d in batch}), [d.payload for d in after]

    taken, after = asyncio.run(scenario())
    assert taken == 5000
    assert after == [b"after"]  # nothing of the acknowledged 5,000 came again


@pytest.mark.mosquitto
def test_the_uplink_is_not_quiet_while_messages_wait_for_a_batch(mosquitto: str, topic_root: str) -> None:
    # Settlement runs when the uplink is quiet: a backlog the head-end has not stored yet is
    # work, however long ago it arrived.
    client_id = f"headend-{uuid.uuid4().hex[:8]}"
    topic = topics.uplink(topic_root, "KNCL0000001", "reading")

    async def scenario() -> tuple[float, float, float]:
        uplink = await _connect(mosquitto, topic_root, client_id)
        await asyncio.to_thread(publish, mosquitto, [(topic, b"one"), (topic, b"two")])
        async with asyncio.timeout(15):
            while uplink.waiting() < 2:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # long enough to count as quiet, had nothing been waiting
        waiting = uplink.idle_s()
        batch = await _take(uplink, 2)
        await asyncio.sleep(0.3)
        taken = uplink.idle_s()
        await uplink.ack(batch)
        await uplink.close()
        return waiting, taken, 0.3

    waiting, taken, quiet = asyncio.run(scenario())
    assert waiting == 0.0
    assert taken >= quiet


@pytest.mark.mosquitto
def test_on_arrival_sees_every_message_before_its_batch_is_taken(mosquitto: str, topic_root: str) -> None:
    items = [(topics.uplink(topic_root, f"KNCL{n:07d}", "reading"), f"{n}".encode()) for n in range(1, 51)]

    async def scenario() -> tuple[list[bytes], list[bytes]]:
        seen: list[bytes] = []
        uplink = MqttUplink(
            BrokerAddress.parse(mosquitto),
            topics.uplink_filter(topic_root),
            f"headend-{uuid.uuid4().hex[:8]}",
            asyncio.get_running_loop(),
            on_arrival=lambda d: seen.append(d.payload),
        )
        await uplink.start()
        await asyncio.to_thread(publish, mosquitto, items)
        batch = await _take(uplink, len(items))
        arrived_first = list(seen)
        await uplink.ack(batch)
        await uplink.close()
        return arrived_first, [d.payload for d in batch]

    seen, taken = asyncio.run(scenario())
    assert seen == taken == [payload for _, payload in items]


@pytest.mark.mosquitto
def test_event_frames_pass_a_backlog_of_readings_in_a_lane_of_their_own(mosquitto: str, topic_root: str) -> None:
    client_id = f"headend-{uuid.uuid4().hex[:8]}"
    readings = [(topics.uplink(topic_root, f"KNMR{n:07d}", "reading"), f"r{n}".encode()) for n in range(1, 2001)]
    tamper = (topics.uplink(topic_root, "KNCL0000001", "event"), b"magnet")

    async def scenario() -> tuple[list[bytes], int, list[bytes]]:
        uplink = MqttUplink(
            BrokerAddress.parse(mosquitto),
            topics.uplink_filter(topic_root),
            client_id,
            asyncio.get_running_loop(),
            event_lane=True,
        )
        await uplink.start()
        lane = uplink.event_lane()
        await asyncio.to_thread(publish, mosquitto, [*readings, tamper])  # the event after 2,000 readings
        event = await asyncio.wait_for(lane.next_batch(500, 0.02), timeout=15)  # none of the readings held it
        await lane.ack(event)
        backlog = await _take(uplink, len(readings))
        await uplink.ack(backlog)
        await asyncio.sleep(0.2)
        await uplink.close()
        # Both lanes acknowledged on the one connection: nothing comes again.
        again = await _connect(mosquitto, topic_root, client_id)
        await asyncio.to_thread(publish, mosquitto, [(topics.uplink(topic_root, "KNCL0000002", "reading"), b"last")])
        last = await _take(again, 1)
        await again.ack(last)
        await again.close()
        return [d.payload for d in event], len({d.payload for d in backlog}), [d.payload for d in last]

    event, backlog, last = asyncio.run(scenario())
    assert event == [b"magnet"]
    assert backlog == 2000
    assert last == [b"last"]
