"""Meters' MQTT connections: one per meter, each with the meter's own credentials."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from types import TracebackType

import aiomqtt

from bijli.adapters.brokers.mqtt import BrokerAddress
from bijli.fleet.twin import Outgoing
from bijli.protocol import keys, topics


class MeterConnections:
    """Opens a connection per meter; publishes sealed frames at QoS 1, waiting for PUBACK."""

    def __init__(
        self,
        address: BrokerAddress,
        site_secret: bytes,
        meter_ids: Sequence[str],
        root: str,
        connect_parallel: int = 50,
    ) -> None:
        self._address = address
        self._secret = site_secret
        self._meter_ids = list(meter_ids)
        self._root = root
        self._parallel = connect_parallel
        self._clients: dict[str, aiomqtt.Client] = {}
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> MeterConnections:
        gate = asyncio.Semaphore(self._parallel)
        protocol = aiomqtt.ProtocolVersion.V5 if self._address.mqtt5 else aiomqtt.ProtocolVersion.V311

        async def connect(meter_id: str) -> None:
            client = aiomqtt.Client(
                self._address.host,
                self._address.port,
                identifier=meter_id,
                username=meter_id,
                password=keys.mqtt_password(self._secret, meter_id),
                protocol=protocol,
                keepalive=60,
                timeout=30,
            )
            async with gate:
                await self._stack.enter_async_context(client)
            self._clients[meter_id] = client

        try:
            await asyncio.gather(*(connect(m) for m in self._meter_ids))
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()

    async def publish(self, frames: Sequence[Outgoing]) -> None:
        """Publish every frame; each meter's frames go out in order on its own connection."""
        by_meter: dict[str, list[Outgoing]] = {}
        for f in frames:
            parsed = topics.parse_uplink(self._root, f.topic)
            if parsed is None:
                raise ValueError(f"not an uplink topic: {f.topic}")
            by_meter.setdefault(parsed[0], []).append(f)

        async def send(meter_id: str, items: list[Outgoing]) -> None:
            client = self._clients[meter_id]
            for item in items:
                await client.publish(item.topic, item.payload, qos=1)

        await asyncio.gather(*(send(m, items) for m, items in by_meter.items()))
