"""MQTT 5 on the wire: a publisher that writes pre-encoded PUBLISH packets as fast as the
broker acknowledges them (or at a set pace), so the publisher itself costs almost nothing."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Sequence

from bench import BenchError
from bijli.adapters.brokers.address import BrokerAddress


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _utf8(text: bytes) -> bytes:
    return struct.pack(">H", len(text)) + text


def connect_packet(client_id: str, keepalive: int = 60, mqtt5: bool = True) -> bytes:
    """CONNECT, MQTT 5 (or 3.1.1), clean start, no properties."""
    version, props = (bytes([5, 0x02]), b"\x00") if mqtt5 else (bytes([4, 0x02]), b"")
    body = _utf8(b"MQTT") + version + struct.pack(">H", keepalive) + props + _utf8(client_id.encode())
    return b"\x10" + _varint(len(body)) + body


def publish_packet(topic: bytes, payload: bytes, packet_id: int, mqtt5: bool = True) -> bytes:
    """PUBLISH at QoS 1, no properties (MQTT 5; or MQTT 3.1.1, which has none)."""
    body = _utf8(topic) + struct.pack(">H", packet_id) + (b"\x00" if mqtt5 else b"") + payload
    return b"\x32" + _varint(len(body)) + body


def _packet_at(buf: bytes | bytearray, pos: int) -> tuple[int, int, int] | None:
    """(type, start of body, end) of the packet at `pos`, or None if it is not all there yet."""
    if len(buf) - pos < 2:
        return None
    length, shift, i = 0, 0, pos + 1
    while True:
        if i >= len(buf):
            return None
        byte = buf[i]
        length |= (byte & 0x7F) << shift
        shift, i = shift + 7, i + 1
        if not byte & 0x80:
            break
    if i + length > len(buf):
        return None
    return buf[pos] >> 4, i, i + length


class WirePublisher:
    """One MQTT 5 connection publishing pre-encoded QoS 1 packets: as fast as the broker takes
    them, or at a set pace, never more unacknowledged than the broker's receive maximum."""

    def __init__(self, address: BrokerAddress, client_id: str) -> None:
        self.address = address
        self.client_id = client_id
        self.window = 65535
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.address.host, self.address.port)
        self._writer.write(connect_packet(self.client_id, mqtt5=self.address.mqtt5))
        buf = bytearray()
        while (found := _packet_at(buf, 0)) is None:
            data = await self._reader.read(4096)
            if not data:
                raise BenchError("the broker closed the connection before CONNACK")
            buf += data
        kind, start, end = found
        if kind != 2 or buf[start + 1] >= 0x80 or (not self.address.mqtt5 and buf[start + 1]):
            raise BenchError(f"the broker refused the publisher (packet {kind}, reason {buf[start + 1]})")
        if not self.address.mqtt5:  # MQTT 3.1.1: no receive maximum; NATS's listener keeps pace
            self.window = 4096
            return
        props = bytes(buf[start + 2 : end])
        skip = 1 if props[0] < 0x80 else 2
        props = props[skip:]
        i = 0
        while i < len(props):  # pick out Receive Maximum (0x21); skip the rest
            ident = props[i]
            if ident == 0x21:
                self.window = struct.unpack(">H", props[i + 1 : i + 3])[0]
                break
            if ident in (0x12, 0x1A, 0x1C, 0x1F):  # UTF-8 strings
                i += 3 + struct.unpack(">H", props[i + 1 : i + 3])[0]
            elif ident in (0x11, 0x27):  # four-byte integers
                i += 5
            elif ident in (0x13, 0x22):  # two-byte integers
                i += 3
            elif ident == 0x26:  # user property: two strings
                n = struct.unpack(">H", props[i + 1 : i + 3])[0]
                i += 3 + n
                i += 2 + struct.unpack(">H", props[i : i + 2])[0]
            else:  # one-byte values
                i += 2

    async def publish(self, packets: Sequence[bytes], rate_per_s: float | None = None) -> None:
        """Send all `packets` and wait until the broker has acknowledged every one."""
        assert self._reader is not None and self._writer is not None
        state = {"acked": 0}
        progress = asyncio.Event()
        acks = asyncio.create_task(self._read_acks(len(packets), state, progress))
        sent, t0 = 0, time.perf_counter()
        try:
            while sent < len(packets):
                room = self.window - (sent - state["acked"])
                if rate_per_s is not None:
                    room = min(room, int(rate_per_s * (time.perf_counter() - t0)) + 1 - sent)
                    if room <= 0 and sent - state["acked"] < self.window:
                        await asyncio.sleep(0.002)
                        continue
                if room <= 0:
                    progress.clear()
                    await progress.wait()
                    continue
                self._writer.write(b"".join(packets[sent : sent + room]))
                sent += min(room, len(packets) - sent)
                if self._writer.transport.get_write_buffer_size() > 1 << 20:
                    await self._writer.drain()
            await acks
        finally:
            acks.cancel()

    async def _read_acks(self, expected: int, state: dict[str, int], progress: asyncio.Event) -> None:
        assert self._reader is not None
        buf = bytearray()
        while state["acked"] < expected:
            data = await self._reader.read(1 << 16)
            if not data:
                raise BenchError("the broker closed the publisher's connection")
            buf += data
            pos = 0
            while (found := _packet_at(buf, pos)) is not None:
                kind, start, end = found
                if kind == 4:  # PUBACK
                    if end - start > 2 and buf[start + 2] >= 0x80:
                        raise BenchError(f"the broker refused a message (reason {buf[start + 2]})")
                    state["acked"] += 1
                elif kind == 14:
                    raise BenchError("the broker disconnected the publisher")
                pos = end
            del buf[:pos]
            progress.set()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.write(b"\xe0\x00")
            await self._writer.drain()
            self._writer.close()


async def publish_all(
    address: BrokerAddress, per_connection: Sequence[Sequence[bytes]], tag: str, rate_per_s: float | None = None
) -> float:
    """Publish each list of packets on its own connection; the wall time of the first write."""
    publishers = [WirePublisher(address, f"bijli-bench-pub-{tag}-{i}") for i in range(len(per_connection))]
    await asyncio.gather(*(p.open() for p in publishers))
    share = None if rate_per_s is None else rate_per_s / len(publishers)
    first = time.time()
    await asyncio.gather(*(p.publish(packets, share) for p, packets in zip(publishers, per_connection, strict=True)))
    await asyncio.gather(*(p.close() for p in publishers))
    return first
