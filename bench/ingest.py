"""`python -m bench.ingest` (`bijli bench ingest`): readings per second end to end, beside the
machine's own limits.

One run measures the same frames (real frames of the fleet twin, signed with each meter's
key and encoded as MQTT PUBLISH packets before any clock starts) three ways:

- **ingest**: a publisher (several MQTT 5 connections, QoS 1) -> Mosquitto -> K head-end worker
  processes sharing ``$share/headend/…`` (the `HeadEnd` and `MqttUplink` that `bijli serve`
  runs, acknowledging each batch after its commit) -> PostgreSQL; from the first publish to
  the last commit;
- **broker limit**: the same frames through the same broker to K subscriber processes that
  do nothing but acknowledge (QoS 1, manual acknowledgement, the same receive maximum); from
  the first publish to the last receipt;
- **copy limit**: the same rows by binary ``COPY`` into a scratch table built like ``readings``
  (same columns, key and monthly partitions), best of three.

A second set of rounds then goes out at half the measured rate, for the receive-to-commit
latency at half load, and the store is compared with what was published: ``lost`` (published,
not stored) and ``doubled`` (stored twice, or stored without being published).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import multiprocessing as mp
import os
import queue
import resource
import shutil
import socket
import statistics
import struct
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Annotated, Any

import paho.mqtt.client as paho
import psycopg
import sqlalchemy as sa
import typer
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from rich.console import Console
from sqlalchemy.engine import Engine, make_url

from bench.readings import BenchError, dedicated_database, scratch_settings
from bijli import settings as settings_mod
from bijli.adapters.brokers.mqtt import BrokerAddress, MqttUplink
from bijli.adapters.db import engine as db
from bijli.adapters.db import partitions
from bijli.adapters.db.store import Store
from bijli.bootstrap import Platform, bootstrap
from bijli.entrypoints.demo import commission
from bijli.entrypoints.serve import cancel
from bijli.fleet.city import build_city
from bijli.fleet.twin import FleetTwin, Outgoing, TwinOptions
from bijli.headend.handlers import interval_row
from bijli.headend.service import HeadEnd
from bijli.kernel.clock import SystemClock
from bijli.kernel.heap import settle_heap
from bijli.kernel.time import INTERVAL, INTERVAL_S, epoch, utc_from_epoch
from bijli.protocol import topics
from bijli.protocol.frames import ReadingFrame

DEFAULT_URL = "postgresql://postgres@127.0.0.1/bijli_bench_ingest"
BROKER_CONF = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence false
# A burst bigger than a subscriber's receive maximum waits in the broker instead of being
# dropped (Mosquitto's default keeps 1000 beyond the in-flight window and drops the rest).
max_queued_messages 0
# No limit on a publisher's unacknowledged messages (the default, 20, throttles a publisher
# that speaks for many meters on one connection).
max_inflight_messages 0
"""
GROUP = "headend"
HALF_LOAD_S = 20.0
"""About how long the half-load rounds last (the fleet's first meters send them, enough for that)."""
STALL_S = 30.0
"""Give up waiting for the store (and count what is missing as lost) after this long without progress."""
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """How a run is shaped (the defaults: the 24,000-meter pilot, two workers)."""

    meters: int = 24_000
    intervals: int = 8
    """Rounds published as fast as they go (every meter's reading, statuses every fourth)."""
    latency_intervals: int = 4
    repeat: int = 3
    """Times the broker limit and the saturated ingest are measured, in turn (B I B I B I),
    each on rounds of their own; the medians are reported, and the ratio is the median of
    each pair's ratio (the machine's speed drifts; a pair measured back to back shares it)."""
    """Further rounds published at half the measured rate, for the latency at half load (by as
    many of the fleet's meters as make about HALF_LOAD_S of traffic)."""
    workers: int = 2
    publishers: int = 4
    """MQTT connections the publisher spreads the meters over."""
    database_url: str = DEFAULT_URL
    broker_url: str | None = None
    """An MQTT 5 broker to measure; None starts a Mosquitto of the run's own (see BROKER_CONF)."""


# ---------------------------------------------------------------------- MQTT 5 on the wire


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _utf8(text: bytes) -> bytes:
    return struct.pack(">H", len(text)) + text


def connect_packet(client_id: str, keepalive: int = 60) -> bytes:
    """CONNECT, MQTT 5, clean start, no properties."""
    body = _utf8(b"MQTT") + bytes([5, 0x02]) + struct.pack(">H", keepalive) + b"\x00" + _utf8(client_id.encode())
    return b"\x10" + _varint(len(body)) + body


