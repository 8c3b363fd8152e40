"""MQTT packets as bijli frames and reads them: whole packets out of whatever bytes have arrived,
PUBLISH read the same in MQTT 3.1.1 and 5, PUBACKs as the broker expects them."""

from __future__ import annotations

import struct

import pytest

from bijli.adapters.brokers.mqtt_packets import (
    MAX_LENGTH,
    MalformedPacket,
    packet_at,
    pubacks,
    publish_packet,
    read_publish,
    varint,
)

TOPIC = "bijli/v1/m/KNCL0000001/up/reading"
USER_PROPERTY = b"\x26" + struct.pack("!H", 1) + b"k" + struct.pack("!H", 1) + b"v"


def whole_packets(buf: bytes | bytearray) -> tuple[list[bytes], int]:
    """Every whole packet at the start of `buf`, and how many bytes they took."""
    out, pos = [], 0
    while (found := packet_at(buf, pos)) is not None:
        _, _, end = found
        out.append(bytes(buf[pos:end]))
        pos = end
    return out, pos


def read(packet: bytes, mqtt5: bool = True) -> tuple[str, bytes, int, int] | None:
    found = packet_at(packet, 0)
    assert found is not None
    header, start, end = found
    assert end == len(packet)
    return read_publish(packet, header, start, end, mqtt5)


# ---------------------------------------------------------------------- framing


@pytest.mark.parametrize(
    ("length", "encoded"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
        (2_097_151, b"\xff\xff\x7f"),
        (2_097_152, b"\x80\x80\x80\x01"),
        (MAX_LENGTH, b"\xff\xff\xff\x7f"),
    ],
)
def test_lengths_of_one_to_four_bytes_are_framed(length: int, encoded: bytes) -> None:
    assert varint(length) == encoded
    header = b"\x30" + encoded
    if length:
        assert packet_at(header, 0) is None  # the body has not arrived
        assert packet_at(header + bytes(min(length, 16_384) - 1), 0) is None  # nor all of it
    if length <= 16_384:  # a body that size is cheap to build
        assert packet_at(header + bytes(length), 0) == (0x30, len(header), len(header) + length)


def test_a_length_longer_than_four_bytes_is_malformed() -> None:
    with pytest.raises(MalformedPacket, match="longer than four bytes"):
        packet_at(b"\x32\xff\xff\xff\xff\x01", 0)


def test_a_fourth_length_byte_that_says_more_follow_is_malformed_before_the_fifth_arrives() -> None:
    assert packet_at(b"\x32\xff\xff\xff", 0) is None  # may yet end in a fourth byte
    with pytest.raises(MalformedPacket):
        packet_at(b"\x32\xff\xff\xff\xff", 0)


def test_a_length_too_large_for_mqtt_cannot_be_written() -> None:
    with pytest.raises(ValueError, match="Variable Byte Integer"):
        varint(MAX_LENGTH + 1)


def test_packets_cut_anywhere_come_out_whole_and_in_order() -> None:
    packets = [
        publish_packet(TOPIC.encode(), b"one", 1),
        publish_packet(b"t", bytes(20_000), 2),  # a three-byte length
        b"\xd0\x00",  # PINGRESP: no body at all
        publish_packet(TOPIC.encode(), b"", qos=0),
    ]
    stream = b"".join(packets)
    for cut in range(len(stream) + 1):
        got, used = whole_packets(stream[:cut])
        assert got == packets[: len(got)]
        assert used == sum(map(len, got))
        rest, _ = whole_packets(stream[used:])
        assert got + rest == packets


def test_a_packet_is_found_at_any_offset_of_a_buffer() -> None:
    buf = bytearray(b"junk") + publish_packet(b"a", b"x", 1)
    found = packet_at(buf, 4)
    assert found is not None
    header, start, end = found
    assert (header, end) == (0x32, len(buf))
    assert read_publish(buf, header, start, end, mqtt5=True) == ("a", b"x", 1, 1)


# ---------------------------------------------------------------------- PUBLISH


