"""The JetStream uplink on a real nats-server: what its MQTT listener acknowledges to a meter is
stored (it survives the server's SIGKILL), workers share one durable consumer, what a dead
worker fetched goes to another after the ack wait, and the meters' event frames come through
a consumer of their own, past any backlog of readings."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from bijli.adapters.brokers.address import BrokerUrlError
from bijli.adapters.brokers.jetstream import JetStreamUplink, subject_matches, topic_of, uplink_subject
from bijli.adapters.brokers.nats_address import NatsAddress
from bijli.headend.ports import BrokerDown, Delivery, Uplink
from bijli.protocol import topics
from tests.conftest import free_port, port_open, require, wait_until
from tests.support.nats_cluster import NATS_SERVER, NatsCluster, nats_node  # noqa: F401  (fixture)
from tests.support.secure_broker import HOST, make_certificates

FRAMES = 200


def publish(
    port: int, root: str, n: int, start: int = 0, credentials: tuple[str, str] | None = None, kind: str = "interval"
) -> None:
    """`n` QoS 1 frames from a meter, each waited on for its PUBACK."""
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    if credentials is not None:
        client.username_pw_set(*credentials)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for i in range(start, start + n):
            info = client.publish(topics.uplink(root, f"M-{i % 7}", kind), f"{kind} {i}".encode(), qos=1)
            info.wait_for_publish(10)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


async def take(uplink: Uplink, n: int, timeout_s: float, ack: bool = True) -> list[Delivery]:
    got: list[Delivery] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n and time.monotonic() < deadline:
        try:
            batch = await asyncio.wait_for(uplink.next_batch(64, 0.05), deadline - time.monotonic())
        except TimeoutError:
            break
        if ack:
            await uplink.ack(batch)
        got += batch
    return got


def test_subjects_and_topics() -> None:
    assert uplink_subject("r/v1/m/+/up/+") == "$MQTT.msgs.r.v1.m.*.up.*"
    assert topic_of("$MQTT.msgs.r.v1.m.M-1.up.interval") == "r/v1/m/M-1/up/interval"
    events = uplink_subject(topics.event_filter("r"))
    assert subject_matches("$MQTT.msgs.r.v1.m.M-1.up.event", events)
    assert not subject_matches("$MQTT.msgs.r.v1.m.M-1.up.reading", events)
    assert not subject_matches("$MQTT.msgs.r.v1.m.M-1.up.event.x", events)
    assert not subject_matches("$MQTT.msgs.rr.v1.m.M-1.up.event", events)
    assert subject_matches("$MQTT.msgs.r.v1.m.M-1.up.event", "$MQTT.msgs.r.>")
    address = NatsAddress.parse("nats://127.0.0.1:4222,127.0.0.1:4223?replicas=3&ack_wait=5")
    assert address.servers == ("nats://127.0.0.1:4222", "nats://127.0.0.1:4223")
    assert (address.replicas, address.ack_wait_s) == (3, 5.0)


def test_what_the_mqtt_listener_acknowledged_survives_a_kill_9(
    nats_node: NatsCluster,  # noqa: F811
    topic_root: str,
) -> None:
    node = nats_node.nodes[0]
    address = NatsAddress.parse(nats_node.url())

    async def consumer_exists() -> None:  # the consumer's interest keeps the frames
        uplink = JetStreamUplink(address, topics.uplink_filter(topic_root), "workers")
        await uplink.start()
        await uplink.close()

    asyncio.run(consumer_exists())
    publish(node.mqtt_port, topic_root, FRAMES)
    node.kill()  # every frame had its PUBACK: each must be on disk
    node.start()

    async def read_all() -> list[Delivery]:
        uplink = JetStreamUplink(address, topics.uplink_filter(topic_root), "workers")
        await uplink.start(timeout_s=30)
        try:
            got = await take(uplink, FRAMES, 60)
            assert not await take(uplink, 1, 1)  # and nothing more
            return got
        finally:
            await uplink.close()

    got = asyncio.run(read_all())
    assert sorted(d.payload for d in got) == sorted(f"interval {i}".encode() for i in range(FRAMES))
    assert {d.topic for d in got} == {topics.uplink(topic_root, f"M-{m}", "interval") for m in range(7)}


def test_a_dead_workers_messages_go_to_another_after_the_ack_wait(
    nats_node: NatsCluster,  # noqa: F811
    topic_root: str,
) -> None:
    address = NatsAddress.parse(nats_node.url(ack_wait_s=2))
    node = nats_node.nodes[0]

    async def run() -> tuple[list[Delivery], list[Delivery], list[Delivery], float]:
        dead = JetStreamUplink(address, topics.uplink_filter(topic_root), "workers")
        alive = JetStreamUplink(address, topics.uplink_filter(topic_root), "workers")
        await dead.start()
        await alive.start()
        await asyncio.to_thread(publish, node.mqtt_port, topic_root, FRAMES)
        held = await take(dead, 50, 10, ack=False)  # fetched, never acknowledged
        await dead.close()
        began = time.monotonic()
        rest = await take(alive, FRAMES, 30)
        waited = time.monotonic() - began
        again = await take(alive, 1, 3)
        await alive.close()
        return held, rest, again, waited

    held, rest, again, _ = asyncio.run(run())
    assert len(held) >= 50
    assert sorted(d.payload for d in rest) == sorted(f"interval {i}".encode() for i in range(FRAMES))
    assert not again  # each acknowledged once, never handed out again


def test_the_head_end_signs_in_to_nats_over_tls_and_is_refused_without_its_password(
    tmp_path: Path, topic_root: str
) -> None:
    """A site's NATS with TLS on its client port and users: the head-end reaches it with its
    user name and password, checking the server's certificate against the site's CA."""
    require(f"nats-server ({NATS_SERVER})", Path(NATS_SERVER).exists())
    ca, cert, key = make_certificates(tmp_path / "tls")
    port, mqtt_port = free_port(), free_port()
    config = tmp_path / "nats.conf"
    config.write_text(
        "server_name: tls1\n"
        f"listen: {HOST}:{port}\n"
        f'jetstream {{ store_dir: "{tmp_path / "store"}", max_memory_store: 64MB, max_file_store: 1GB }}\n'
        f'tls {{ cert_file: "{cert}", key_file: "{key}" }}\n'
        'authorization { users = [ { user: "headend-1", password: "s3cret-pw" } ] }\n'
        f"mqtt {{ listen: 127.0.0.1:{mqtt_port} }}\n"
    )
    server = subprocess.Popen([NATS_SERVER, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: port_open("127.0.0.1", mqtt_port), 30, "the NATS server's MQTT listener")
        plain = NatsAddress.parse(f"nats://{HOST}:{port}")

        async def connect(address: NatsAddress) -> list[Delivery]:
            uplink = JetStreamUplink(address, topics.uplink_filter(topic_root), "workers")
            await uplink.start(timeout_s=5)
            try:
                await asyncio.to_thread(publish, mqtt_port, topic_root, 5, 0, ("headend-1", "s3cret-pw"))
                return await take(uplink, 5, 20)
            finally:
                await uplink.close()

        with pytest.raises(BrokerDown):
            asyncio.run(connect(plain.signed_in("headend-1", "wrong", ca)))
        with pytest.raises(BrokerDown):
            asyncio.run(connect(plain.signed_in("headend-1", "s3cret-pw", None)))  # no TLS: refused
        got = asyncio.run(connect(plain.signed_in("headend-1", "s3cret-pw", ca)))
        assert sorted(d.payload for d in got) == [f"interval {i}".encode() for i in range(5)]
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_nats_address_keeps_its_password_out_of_its_text() -> None:
    address = NatsAddress.parse("nats://127.0.0.1:4222").signed_in("headend-1", "s3cret-pw", None)
    assert "s3cret-pw" not in repr(address) and "s3cret-pw" not in str(address)
    with pytest.raises(BrokerUrlError, match="without a user name"):
        NatsAddress.parse("nats://127.0.0.1:4222").signed_in(None, "s3cret-pw", None)


def laned(address: NatsAddress, root: str) -> JetStreamUplink:
    return JetStreamUplink(address, topics.uplink_filter(root), "workers", event_filter=topics.event_filter(root))


def test_event_frames_pass_a_backlog_of_readings_in_a_consumer_of_their_own(
    nats_node: NatsCluster,  # noqa: F811
    topic_root: str,
) -> None:
    """2,000 readings wait in the stream, then a tamper's event frame: the event lane has it at
    once; the readings lane hands out the readings and never the event; once both lanes have
    acknowledged, a worker that starts again on the same consumers gets nothing again."""
    address = NatsAddress.parse(nats_node.url())
    port = nats_node.nodes[0].mqtt_port

    async def run() -> tuple[list[Delivery], float, list[Delivery], list[Delivery]]:
        first = laned(address, topic_root)
        await first.start()
        await asyncio.to_thread(publish, port, topic_root, 2000, 0, None, "reading")
        await asyncio.to_thread(publish, port, topic_root, 1, 0, None, "event")  # after the backlog
        began = time.monotonic()
        event = await take(first.event_lane(), 1, 10)
        waited = time.monotonic() - began
        backlog = await take(first, 2001, 60)
        await first.close()
        again = laned(address, topic_root)
        await again.start()
        try:
            nothing = await take(again, 1, 2) + await take(again.event_lane(), 1, 2)
        finally:
            await again.close()
        return event, waited, backlog, nothing

    event, waited, backlog, nothing = asyncio.run(run())
    assert [(d.topic, d.payload) for d in event] == [(topics.uplink(topic_root, "M-0", "event"), b"event 0")]
    assert waited < 2  # not behind the 2,000 readings
    assert sorted(d.payload for d in backlog) == sorted(f"reading {i}".encode() for i in range(2000))
    assert not nothing


def test_an_event_a_dead_worker_fetched_goes_to_another_and_no_worker_gets_it_twice(
    nats_node: NatsCluster,  # noqa: F811
    topic_root: str,
) -> None:
    """At least once and only once through the event consumer: a worker that dies holding an
    event frame leaves it to the other after the ack wait; the readings lanes of both pass the
    event frames on unstored, so no event reaches a head-end through both consumers."""
    address = NatsAddress.parse(nats_node.url(ack_wait_s=2))
    port = nats_node.nodes[0].mqtt_port

    async def run() -> tuple[list[Delivery], list[Delivery], list[Delivery], list[Delivery]]:
        dead, alive = laned(address, topic_root), laned(address, topic_root)
        await dead.start()
        await alive.start()
        await asyncio.to_thread(publish, port, topic_root, 30, 0, None, "event")
        held = await take(dead.event_lane(), 10, 10, ack=False)  # fetched, never acknowledged
        await dead.close()
        await asyncio.to_thread(publish, port, topic_root, 20, 0, None, "reading")
        readings = await take(alive, 20, 10)
        events = await take(alive.event_lane(), 30, 15)
        again = await take(alive.event_lane(), 1, 3) + await take(alive, 1, 1)
        await alive.close()
        return held, readings, events, again

    held, readings, events, again = asyncio.run(run())
    assert len(held) >= 10
    assert sorted(d.payload for d in readings) == sorted(f"reading {i}".encode() for i in range(20))
    assert sorted(d.payload for d in events) == sorted(f"event {i}".encode() for i in range(30))
    assert not again
