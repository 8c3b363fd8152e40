"""`bijli bench ingest --broker nats`: the JetStream profile's pieces for the ingest benchmark.
A NATS server of the run's own (JetStream, MQTT listener), a bare JetStream consumer that
does nothing but acknowledge (the broker limit), the head-end's `JetStreamUplink` doing
nothing else (the uplink limit), and the timed uplink of the run's head-end workers."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import nats
from nats.errors import TimeoutError as NatsTimeout

from bench import BenchError
from bench.ingest_uplink import TimedUplink, acknowledge_only
from bijli.adapters.brokers.jetstream import MQTT_STREAM, JetStreamUplink
from bijli.adapters.brokers.nats_address import NatsAddress
from bijli.protocol import topics

ACK_WAIT_S = 5
"""The run's ack wait: how long a killed worker's messages wait before the others take them."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def nats_server(folder: Path) -> Iterator[tuple[str, str, int]]:
    """A nats-server of the run's own: (the head-end's nats:// URL, the meters' mqtt:// URL, its pid)."""
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not Path(binary).exists():
        raise BenchError("--broker nats needs the nats-server program")
    port, mqtt_port = _free_port(), _free_port()
    conf = folder / "nats.conf"
    conf.write_text(
        f"server_name: bench\nlisten: 127.0.0.1:{port}\n"
        f'jetstream {{ store_dir: "{folder / "js"}", max_file_store: 8GB }}\n'
        f"mqtt {{ listen: 127.0.0.1:{mqtt_port} }}\n"
    )
    log = (folder / "nats.log").open("ab")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", mqtt_port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise BenchError(f"nats-server did not start; see {folder / 'nats.log'}") from None
                time.sleep(0.1)
        yield (
            f"nats://127.0.0.1:{port}?ack_wait={ACK_WAIT_S}",
            f"mqtt://127.0.0.1:{mqtt_port}?protocol=311",
            proc.pid,
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def bare_consumer(nats_url: str, root: str, ready: Event, stop: Event, seen: Any) -> None:
    """A JetStream pull consumer doing nothing but acknowledge: count, first and last receipt."""
    asyncio.run(_bare(nats_url, root, ready, stop, seen))


async def _bare(nats_url: str, root: str, ready: Event, stop: Event, seen: Any) -> None:
    address = NatsAddress.parse(nats_url)
    # The head-end's uplink makes the stream if need be; then this consumer joins it bare.
    maker = JetStreamUplink(address, topics.uplink_filter(root), f"bare-{root}")
    await maker.start()
    await maker.close()
    nc = await nats.connect(servers=list(address.servers))
    js = nc.jetstream()
    sub = await js.pull_subscribe_bind(f"bare-{root}", MQTT_STREAM)
    ready.set()
    counted = 0
    while not stop.is_set():
        try:
            msgs = await sub.fetch(5000, timeout=0.2)
        except (NatsTimeout, TimeoutError):
            continue
        for m in msgs:
            await m.ack()
        now = time.time()
        if not counted:
            seen[1] = now
        counted += len(msgs)
        seen[0], seen[2] = counted, now
    await nc.close()


def uplink_consumer(nats_url: str, root: str, ready: Event, stop: Event, seen: Any) -> None:
    """The head-end's own `JetStreamUplink` doing nothing else: count, first and last receipt."""
    asyncio.run(_uplink_only(nats_url, root, ready, stop, seen))


async def _uplink_only(nats_url: str, root: str, ready: Event, stop: Event, seen: Any) -> None:
    uplink = JetStreamUplink(NatsAddress.parse(nats_url), topics.uplink_filter(root), f"uplink-{root}")
    await acknowledge_only(uplink, ready, stop, seen)


class TimedJetStream(TimedUplink):
    """The head-end's JetStream uplink, timed: a message arrived when its batch was fetched."""

    def __init__(self, nats_url: str, root: str, durable: str) -> None:
        super().__init__(JetStreamUplink(NatsAddress.parse(nats_url), topics.uplink_filter(root), durable))
