"""The uplink's MQTT client frames packets itself: whatever way the bytes arrive, each PUBLISH
reaches the head-end once, whole, with its packet id, and nothing is acknowledged for it."""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from bijli.adapters.brokers.mqtt import ChunkedClient
from bijli.adapters.brokers.mqtt_packets import publish_packet, varint

Received = tuple[str, bytes, int, int]
Wire = tuple[ChunkedClient, socket.socket, list[Received]]


def publish(
    topic: str, payload: bytes, mid: int = 0, qos: int = 1, properties: bytes = b"", mqtt5: bool = True
) -> bytes:
    return publish_packet(topic.encode(), payload, mid, qos=qos, mqtt5=mqtt5, properties=properties)


@contextlib.contextmanager
def connected(protocol: int = paho.MQTTv5, manual_ack: bool = True) -> Iterator[Wire]:
    """A client on one end of a socket pair, the test as the broker on the other."""
    ours, broker = socket.socketpair()
    ours.setblocking(False)
    broker.settimeout(1.0)
    client = ChunkedClient(CallbackAPIVersion.VERSION2, client_id="t", protocol=protocol, manual_ack=manual_ack)
    got: list[Received] = []
    client.on_delivery = lambda *message: got.append(message)
    client._sock = ours
    try:
        yield client, broker, got
    finally:
        client._sock = None
        ours.close()
        broker.close()


@pytest.fixture
def wire() -> Iterator[Wire]:
    with connected() as w:
        yield w


def _read_all(client: ChunkedClient) -> None:
    """What paho's loop does when the socket is readable (a socket pair has it all at once)."""
    assert client._packet_read() == MQTTErrorCode.MQTT_ERR_AGAIN


def test_every_message_arrives_once_whatever_the_chunks(
    wire: Wire,
) -> None:
    client, broker, got = wire
    big = bytes(range(256)) * 80  # a 20 KiB payload: a three-byte remaining length
    messages = [
        ("bijli/v1/m/KNCL0000001/up/reading", b"one", 1, 1),
        ("bijli/v1/m/KNCL0000002/up/status", big, 2, 1),
        ("bijli/v1/m/KNCL0000003/up/event", b"three", 0, 0),
    ]
    stream = b"".join(publish(t, p, mid, qos) for t, p, mid, qos in messages)
    for at in range(0, len(stream), 7):  # seven bytes at a time: every packet cut somewhere
        broker.sendall(stream[at : at + 7])
        _read_all(client)
    assert got == messages
    assert client._chunk == bytearray()
    assert not client._out_packet  # manual acknowledgement: nothing acknowledged yet


def test_properties_are_skipped_not_mistaken_for_payload(
    wire: Wire,
) -> None:
    client, broker, got = wire
    user_property = b"\x26" + struct.pack(">H", 1) + b"k" + struct.pack(">H", 1) + b"v"
    broker.sendall(publish("bijli/v1/m/KNCL0000001/up/reading", b"frame", 9, 1, properties=user_property))
    _read_all(client)
    assert got == [("bijli/v1/m/KNCL0000001/up/reading", b"frame", 9, 1)]


def test_a_topic_that_is_not_utf8_still_arrives_to_be_quarantined(
    wire: Wire,
) -> None:
    client, broker, got = wire
    body = struct.pack(">H", 3) + b"a\xffb" + struct.pack(">H", 4) + b"\x00" + b"x"
    broker.sendall(b"\x32" + varint(len(body)) + body)
    _read_all(client)
    assert got == [("a\ufffdb", b"x", 4, 1)]


def test_a_remaining_length_over_four_bytes_is_a_protocol_error(
    wire: Wire,
) -> None:
    client, broker, got = wire
    broker.sendall(b"\x32\xff\xff\xff\xff\x01")
    assert client._packet_read() == MQTTErrorCode.MQTT_ERR_PROTOCOL
    assert got == []


def test_a_closed_connection_is_reported_lost(wire: Wire) -> None:
    client, broker, _ = wire
    broker.close()
    assert client._packet_read() == MQTTErrorCode.MQTT_ERR_CONN_LOST


def test_mqtt311_messages_arrive_without_properties_to_skip() -> None:
    with connected(protocol=paho.MQTTv311) as (client, broker, got):
        broker.sendall(publish("bijli/v1/m/KNCL0000001/up/reading", b"\x05frame", 7, mqtt5=False))
        _read_all(client)
    assert got == [("bijli/v1/m/KNCL0000001/up/reading", b"\x05frame", 7, 1)]


def test_without_manual_acknowledgement_each_qos1_message_is_acknowledged_at_once() -> None:
    with connected(manual_ack=False) as (client, broker, got):
        broker.sendall(publish("a", b"x", 9) + publish("b", b"y", qos=0))
        _read_all(client)
        assert broker.recv(64) == b"\x40\x02\x00\x09"  # one PUBACK, none for QoS 0
    assert got == [("a", b"x", 9, 1), ("b", b"y", 0, 0)]


def test_a_qos2_message_takes_pahos_own_path(wire: Wire) -> None:
    client, broker, got = wire
    broker.sendall(publish("a", b"x", 5, qos=2))
    _read_all(client)
    assert broker.recv(64) == b"\x50\x02\x00\x05"  # paho's PUBREC; the message waits for PUBREL
    assert got == []


def test_other_packets_reach_paho_framed_as_paho_frames_them(wire: Wire) -> None:
    client, broker, got = wire
    granted: list[tuple[int, list[int]]] = []
    client.on_subscribe = lambda _c, _u, mid, codes, _p: granted.append((mid, [c.value for c in codes]))
    suback = struct.pack("!H", 3) + b"\x00" + b"\x01"  # packet id 3, no properties, QoS 1 granted
    broker.sendall(publish("a", b"x", 1) + b"\x90" + varint(len(suback)) + suback + publish("b", b"y", 2))
    _read_all(client)
    assert granted == [(3, [1])]
    assert got == [("a", b"x", 1, 1), ("b", b"y", 2, 1)]