def publish_packet(topic: bytes, payload: bytes, packet_id: int) -> bytes:
    """PUBLISH at QoS 1, no properties."""
    body = _utf8(topic) + struct.pack(">H", packet_id) + b"\x00" + payload
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
        self._writer.write(connect_packet(self.client_id))
        buf = bytearray()
        while (found := _packet_at(buf, 0)) is None:
            data = await self._reader.read(4096)
            if not data:
                raise BenchError("the broker closed the connection before CONNACK")
            buf += data
        kind, start, end = found
        if kind != 2 or buf[start + 1] >= 0x80:
            raise BenchError(f"the broker refused the publisher (packet {kind}, reason {buf[start + 1]})")
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


# ---------------------------------------------------------------------- the frames


@dataclass(frozen=True, slots=True)
class Rounds:
    """Frames of some 15-minute rounds, as (topic, payload), meter by meter in sending order."""

    frames: list[Outgoing]
    readings: int
    meters: int
    """The fleet's first `meters` meters sent these frames."""

    def first_meters(self, n: int) -> Rounds:
        """Only the frames of the fleet's first `n` meters."""
        frames = [f for f in self.frames if f.meter < n]
        return Rounds(frames, _readings(frames), min(n, self.meters))

    def packets(self, connections: int, root: str | None = None, old_root: str = "") -> list[list[bytes]]:
        """PUBLISH packets for each connection; a meter always on the same one, in order."""
        out: list[list[bytes]] = [[] for _ in range(connections)]
        for f in self.frames:
            topic = f.topic if root is None else root + f.topic[len(old_root) :]
            lane = out[f.meter % connections]
            lane.append(publish_packet(topic.encode(), f.payload, len(lane) % 65535 + 1))
        return out


def fleet_rounds(twin: FleetTwin, begin: datetime, first: int, count: int) -> Rounds:
    """What the twin sends in rounds `first` .. `first + count - 1`, sealed."""
    frames: list[Outgoing] = []
    for n in range(first, first + count):
        twin.close_interval(begin + n * INTERVAL)
        frames.extend(twin.take_outgoing())
    return Rounds(frames, _readings(frames), twin.n)


def _readings(frames: Sequence[Outgoing]) -> int:
    return sum(len(f.frame.intervals) for f in frames if isinstance(f.frame, ReadingFrame))


def _meters_for(rounds: Rounds, meters: int, frames: float) -> int:
    """How many of the fleet's meters send about `frames` frames in these rounds."""
    per_meter = len(rounds.frames) / max(meters, 1)
    return max(1, min(meters, math.ceil(frames / max(per_meter, 1e-9))))


# ---------------------------------------------------------------------- subscriber and worker processes


