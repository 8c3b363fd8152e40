"""MQTT packets on the wire, as far as bijli reads and writes them itself: framing, PUBLISH and
PUBACK, for MQTT 3.1.1 and 5.

Pure: bytes in, values out (and back), no sockets and no MQTT client. Every packet is a fixed
header byte (the packet type in the high four bits, flags in the low four), the length of the
rest as a Variable Byte Integer of one to four bytes, then that many bytes of body. A PUBLISH
body is the topic (two-byte length, UTF-8), the packet id (at QoS 1 and 2 only), in MQTT 5 its
properties (a Variable Byte Integer length, then the properties), then the payload.

Readers take a buffer and offsets into it rather than slices, so the receive path copies each
message's bytes once.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final

Buffer = bytes | bytearray
Publish = tuple[str, bytes, int, int]
"""A received PUBLISH as (topic, payload, packet id, QoS); the packet id is 0 at QoS 0."""

PUBLISH: Final = 0x30
PUBACK: Final = 0x40
MAX_LENGTH: Final = 268_435_455
"""The largest Variable Byte Integer: four bytes of seven bits."""

_PUBACK = struct.Struct("!BBH")
"""PUBACK: type, remaining length 2, packet id (MQTT 5 lets a success reason code go)."""


class MalformedPacket(ValueError):
    """Bytes that cannot be an MQTT packet (the spec's "Malformed Packet": close the connection)."""


def varint(n: int) -> bytes:
    """`n` as an MQTT Variable Byte Integer (seven bits a byte, least significant first)."""
    if not 0 <= n <= MAX_LENGTH:
        raise ValueError(f"{n} does not fit an MQTT Variable Byte Integer (0 to {MAX_LENGTH})")
    out = bytearray()
    while True:
        n, byte = divmod(n, 128)
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def varint_at(buf: Buffer, at: int, end: int) -> tuple[int, int] | None:
    """(value, where the next field starts) of the Variable Byte Integer at `at`; None if it
    runs past `end` (its last byte has not arrived); MalformedPacket if it is longer than four
    bytes, which a fifth byte cannot mend."""
    value, shift, i = 0, 0, at
    while i < end:
        byte = buf[i]
        value |= (byte & 0x7F) << shift
        i += 1
        if not byte & 0x80:
            return value, i
        if i - at == 4:
            raise MalformedPacket("a length longer than four bytes (MQTT allows one to four)")
        shift += 7
    return None


def packet_at(buf: Buffer, pos: int) -> tuple[int, int, int] | None:
    """(fixed header byte, start of body, end of body) of the packet at `pos`, or None while
    part of it has not arrived yet; MalformedPacket if its length is longer than four bytes."""
    size = len(buf)
    found = varint_at(buf, pos + 1, size)
    if found is None:
        return None
    length, start = found
    end = start + length
    return (buf[pos], start, end) if end <= size else None


def read_publish(buf: Buffer, header: int, start: int, end: int, mqtt5: bool) -> Publish | None:
    """The PUBLISH whose fixed header byte is `header` and whose body is `buf[start:end]`.

    None if its topic is empty (MQTT 5's topic alias: the topic is one sent earlier, which
    only a client keeping the aliases can know) or runs past the body. MQTT 5 properties are
    skipped. A topic that is not UTF-8 is read with replacement characters, so the message
    still arrives and can be set aside as malformed by whoever reads it."""
    at = start + 2 + int.from_bytes(buf[start : start + 2])
    if at == start + 2 or at > end:
        return None
    topic = buf[start + 2 : at].decode("utf-8", "replace")
    qos = (header & 0x06) >> 1
    mid = 0
    if qos:
        if at + 2 > end:
            raise MalformedPacket("PUBLISH cut off in its packet id")
        mid = int.from_bytes(buf[at : at + 2])
        at += 2
    if mqtt5:
        found = varint_at(buf, at, end)
        if found is None:
            raise MalformedPacket("PUBLISH cut off in its properties")
        length, at = found
        at += length
        if at > end:
            raise MalformedPacket("PUBLISH properties longer than the packet")
    return topic, bytes(buf[at:end]), mid, qos


def publish_packet(
    topic: bytes, payload: bytes, packet_id: int = 0, *, qos: int = 1, mqtt5: bool = True, properties: bytes = b""
) -> bytes:
    """A whole PUBLISH packet (no DUP, no RETAIN); `properties` already encoded (MQTT 5 only)."""
    if not 0 <= qos <= 2:
        raise ValueError(f"QoS is 0, 1 or 2, not {qos}")
    body = struct.pack("!H", len(topic)) + topic
    if qos:
        body += struct.pack("!H", packet_id)
    if mqtt5:
        body += varint(len(properties)) + properties
    elif properties:
        raise ValueError("MQTT 3.1.1 has no PUBLISH properties")
    body += payload
    return bytes([PUBLISH | qos << 1]) + varint(len(body)) + body


def pubacks(mids: Sequence[int]) -> bytes:
    """PUBACKs for these packet ids, back to back: each the four bytes of a success, the same in
    MQTT 3.1.1 and 5."""
    return b"".join([_PUBACK.pack(PUBACK, 2, mid) for mid in mids])
