"""Frames published to a real MQTT broker as meters publish them."""

from __future__ import annotations

from collections.abc import Sequence

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from bijli.adapters.brokers.address import BrokerAddress


def publish(url: str, items: Sequence[tuple[str, bytes]]) -> None:
    """Publish each (topic, payload) to the broker at `url` at QoS 1 as meters do, each taken by
    the broker before the next."""
    address = BrokerAddress.parse(url)
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.connect(address.host, address.port)
    client.loop_start()
    for topic, payload in items:
        client.publish(topic, payload, qos=1).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()