def _subscriber(
    address: BrokerAddress, topic_filter: str, client_id: str, ready: Event, stop: Event, seen: Any
) -> None:
    """A subscriber that does nothing but acknowledge: received count, first and last receipt."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5, manual_ack=True)
    counted = [0]

    def on_connect(c: paho.Client, _u: object, _f: object, _rc: object, _p: object) -> None:
        c.subscribe(topic_filter, qos=1)

    def on_subscribe(_c: paho.Client, _u: object, _mid: object, _rc: object, _p: object) -> None:
        ready.set()

    def on_message(c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        c.ack(msg.mid, msg.qos)
        now = time.time()
        counted[0] += 1
        if counted[0] == 1:
            seen[1] = now
        seen[0] = counted[0]
        seen[2] = now

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.ReceiveMaximum = 65535
    client.connect(address.host, address.port, clean_start=True, properties=props)
    client.loop_start()
    stop.wait()
    client.disconnect()
    client.loop_stop()


def _uplink_subscriber(
    broker_url: str, topic_filter: str, client_id: str, ready: Event, stop: Event, seen: Any
) -> None:
    """The head-end's own MQTT uplink (`MqttUplink`, batches acknowledged in one write) doing
    nothing else: received count, first and last receipt."""
    asyncio.run(_acknowledge_only(broker_url, topic_filter, client_id, ready, stop, seen))


async def _acknowledge_only(
    broker_url: str, topic_filter: str, client_id: str, ready: Event, stop: Event, seen: Any
) -> None:
    uplink = MqttUplink(BrokerAddress.parse(broker_url), topic_filter, client_id, asyncio.get_running_loop())
    await uplink.start()
    settle_heap()
    ready.set()
    counted = 0
    while not stop.is_set():
        try:
            batch = await asyncio.wait_for(uplink.next_batch(5000, 0.05), 0.2)
        except TimeoutError:
            continue
        await uplink.ack(batch)
        now = time.time()
        if not counted:
            seen[1] = now
        counted += len(batch)
        seen[0], seen[2] = counted, now
    await uplink.close()


class TimedUplink(MqttUplink):
    """The head-end's MQTT uplink, also noting when each message arrived and when its batch was
    acknowledged (just after the commit), and how long the worker spent storing batches."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._arrived: dict[int, float] = {}
        self.arrivals: list[float] = []
        self.commits: list[float] = []
        self.busy_s = 0.0
        self._batch_at = 0.0

    def _on_delivery(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        self._arrived[mid] = time.time()
        super()._on_delivery(topic, payload, mid, qos)

    async def next_batch(self, max_messages: int, max_wait_s: float) -> list[Any]:
        batch = await super().next_batch(max_messages, max_wait_s)
        self._batch_at = time.perf_counter()
        return batch

    async def ack(self, deliveries: Sequence[Any]) -> None:
        now = time.time()
        self.busy_s += time.perf_counter() - self._batch_at
        for d in deliveries:  # before the PUBACK: the broker may reuse the packet id right after
            self.arrivals.append(self._arrived.pop(d.token[0], now))
            self.commits.append(now)
        await super().ack(deliveries)


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ``ru_maxrss``, not inherited from the
    parent that forked it, which here holds every frame of the run)."""
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker(*args: Any) -> None:
    """One head-end worker process (the arguments are `_work`'s): ingest until told to stop,
    then report."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_work(*args))


async def _work(
    database_url: str,
    broker_url: str,
    root: str,
    secret: bytes,
    index: int,
    ready: Event,
    stop: Event,
    results: Any,
    progress: Any,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = settings_mod.build(data_dir=Path(tmp), database_url=database_url, broker_url=broker_url, topic_root=root)
        platform = bootstrap(replace(cfg, site_secret=secret), migrate=False)
        address = BrokerAddress.parse(broker_url)
        subscription = topics.shared_uplink_filter(root, GROUP)
        uplink = TimedUplink(address, subscription, f"bijli-{root}-headend-{index}", asyncio.get_running_loop())
        await uplink.start()
        headend = HeadEnd(platform.store, uplink, platform.ring, root, SystemClock(), name=f"bench/{index}")
        settle_heap()  # as `bijli serve` does
        task = asyncio.create_task(headend.run())
        ready.set()
        while not stop.is_set():
            # What this worker has committed, for the run to wait on without asking the
            # database (a count of `readings` every tenth of a second would load the very
            # server being measured).
            progress.value = headend.totals.readings_stored + headend.totals.readings_replaced
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        await cancel([task])
        await uplink.close()
        platform.store.dispose()
        results.put(
            {
                "index": index,
                "arrivals": uplink.arrivals,
                "commits": uplink.commits,
                "busy_s": uplink.busy_s,
                "write_s": headend.totals.write_s,
                "readings_settled": headend.totals.readings_settled,
                "readings_stored": headend.totals.readings_stored,
                "batches": headend.totals.batches,
                "errors": headend.totals.errors[:5],
                "rss_mb": _peak_rss_mb(),
            }
        )


# ---------------------------------------------------------------------- the copy limit


def _pg_value(kind: str, value: Any) -> bytes:
    if kind == "integer":
        return struct.pack(">ii", 4, value)
    if kind == "bigint":
        return struct.pack(">iq", 8, value)
    if kind == "smallint":
        return struct.pack(">ih", 2, value)
    if kind == "timestamp with time zone":
        delta = value - PG_EPOCH
        return struct.pack(">iq", 8, (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds)
    if kind.startswith(("character varying", "text")):
        data = str(value).encode()
        return struct.pack(">i", len(data)) + data
    raise BenchError(f"the copy limit does not know how to write a {kind} column")


def interval_rows(rounds: Rounds) -> list[dict[str, Any]]:
    """The readings of these rounds as the head-end collects them (interval start in epoch
    seconds), in the order it would store them."""
    return [
        interval_row(f.frame.m, r)
        for f in rounds.frames
        if isinstance(f.frame, ReadingFrame)
        for r in f.frame.intervals
    ]


def copy_rows(rounds: Rounds, now: datetime) -> list[dict[str, Any]]:
    """The rows the head-end would store for these rounds, every column, in its order."""
    stored = {"quality": "actual", "received_at": now, "flags": 0}
    return [{**row, "interval_start": utc_from_epoch(row["interval_start"]), **stored} for row in interval_rows(rounds)]


def _psycopg_url(url: str) -> str:
    return make_url(db.normalise_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)


def _scratch_readings(conn: sa.Connection, name: str) -> None:
    """A partitioned table `name` made like `readings`: columns, key, monthly partitions."""
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
    conn.execute(
        sa.text(
            f"CREATE TABLE {name} (LIKE public.readings INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
            "PARTITION BY RANGE (interval_start)"
        )
    )
    conn.execute(sa.text(f"ALTER TABLE {name} ADD PRIMARY KEY (meter_id, interval_start)"))
    for i, p in enumerate(partitions.partitions(conn)):
        bounds = "DEFAULT" if p.start is None or p.end is None else f"FOR VALUES FROM ('{p.start}') TO ('{p.end}')"
        conn.execute(sa.text(f"CREATE TABLE {name}_{i} PARTITION OF {name} {bounds}"))


def copy_limit(engine: Engine, url: str, rows: list[dict[str, Any]], tries: int = 3) -> float:
    """Rows per second of a binary COPY into a scratch table made like `readings`; best of `tries`."""
    with engine.begin() as conn:
        _scratch_readings(conn, "copy_bench")
        columns = conn.execute(
            sa.text(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = 'readings'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
            )
        ).all()
    known = [(name, kind) for name, kind in columns if name in rows[0]]
    head = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
    field_count = struct.pack(">h", len(known))
    body = b"".join(field_count + b"".join(_pg_value(kind, row[name]) for name, kind in known) for row in rows)
    data = head + body + struct.pack(">h", -1)
    names = ", ".join(name for name, _ in known)
    best = float("inf")
    with psycopg.connect(_psycopg_url(url)) as conn:
        for _ in range(tries):
            conn.execute("TRUNCATE copy_bench")
            conn.commit()
            t = time.perf_counter()
            with conn.cursor() as cur, cur.copy(f"COPY copy_bench ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                for at in range(0, len(data), 1 << 20):
                    copy.write(data[at : at + (1 << 20)])
            conn.commit()
            best = min(best, time.perf_counter() - t)
        conn.execute("DROP TABLE copy_bench")
        conn.commit()
    return len(rows) / best


STAGE_SCHEMA = "store_stage"


def store_stage(main: Engine, url: str, rounds: Rounds, batch: int, writers: int, tries: int = 3) -> float:
    """Readings per second of the head-end's own readings write (`StoreTx.store_readings`:
    binary COPY in a savepoint), alone: the same readings in batches of `batch`, one
    transaction each, shared by `writers` threads as the workers share them, into a scratch
    `readings` of its own schema; best of `tries`."""
    rows = interval_rows(rounds)
    engine = sa.create_engine(db.normalise_url(url), connect_args={"options": f"-c search_path={STAGE_SCHEMA},public"})
    store = Store(engine, {})
    best = float("inf")
    try:
        with main.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {STAGE_SCHEMA}"))
        for _ in range(tries):
            with main.begin() as conn:
                _scratch_readings(conn, f"{STAGE_SCHEMA}.readings")
            now = datetime.now(UTC)
            batches = [rows[at : at + batch] for at in range(0, len(rows), batch)]

            def write(share: list[list[dict[str, Any]]], at: datetime = now) -> None:
                for one in share:
                    with store.transaction() as tx:
                        tx.store_readings(one, at)

            t = time.perf_counter()
            with ThreadPoolExecutor(writers) as pool:
                list(pool.map(write, [batches[k::writers] for k in range(writers)]))
            best = min(best, time.perf_counter() - t)
        with main.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {STAGE_SCHEMA} CASCADE"))
    finally:
        engine.dispose()
    return len(rows) / best


# ---------------------------------------------------------------------- the run


def _rows(engine: Engine, table: str = "readings") -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


async def _poll(engine: Engine, table: str, done: Callable[[int], bool]) -> int:
    """Count `table`'s rows until `done(count)`, or until the count has not moved for STALL_S;
    the last count."""
    last, last_change = -1, time.monotonic()
    while not done(n := await asyncio.to_thread(_rows, engine, table)):
        if n != last:
            last, last_change = n, time.monotonic()
        elif time.monotonic() - last_change > STALL_S:
            break
        await asyncio.sleep(0.1)
    return n


def _until_committed(progress: Sequence[Any], expected: int) -> int:
    """The readings the workers have committed, once there are `expected` or once they stop
    coming (read from the workers' shared counters, not from the database under test)."""
    last, last_change = -1, time.monotonic()
    while (n := sum(int(p.value) for p in progress)) < expected:
        if n != last:
            last, last_change = n, time.monotonic()
        elif time.monotonic() - last_change > STALL_S:
            break
        time.sleep(0.02)
    return n


async def _until_settled(engine: Engine) -> int:
    """The batches left once the settlement queue is empty, or once it stops emptying."""
    return await _poll(engine, "settlement_queue", lambda n: n == 0)


def _checkpoint(engine: Engine) -> None:
    """Write out what the setup dirtied (commissioning, the broker phase's wait), so that a
    checkpoint it would trigger does not land in the measured phase; skipped without the right."""
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("CHECKPOINT"))
    except sa.exc.DBAPIError:
        pass


_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _cpu_s(pids: Iterable[int]) -> float:
    """CPU seconds (user and system) the processes `pids` have used so far."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime and stime, the 14th and 15th fields
    return ticks / _TICKS_PER_S


def _pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@dataclass(frozen=True, slots=True)
class CpuMeter:
    """Where the machine's CPU goes during a phase: the run's own process (the publisher),
    each group of child processes, the broker and PostgreSQL."""

    groups: dict[str, list[int]]

    def read(self) -> dict[str, float]:
        return {
            "publisher": time.process_time(),
            **{name: _cpu_s(pids) for name, pids in self.groups.items()},
            "broker": _cpu_s(_pids_named("mosquitto")),
            "postgres": _cpu_s(_pids_named("postgres")),
        }

    @staticmethod
    def per_reading_us(before: dict[str, float], after: dict[str, float], readings: int) -> dict[str, float]:
        return {k: (after[k] - before[k]) * 1e6 / max(readings, 1) for k in before}


def _ms(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000, 1)


class _Processes:
    """Child processes of the run (spawned: a fresh interpreter each, like separate services)."""

    def __init__(self) -> None:
        self.ctx = mp.get_context("spawn")
        self.started: list[Any] = []

    def start(self, target: Any, *args: Any) -> None:
        p = self.ctx.Process(target=target, args=args, daemon=True)
        p.start()
        self.started.append(p)

    def wait_ready(self, events: Sequence[Event], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not all(e.is_set() for e in events):
            if any(p.exitcode is not None for p in self.started):
                raise BenchError(f"{what} exited before getting ready; see the error above")
            if time.monotonic() > deadline:
                raise BenchError(f"{what} did not get ready within {timeout:.0f} s")
            time.sleep(0.05)

    def stop(self, stop: Event) -> None:
        stop.set()
        for p in self.started:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        self.started.clear()


@contextmanager
def mosquitto(url: str | None, folder: Path) -> Iterator[str]:
    """The broker to measure: `url`, or a Mosquitto of this run's own on a free port."""
    if url is not None:
        yield url
        return
    program = shutil.which("mosquitto")
    if program is None:
        raise BenchError("no mosquitto program to start; give --broker-url")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    conf = folder / "mosquitto.conf"
    conf.write_text(BROKER_CONF.format(port=port))
    proc = subprocess.Popen([program, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                raise BenchError(f"mosquitto did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError("mosquitto did not listen within 10 s") from None
                time.sleep(0.05)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(opts: Options, progress: Callable[[str], None] | None = None) -> dict[str, object]:
    """Measure ingest, broker limit and copy limit on the same frames; the figures."""
    say = progress or (lambda _msg: None)
    load = os.getloadavg()[0]
    run_id = uuid.uuid4().hex[:8]
    root_ingest, root_broker, root_uplink = f"bi{run_id}", f"bb{run_id}", f"bu{run_id}"
    dedicated_database(opts.database_url, fresh=True)
    with tempfile.TemporaryDirectory() as tmp, mosquitto(opts.broker_url, Path(tmp)) as broker_url:
        address = BrokerAddress.parse(broker_url)
        if not address.mqtt5:
            raise BenchError("the benchmark speaks MQTT 5 (shared subscriptions)")
        cfg = scratch_settings(opts.database_url, Path(tmp))
        cfg = replace(cfg, site_secret=os.urandom(32), topic_root=root_ingest, broker_url=broker_url)
        platform = bootstrap(cfg)
        try:
            roots = (root_ingest, root_broker, root_uplink)
            figures = _run(opts, platform.store.engine, cfg, address, roots, platform, say)
        finally:
            platform.store.dispose()
    figures["broker"] = opts.broker_url or "mosquitto of its own (max_queued_messages 0)"
    figures["load_average_at_start"] = round(load, 2)  # other work sharing the cores when the run began
    return figures


def _run(
    opts: Options,
    engine: Engine,
    cfg: settings_mod.Settings,
    address: BrokerAddress,
    roots: tuple[str, str, str],
    platform: Platform,
    say: Callable[[str], None],
) -> dict[str, object]:
    root_ingest, root_broker, root_uplink = roots
    rounds_total = opts.repeat * opts.intervals + opts.latency_intervals
    now = datetime.now(UTC)
    begin = utc_from_epoch((epoch(now) // INTERVAL_S - rounds_total - 2) * INTERVAL_S)
    city = build_city(opts.meters)
    t = time.perf_counter()
    commission(platform, city, begin - timedelta(days=1))
    say(f"commissioned {len(city)} meters in {time.perf_counter() - t:.1f} s")
    twin = FleetTwin(
        city,
        [],
        cfg.site_secret,
        platform.store.tariffs[cfg.tariff_code],
        start=begin,
        root=root_ingest,
        first_counter=0,
        options=TwinOptions(history_days=0),
    )
    reps = opts.repeat
    saturates = [fleet_rounds(twin, begin, r * opts.intervals, opts.intervals) for r in range(reps)]
    half = fleet_rounds(twin, begin, reps * opts.intervals, opts.latency_intervals)
    saturate = saturates[0]
    to_broker = [s.packets(opts.publishers, root_broker, root_ingest) for s in saturates]
    to_uplink = [s.packets(opts.publishers, root_uplink, root_ingest) for s in saturates]
    to_ingest = [s.packets(opts.publishers) for s in saturates]
    sealed = sum(len(s.frames) for s in saturates) + len(half.frames)
    say(f"sealed {sealed} frames ({sum(s.readings for s in saturates) + half.readings} readings)")

    procs = _Processes()
    ctx = procs.ctx
    stop = ctx.Event()
    # K bare paho subscribers that only acknowledge (the broker limit), K head-end uplinks that
    # only acknowledge (the uplink limit) and K head-end workers, all up for the whole run;
    # each group is idle while another is measured.
    sub_ready = [ctx.Event() for _ in range(2 * opts.workers)]
    seen = [ctx.Array("d", 3, lock=False) for _ in range(opts.workers)]
    seen_uplink = [ctx.Array("d", 3, lock=False) for _ in range(opts.workers)]
    for i in range(opts.workers):
        topic_filter = f"$share/bench/{topics.uplink_filter(root_broker)}"
        procs.start(
            _subscriber, address, topic_filter, f"bijli-bench-sub-{root_broker}-{i}", sub_ready[i], stop, seen[i]
        )
    for i in range(opts.workers):
        topic_filter = topics.shared_uplink_filter(root_uplink, GROUP)
        client_id = f"bijli-bench-uplink-{root_uplink}-{i}"
        procs.start(
            _uplink_subscriber,
            cfg.broker_url,
            topic_filter,
            client_id,
            sub_ready[opts.workers + i],
            stop,
            seen_uplink[i],
        )
    ready = [ctx.Event() for _ in range(opts.workers)]
    results = ctx.Queue()
    committed = [ctx.Value("q", 0, lock=False) for _ in range(opts.workers)]
    for i in range(opts.workers):
        procs.start(
            _worker,
            cfg.database_url,
            cfg.broker_url,
            root_ingest,
            cfg.site_secret,
            i,
            ready[i],
            stop,
            results,
            committed[i],
        )
    reports: list[dict[str, Any]] = []
    runs: list[dict[str, float]] = []
    windows: list[tuple[float, float]] = []
    cpu_runs: list[dict[str, dict[str, float]]] = []
    try:
        procs.wait_ready(sub_ready + ready, 120, "the subscribers and head-end workers")
        pids = [int(p.pid) for p in procs.started]
        k = opts.workers
        meter = CpuMeter({"subscribers": pids[:k], "uplinks": pids[k : 2 * k], "workers": pids[2 * k :]})
        time.sleep(0.5)
        frames_seen = stored_goal = 0
        cpu = time.process_time()
        for r, rounds in enumerate(saturates):
            # The broker's limit: these frames to the subscribers.
            before = meter.read()
            first = asyncio.run(publish_all(address, to_broker[r], f"{root_broker}-{r}"))
            frames_seen += len(rounds.frames)
            deadline = time.monotonic() + STALL_S
            while time.monotonic() < deadline and int(sum(s[0] for s in seen)) < frames_seen:
                time.sleep(0.02)
            broker_s = max(max(s[2] for s in seen) - first, 1e-9)
            broker_cpu = CpuMeter.per_reading_us(before, meter.read(), rounds.readings)
            # The same frames to the head-end's own uplink, doing nothing else.
            before = meter.read()
            first = asyncio.run(publish_all(address, to_uplink[r], f"{root_uplink}-{r}"))
            deadline = time.monotonic() + STALL_S
            while time.monotonic() < deadline and int(sum(s[0] for s in seen_uplink)) < frames_seen:
                time.sleep(0.02)
            uplink_s = max(max(s[2] for s in seen_uplink) - first, 1e-9)
            uplink_cpu = CpuMeter.per_reading_us(before, meter.read(), rounds.readings)
            # The ingest: the same number of frames (the next rounds) to the workers.
            _checkpoint(engine)
            time.sleep(0.5)
            before = meter.read()
            first = asyncio.run(publish_all(address, to_ingest[r], f"{root_ingest}-{r}"))
            stored_goal += rounds.readings
            stored = _until_committed(committed, stored_goal)
            windows.append((first, time.time()))
            ingest_cpu = CpuMeter.per_reading_us(before, meter.read(), rounds.readings)
            cpu_runs.append({"broker": broker_cpu, "uplink": uplink_cpu, "ingest": ingest_cpu})
            runs.append(
                {
                    "broker_s": broker_s,
                    "uplink_s": uplink_s,
                    "first": first,
                    "readings": rounds.readings,
                    "stored": stored,
                }
            )
            say(
                f"round {r + 1}: broker {rounds.readings / broker_s:.0f} readings/s, "
                f"uplink {rounds.readings / uplink_s:.0f}; ingest stored {stored}"
            )
            asyncio.run(_until_settled(engine))  # settlement of this set does not overlap the next
        publisher_cpu_s = time.process_time() - cpu
        frame_rate = len(saturate.frames) / max(windows[-1][1] - windows[-1][0], 1e-9)
        half = half.first_meters(_meters_for(half, opts.meters, frame_rate / 2 * HALF_LOAD_S))
        half_start = time.time()
        asyncio.run(
            publish_all(address, half.packets(opts.publishers), root_ingest + "-half", rate_per_s=frame_rate / 2)
        )
        _until_committed(committed, stored_goal + half.readings)
        half_done = time.time()
        unsettled = asyncio.run(_until_settled(engine))
        settled_at = time.time()
        say(f"settled: {unsettled} batches left")
        stop.set()
        for _ in range(opts.workers):
            try:
                reports.append(results.get(timeout=60))
            except queue.Empty:
                break
    finally:
        procs.stop(stop)
    if len(reports) < opts.workers:
        raise BenchError("a head-end worker did not report; see its log above")
    commits = [c for r in reports for c in r["commits"]]
    arrivals = [a for r in reports for a in r["arrivals"]]
    for run, (begun, done) in zip(runs, windows, strict=True):
        last_commit = max((c for c in commits if begun <= c <= done), default=done)
        run["ingest_s"] = max(last_commit - begun, 1e-9)
        run["readings_per_s"] = run["readings"] / run["ingest_s"]
        run["broker_limit_per_s"] = run["readings"] / run["broker_s"]
        run["ratio"] = run["readings_per_s"] / run["broker_limit_per_s"]
        run["uplink_limit_per_s"] = run["readings"] / run["uplink_s"]
        run["ratio_to_uplink"] = run["readings_per_s"] / run["uplink_limit_per_s"]
    readings_per_s = statistics.median(run["readings_per_s"] for run in runs)
    broker_limit = statistics.median(run["broker_limit_per_s"] for run in runs)
    ratio = statistics.median(run["ratio"] for run in runs)
    uplink_limit = statistics.median(run["uplink_limit_per_s"] for run in runs)
    ratio_to_uplink = statistics.median(run["ratio_to_uplink"] for run in runs)
    ingest_s = statistics.median(run["ingest_s"] for run in runs)
    broker_s = statistics.median(run["broker_s"] for run in runs)
    saturated_latency = [c - a for a, c in zip(arrivals, commits, strict=True) if any(b <= a <= d for b, d in windows)]
    half_latency = [c - a for a, c in zip(arrivals, commits, strict=True) if a >= half_start]
    # Under load, and conservatively: as if one worker had done every batch's work in turn.
    stored_all = sum(r["readings_stored"] for r in reports)
    write_under_load = stored_all / max(sum(r["write_s"] for r in reports), 1e-9)
    batch_stage = stored_all / max(sum(r["busy_s"] for r in reports), 1e-9)
    batches = sum(int(r["batches"]) for r in reports)

    # 3. The copy limit: the same rows into a table like `readings`.
    copy_per_s = copy_limit(engine, cfg.database_url, copy_rows(saturate, datetime.now(UTC)))
    say(f"copy: {copy_per_s:.0f} rows/s")
    per_batch = max(1, round(stored_all / max(1, batches)))
    stage_per_s = store_stage(engine, cfg.database_url, saturate, per_batch, opts.workers)
    say(f"store stage alone: {stage_per_s:.0f} readings/s in batches of {per_batch}, {opts.workers} writers")

    ids = [c.meter_id for c in city]
    middle = begin + reps * opts.intervals * INTERVAL
    published = [(ids, begin, middle), (ids[: half.meters], middle, middle + opts.latency_intervals * INTERVAL)]
    lost, doubled, quarantined = _compare(engine, published)
    with engine.connect() as conn:
        size = sum(p.bytes for p in partitions.partitions(conn))
        ledger_size = int(conn.exec_driver_sql("SELECT pg_total_relation_size('ledger')").scalar_one())
        total_readings = _rows(engine)
    return {
        "readings_per_s": round(readings_per_s),
        "broker_limit_per_s": round(broker_limit),
        "copy_limit_per_s": round(copy_per_s),
        "ratio_to_broker": round(ratio, 3),
        "ratio_to_copy": round(readings_per_s / copy_per_s, 3),
        "lost": lost,
        "doubled": doubled,
        "uplink_limit_per_s": round(uplink_limit),
        "ratio_to_uplink": round(ratio_to_uplink, 3),
        "meters": opts.meters,
        "intervals": opts.intervals,
        "repeat": reps,
        "runs": [
            {
                "readings_per_s": round(run["readings_per_s"]),
                "broker_limit_per_s": round(run["broker_limit_per_s"]),
                "ratio": round(run["ratio"], 3),
                "uplink_limit_per_s": round(run["uplink_limit_per_s"]),
                "ratio_to_uplink": round(run["ratio_to_uplink"], 3),
            }
            for run in runs
        ],
        "workers": opts.workers,
        "publishers": opts.publishers,
        "readings": saturate.readings,
        "frames": len(saturate.frames),
        "ingest_s": round(ingest_s, 2),
        "broker_s": round(broker_s, 2),
        "store_stage_per_s": round(stage_per_s),
        "store_stage_to_copy": round(stage_per_s / copy_per_s, 3),
        "store_stage_batch": per_batch,
        "write_under_load_per_s": round(write_under_load),
        "batch_stage_per_s": round(batch_stage),
        "settled_after_s": round(settled_at - half_done, 2),
        "settled_readings": sum(r["readings_settled"] for r in reports),
        "unsettled_batches": unsettled,
        "saturated_receive_to_commit_p99_ms": _ms(saturated_latency, 0.99),
        "half_load_per_s": round(frame_rate / 2 * saturate.readings / len(saturate.frames)),
        "half_load_readings": half.readings,
        "half_load_receive_to_commit_p50_ms": _ms(half_latency, 0.5),
        "half_load_receive_to_commit_p99_ms": _ms(half_latency, 0.99),
        "worker_rss_mb": round(max(r["rss_mb"] for r in reports), 1),
        "publisher_cpu_s": round(publisher_cpu_s, 2),
        "cpu_us_per_reading": {
            phase: {k: round(statistics.median(c[phase][k] for c in cpu_runs), 1) for k in cpu_runs[0][phase]}
            for phase in ("broker", "uplink", "ingest")
        },
        "batches": batches,
        "messages_per_batch": round(len(commits) / max(1, batches), 1),
        "bytes_per_reading": round(size / max(total_readings, 1), 1),
        "ledger_bytes_per_reading": round(ledger_size / max(total_readings, 1), 1),
        "quarantined": quarantined,
        "worker_errors": [e for r in reports for e in r["errors"]],
    }


def _compare(engine: Engine, published: list[tuple[list[str], datetime, datetime]]) -> tuple[int, int, dict[str, int]]:
    """The store against what was published (meters, and the intervals from .. to each sent):
    (lost, doubled, quarantined by reason)."""
    inside = 0
    with engine.connect() as conn:
        for ids, lo, hi in published:
            inside += int(
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM readings "
                        "WHERE meter_id = ANY(:ids) AND interval_start >= :lo AND interval_start < :hi"
                    ),
                    {"ids": ids, "lo": lo, "hi": hi},
                ).scalar_one()
            )
        total, distinct = conn.execute(
            sa.text("SELECT count(*), count(DISTINCT (meter_id, interval_start)) FROM readings")
        ).one()
        reasons: dict[str, int] = dict(
            conn.execute(sa.text("SELECT reason, count(*) FROM quarantine GROUP BY reason")).all()
        )
    expected = sum(len(ids) * round((hi - lo) / INTERVAL) for ids, lo, hi in published)
    return expected - inside, (int(total) - int(distinct)) + (int(total) - inside), reasons


app = typer.Typer(add_completion=False)
console = Console(stderr=True)


@app.command()
def main(
    meters: Annotated[int, typer.Option(min=1, help="Consumer meters publishing (each commissioned first).")] = 24_000,
    intervals: Annotated[int, typer.Option(min=1, help="15-minute rounds published as fast as they go.")] = 8,
    workers: Annotated[int, typer.Option(min=1, help="Head-end worker processes (and do-nothing subscribers).")] = 2,
    publishers: Annotated[int, typer.Option(min=1, help="MQTT connections the publisher uses.")] = 4,
    latency_intervals: Annotated[
        int, typer.Option(min=0, help="Further rounds published at half the measured rate, for the latency.")
    ] = 4,
    repeat: Annotated[
        int, typer.Option(min=1, help="Broker and ingest measured this many times, in turn; medians reported.")
    ] = 3,
    database_url: Annotated[
        str, typer.Option("--database-url", help="PostgreSQL database for the run (a bijli_bench… one is made anew).")
    ] = DEFAULT_URL,
    broker_url: Annotated[
        str | None, typer.Option("--broker-url", help="MQTT 5 broker to measure (default: a Mosquitto of its own).")
    ] = None,
) -> None:
    """End-to-end ingest beside the broker's and COPY's limits, all in one run; one JSON line."""
    options = Options(
        meters=meters,
        intervals=intervals,
        latency_intervals=latency_intervals,
        repeat=repeat,
        workers=workers,
        publishers=publishers,
        database_url=database_url,
        broker_url=broker_url,
    )
    try:
        figures = run(options, progress=console.print)
    except BenchError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(1) from e
    print(json.dumps(figures))


if __name__ == "__main__":
    app()