@pytest.mark.parametrize("mqtt5", [True, False], ids=["mqtt5", "mqtt311"])
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_a_publish_reads_back_as_written(mqtt5: bool, qos: int) -> None:
    mid = 0 if qos == 0 else 65535
    packet = publish_packet(TOPIC.encode(), b"frame", mid, qos=qos, mqtt5=mqtt5)
    assert read(packet, mqtt5) == (TOPIC, b"frame", mid, qos)


def test_qos_0_carries_no_packet_id() -> None:
    packet = publish_packet(b"a", b"\x12\x34payload", qos=0, mqtt5=False)
    assert read(packet, mqtt5=False) == ("a", b"\x12\x34payload", 0, 0)


def test_mqtt5_properties_are_skipped_not_mistaken_for_payload() -> None:
    packet = publish_packet(TOPIC.encode(), b"frame", 9, properties=USER_PROPERTY)
    assert read(packet) == (TOPIC, b"frame", 9, 1)


def test_properties_with_a_two_byte_length_are_skipped() -> None:
    properties = USER_PROPERTY * 20  # 200 bytes: the length takes two bytes
    packet = publish_packet(TOPIC.encode(), b"frame", 9, properties=properties)
    assert read(packet) == (TOPIC, b"frame", 9, 1)


def test_a_publish_of_mqtt311_is_not_read_as_if_it_had_properties() -> None:
    packet = publish_packet(b"a", b"\x05hello", 3, mqtt5=False)
    assert read(packet, mqtt5=False) == ("a", b"\x05hello", 3, 1)
    assert read(packet, mqtt5=True) == ("a", b"", 3, 1)  # the first payload byte taken for a length


def test_the_payload_is_bytes_even_from_a_bytearray() -> None:
    buf = bytearray(publish_packet(b"a", b"x", 1))
    found = packet_at(buf, 0)
    assert found is not None
    message = read_publish(buf, *found, mqtt5=True)
    assert message is not None
    assert type(message[1]) is bytes


def test_a_topic_that_is_not_utf8_is_read_with_replacement_characters() -> None:
    packet = publish_packet(b"a\xffb", b"x", 4)
    assert read(packet) == ("a\ufffdb", b"x", 4, 1)


def test_an_empty_topic_a_topic_alias_is_left_to_the_client() -> None:
    assert read(publish_packet(b"", b"x", 4)) is None


def test_a_topic_longer_than_the_packet_is_left_to_the_client() -> None:
    packet = b"\x32\x04\x00\x09ab"
    assert read(packet) is None


def test_a_publish_cut_in_its_packet_id_is_malformed() -> None:
    with pytest.raises(MalformedPacket, match="packet id"):
        read(b"\x32\x04\x00\x01a\x00")


def test_a_publish_cut_in_its_properties_is_malformed() -> None:
    with pytest.raises(MalformedPacket, match="properties"):
        read(b"\x32\x06\x00\x01a\x00\x01\x80")


def test_properties_longer_than_the_packet_are_malformed() -> None:
    with pytest.raises(MalformedPacket, match="properties"):
        read(b"\x32\x07\x00\x01a\x00\x01\x05x")


def test_mqtt311_has_no_publish_properties_to_write() -> None:
    with pytest.raises(ValueError, match=r"3\.1\.1"):
        publish_packet(b"a", b"x", 1, mqtt5=False, properties=USER_PROPERTY)


# ---------------------------------------------------------------------- PUBACK


def test_pubacks_are_four_bytes_each_in_the_order_given() -> None:
    assert pubacks([1, 258, 65535]) == b"\x40\x02\x00\x01" + b"\x40\x02\x01\x02" + b"\x40\x02\xff\xff"
    assert pubacks([]) == b""


def test_pubacks_frame_as_whole_packets() -> None:
    got, used = whole_packets(pubacks(range(1, 100)))
    assert len(got) == 99
    assert used == 4 * 99


def test_a_packet_id_beyond_two_bytes_cannot_be_acknowledged() -> None:
    with pytest.raises(struct.error):
        pubacks([65536])
