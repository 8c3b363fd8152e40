"""The uplink's MQTT client frames packets itself: whatever way the bytes arrive, each PUBLISH
reaches the head-end once, whole, with its packet id, and nothing is acknowledged for it."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from bijli.adapters.brokers.mqtt import ChunkedClient

Received = tuple[str, bytes, int, int]
Wire = tuple[ChunkedClient, socket.socket, list[Received]]


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, byte = divmod(n, 128)
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish(topic: str, payload: bytes, mid: int = 0, qos: int = 1, properties: bytes = b"") -> bytes:
    body = struct.pack(">H", len(topic.encode())) + topic.encode()
    if qos:
        body += struct.pack(">H", mid)
    body += _varint(len(properties)) + properties + payload
    return bytes([0x30 | qos << 1]) + _varint(len(body)) + body


@pytest.fixture
def wire() -> Iterator[Wire]:
    ours, broker = socket.socketpair()
    ours.setblocking(False)
    client = ChunkedClient(CallbackAPIVersion.VERSION2, client_id="t", protocol=paho.MQTTv5, manual_ack=True)
    got: list[Received] = []
    client.on_delivery = lambda *message: got.append(message)
    client._sock = ours
    yield client, broker, got
    client._sock = None
    ours.close()
    broker.close()


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
    broker.sendall(b"\x32" + _varint(len(body)) + body)
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
