"""Meters' MQTT connections: one per meter, each with the meter's own credentials.

Each meter publishes on its own uplink topics at QoS 1 and counts a frame delivered only when
the broker acknowledges it (PUBACK); it listens on its own command topic. When the broker goes
away, publishing fails for the meters it dropped: they are handed back to the caller (whose
meters keep the content and seal it anew later) and reconnect in the background.

A twin's client id is ``{meter_id}.{root}.{fleet}``, with a fleet id drawn at random for each
run, so two fleets (or two test runs) with the same meters on one broker do not knock each
other off. (A broker that binds client ids to user names, as bijli's Mosquitto configuration
does, uses the meter id whatever the twin sends.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Sequence
from types import TracebackType

import aiomqtt

from bijli.adapters.brokers.address import BrokerAddress
from bijli.fleet.twin import Outgoing
from bijli.protocol import topics

log = logging.getLogger(__name__)
CommandHandler = Callable[[str, bytes], None]


class MeterConnections:
    """A connection per meter; `publish` returns what could not be delivered."""

    def __init__(
        self,
        address: BrokerAddress,
        password_of: Callable[[str], str],
        meter_ids: Sequence[str],
        root: str,
        *,
        on_command: CommandHandler | None = None,
        connect_parallel: int = 50,
        retry_s: float = 2.0,
        fleet_id: str | None = None,
    ) -> None:
        self._address = address
        self._tls = address.tls_context()
        self.fleet_id = fleet_id or secrets.token_hex(4)
        self._password_of = password_of
        self._meter_ids = list(meter_ids)
        self._root = root
        self._on_command = on_command
        self._gate = asyncio.Semaphore(connect_parallel)
        self._retry_s = retry_s
        self._clients: dict[str, aiomqtt.Client] = {}
        self._listeners: dict[str, asyncio.Task[None]] = {}
        self._reconnecting: dict[str, asyncio.Task[None]] = {}
        self._back: set[str] = set()
        self.losses = 0
        """How often a meter lost its connection (the broker went away, or dropped or replaced it)."""

    async def __aenter__(self) -> MeterConnections:
        try:  # once for the fleet: a broker whose certificate or name does not verify fails fast
            await self._address.check_tls()
        except OSError as e:
            raise aiomqtt.MqttError(f"MQTT broker {self._address}: {e}") from e
        results = await asyncio.gather(*(self._connect(m) for m in self._meter_ids), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            await self.__aexit__(None, None, None)
            raise failed[0]
        return self

    async def __aexit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        for task in [*self._reconnecting.values(), *self._listeners.values()]:
            task.cancel()
        for task in [*self._reconnecting.values(), *self._listeners.values()]:
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task
        for client in self._clients.values():
            with contextlib.suppress(Exception):
                await client.__aexit__(None, None, None)
        self._clients.clear()

    @property
    def connected(self) -> int:
        return len(self._clients)

    def came_back(self) -> set[str]:
        """Meters that reconnected since the last call."""
        back, self._back = self._back, set()
        return back

    def client_id(self, meter_id: str) -> str:
        """The MQTT client id this fleet's twin of `meter_id` connects with."""
        return f"{meter_id}.{self._root}.{self.fleet_id}"

    async def _connect(self, meter_id: str) -> None:
        client = aiomqtt.Client(
            self._address.host,
            self._address.port,
            identifier=self.client_id(meter_id),
            username=meter_id,
            password=self._password_of(meter_id),
            protocol=aiomqtt.ProtocolVersion.V5 if self._address.mqtt5 else aiomqtt.ProtocolVersion.V311,
            keepalive=60,
            timeout=30,
            tls_context=self._tls,
        )
        async with self._gate:
            await client.__aenter__()
        self._clients[meter_id] = client
        if self._on_command is not None:
            await client.subscribe(topics.downlink(self._root, meter_id), qos=1)
            self._listeners[meter_id] = asyncio.create_task(self._listen(meter_id, client))

    async def _listen(self, meter_id: str, client: aiomqtt.Client) -> None:
        assert self._on_command is not None
        try:
            async for message in client.messages:
                payload = message.payload
                if isinstance(payload, bytes | bytearray):
                    self._on_command(meter_id, bytes(payload))
        except aiomqtt.MqttError:
            self._lost(meter_id)

    def _lost(self, meter_id: str) -> None:
        client = self._clients.pop(meter_id, None)
        if client is not None:
            self.losses += 1
        listener = self._listeners.pop(meter_id, None)
        if listener is not None and listener is not asyncio.current_task():
            listener.cancel()
        if client is not None and meter_id not in self._reconnecting:
            self._reconnecting[meter_id] = asyncio.create_task(self._reconnect(meter_id, client))

    async def _reconnect(self, meter_id: str, old: aiomqtt.Client) -> None:
        with contextlib.suppress(Exception):
            await old.__aexit__(None, None, None)
        while True:
            await asyncio.sleep(self._retry_s)
            try:
                await self._connect(meter_id)
            except aiomqtt.MqttError:
                continue
            self._reconnecting.pop(meter_id, None)
            self._back.add(meter_id)
            return

    async def publish(self, frames: Sequence[Outgoing]) -> list[Outgoing]:
        """Publish every frame (each meter's in order); return those not acknowledged."""
        by_meter: dict[str, list[Outgoing]] = {}
        for f in frames:
            parsed = topics.parse_uplink(self._root, f.topic)
            if parsed is None:
                raise ValueError(f"not an uplink topic: {f.topic}")
            by_meter.setdefault(parsed[0], []).append(f)

        async def send(meter_id: str, items: list[Outgoing]) -> list[Outgoing]:
            client = self._clients.get(meter_id)
            if client is None:
                return items
            for n, item in enumerate(items):
                try:
                    await client.publish(item.topic, item.payload, qos=1)
                except aiomqtt.MqttError:
                    log.info("meter %s lost its broker connection", meter_id)
                    self._lost(meter_id)
                    return items[n:]
            return []

        undelivered = await asyncio.gather(*(send(m, items) for m, items in by_meter.items()))
        return [item for items in undelivered for item in items]
