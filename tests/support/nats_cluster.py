"""NATS servers started by a test: one node, or a cluster of three on loopback, each with
JetStream in a store folder of its own and an MQTT listener for the meters."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import free_port, port_open, require, wait_until

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


@dataclass
class Node:
    name: str
    port: int
    mqtt_port: int
    cluster_port: int
    config: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.config.with_suffix(".log").open("ab")
        self.proc = subprocess.Popen([NATS_SERVER, "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_until(lambda: port_open("127.0.0.1", self.mqtt_port), 30, f"NATS node {self.name}'s MQTT listener")

    def kill(self) -> None:
        """SIGKILL: no goodbye to the cluster."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


@dataclass
class NatsCluster:
    nodes: list[Node] = field(default_factory=list)
    replicas: int = 1

    def url(self, ack_wait_s: int = 30) -> str:
        """The head-end's broker URL: every node, the stream's replicas, the ack wait."""
        hosts = ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)
        return f"nats://{hosts}?replicas={self.replicas}&ack_wait={ack_wait_s}"

    def stop(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.terminate()
                try:
                    node.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    node.proc.kill()
                    node.proc.wait()


def start_cluster(folder: Path, size: int) -> NatsCluster:
    """`size` nodes (1, or 3 for a cluster with the MQTT stream replicated three ways)."""
    require(f"nats-server ({NATS_SERVER})", Path(NATS_SERVER).exists())
    nodes = [Node(f"n{i}", free_port(), free_port(), free_port(), folder / f"n{i}.conf") for i in range(size)]
    for node in nodes:
        store = folder / node.name
        store.mkdir(parents=True, exist_ok=True)
        cluster = ""
        if size > 1:
            routes = ", ".join(f"nats-route://127.0.0.1:{n.cluster_port}" for n in nodes if n is not node)
            cluster = f"cluster {{ name: bijlitest, listen: 127.0.0.1:{node.cluster_port}, routes: [{routes}] }}"
        node.config.write_text(
            f"server_name: {node.name}\n"
            f"listen: 127.0.0.1:{node.port}\n"
            f'jetstream {{ store_dir: "{store}", max_memory_store: 64MB, max_file_store: 1GB }}\n'
            f"{cluster}\n"
            f"mqtt {{ listen: 127.0.0.1:{node.mqtt_port}, stream_replicas: {min(size, 3)} }}\n"
        )
    found = NatsCluster(nodes, replicas=min(size, 3))
    try:
        for node in nodes:
            node.start()
        for node in nodes:
            wait_until(lambda n=node: mqtt_accepts(n.mqtt_port), 60, f"NATS node {node.name} to take MQTT sessions")  # type: ignore[misc]
    except BaseException:
        found.stop()
        raise
    return found


def mqtt_accepts(port: int) -> bool:
    """Whether the node's MQTT listener accepts a session (it needs JetStream, and in a
    cluster JetStream needs its meta leader)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    try:
        client.connect("127.0.0.1", port, keepalive=10)
        client.loop_start()
        deadline = time.monotonic() + 5
        while not client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.05)
        return client.is_connected()
    except OSError:
        return False
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture
def nats_node(tmp_path: Path) -> Iterator[NatsCluster]:
    """One NATS server with JetStream and an MQTT listener."""
    found = start_cluster(tmp_path / "nats", 1)
    yield found
    found.stop()


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """Three NATS servers in a cluster on loopback."""
    found = start_cluster(tmp_path / "nats", 3)
    yield found
    found.stop()
