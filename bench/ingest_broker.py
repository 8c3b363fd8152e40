"""The broker's limits: a Mosquitto of the run's own, and subscriber processes that do nothing
but acknowledge (bare paho, or the head-end's own `MqttUplink`)."""

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

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from bench import BenchError
from bench.ingest_uplink import acknowledge_only
from bijli.adapters.brokers.address import BrokerAddress
from bijli.adapters.brokers.mqtt import MqttUplink

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


def bare_subscriber(
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


def uplink_subscriber(broker_url: str, topic_filter: str, client_id: str, ready: Event, stop: Event, seen: Any) -> None:
    """The head-end's own MQTT uplink (`MqttUplink`, batches acknowledged in one write) doing
    nothing else: received count, first and last receipt."""
    asyncio.run(_acknowledge_only(broker_url, topic_filter, client_id, ready, stop, seen))


async def _acknowledge_only(
    broker_url: str, topic_filter: str, client_id: str, ready: Event, stop: Event, seen: Any
) -> None:
    uplink = MqttUplink(BrokerAddress.parse(broker_url), topic_filter, client_id, asyncio.get_running_loop())
    await acknowledge_only(uplink, ready, stop, seen)
