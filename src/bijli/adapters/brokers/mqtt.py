"""MQTT head-end uplink over paho: QoS 1, persistent session, acknowledged after commit."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, cast

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.exception import MalformedPacket as PahoMalformedPacket
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from bijli.adapters.brokers.address import BrokerAddress
from bijli.adapters.brokers.arrivals import Arrivals, Lane
from bijli.adapters.brokers.mqtt_packets import PUBACK, PUBLISH, MalformedPacket, packet_at, pubacks, read_publish
from bijli.headend.ports import BrokerDown, Delivery

log = logging.getLogger(__name__)

PAHO_PRIVATE_MEMBERS: Final = (
    "_packet_read",
    "_packet_handle",
    "_in_packet",
    "_sock",
    "_sock_recv",
    "_easy_log",
    "_in_callback_mutex",
    "_manual_ack",
    "_send_puback",
    "_protocol",
    "_msgtime_mutex",
    "_last_bytes_received",
    "_packet_queue",
    "_reset_sockets",
)
"""The parts of paho's `Client` outside its public API that `ChunkedClient` and
`MqttUplink.ack` use. paho may change them in any release, so pyproject.toml pins the paho
they are tested against, and tests/unit/adapters/test_paho_private_members.py checks each
one's shape on the installed paho."""
PUBACKS_PER_WRITE = 4096
EVENT_SUFFIX: Final = "/up/event"
"""The meters' event frames (tamper, power failure, ...): `topics.uplink(root, meter, "event")`."""
FLUSH_FILTER = "$bijli/flush"
"""A filter the head-end never subscribes to: unsubscribing from it is a round trip to the broker."""


def _fresh_packet(**known: Any) -> Any:
    """paho's state of a packet being read (its `_in_packet`), with what is `known` of it."""
    return {
        "command": 0,
        "have_remaining": 0,
        "remaining_count": [],
        "remaining_mult": 1,
        "remaining_length": 0,
        "packet": bytearray(),
        "to_process": 0,
        "pos": 0,
    } | known


class ChunkedClient(paho.Client):
    """paho's client, reading the socket a chunk at a time, and handing PUBLISH packets over
    without building paho's message objects.

    Stock paho reads one packet per `select`, and each packet with three or four `recv` calls
    (the type byte, the length byte by byte, then the body); then, for every MQTT 5 message,
    it builds and clears a `Properties` object and an `MQTTMessage`, and matches the topic
    against its per-filter callbacks. For a stream of small PUBLISH packets that is about 40 µs
    of a core per message before the application sees it. Here:

    - one `recv` takes whatever has arrived (up to `CHUNK` bytes), and `mqtt_packets` frames
      the whole packets in it; a packet cut off at the end of a chunk waits for the next;
    - with `on_delivery` set, a QoS 0 or 1 PUBLISH goes straight to it as (topic, payload,
      packet id, QoS), its properties skipped (none that a subscriber must act on can come:
      the client allows no topic aliases); every other packet goes to paho's own
      `_packet_handle`, framed as paho would have framed it.

    Everything else (keepalive, acks, reconnects, other packets) is paho's. The parts of paho
    this leans on are `PAHO_PRIVATE_MEMBERS`.
    """

    CHUNK = 1 << 18

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._chunk = bytearray()
        self._chunk_of: object = None
        self.on_delivery: Callable[[str, bytes, int, int], None] | None = None

    def release(self) -> None:
        """Close what paho keeps open once its loop has stopped (its socket, and the socket
        pair that wakes the loop), which paho otherwise leaves to the garbage collector."""
        self._reset_sockets()

    def _packet_read(self) -> MQTTErrorCode:
        if self._chunk_of is not self._sock:  # a new connection starts with nothing read
            self._chunk_of = self._sock
            self._chunk.clear()
        try:
            data = self._sock_recv(self.CHUNK)
        except BlockingIOError:
            return MQTTErrorCode.MQTT_ERR_AGAIN
        except OSError as err:
            self._easy_log(paho.MQTT_LOG_ERR, "failed to receive on socket: %s", err)
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        if not data:
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        buf = self._chunk
        buf += data
        deliver = self.on_delivery
        mqtt5 = self._protocol == paho.MQTTv5
        pos, rc = 0, MQTTErrorCode.MQTT_ERR_SUCCESS
        try:
            while not rc and (found := packet_at(buf, pos)) is not None:
                header, start, pos = found
                if (
                    deliver is not None
                    and header & 0xF4 == PUBLISH  # a PUBLISH at QoS 0 or 1 (the QoS bits 00 or 01)
                    and (message := read_publish(buf, header, start, pos, mqtt5)) is not None
                ):
                    topic, payload, mid, qos = message
                    with self._in_callback_mutex:
                        deliver(topic, payload, mid, qos)
                    if qos and not self._manual_ack:
                        rc = self._send_puback(mid)
                else:
                    self._in_packet = _fresh_packet(
                        command=header, have_remaining=1, remaining_length=pos - start, packet=bytes(buf[start:pos])
                    )
                    rc = self._packet_handle()
        except (MalformedPacket, PahoMalformedPacket) as exc:
            self._easy_log(paho.MQTT_LOG_DEBUG, "Received malformed packet: %s", exc)
            rc = MQTTErrorCode.MQTT_ERR_PROTOCOL
        del buf[:pos]
        self._in_packet = _fresh_packet()
        with self._msgtime_mutex:
            self._last_bytes_received = time.monotonic()
        return rc or MQTTErrorCode.MQTT_ERR_AGAIN


class MqttUplink:
    """Subscribes to the meters' uplink; hands messages over in batches; acks after commit.

    While the head-end holds a batch (the store is unavailable), paho's thread keeps the
    connection alive and messages the broker sends meanwhile wait in memory; the broker sends
    no more than the client's receive maximum unacknowledged, and queues the rest itself.
    """

    def __init__(
        self,
        address: BrokerAddress,
        topic_filter: str,
        client_id: str,
        loop: asyncio.AbstractEventLoop,
        *,
        on_arrival: Callable[[Delivery], None] | None = None,
        event_lane: bool = False,
    ) -> None:
        """`on_arrival`, if given, sees each message the moment it arrives, before it joins a
        batch: for measuring (the benchmarks time each message from arrival to commit). It is
        called on paho's network thread, so it must be quick and must not raise.

        `event_lane`: the meters' event frames (topics ending ``/up/event``) wait in a lane of
        their own (`event_lane()`, for a worker of its own) instead of behind the readings."""
        self._address = address
        self._filter = topic_filter
        self._loop = loop
        self._on_arrival = on_arrival
        # Messages arrive on paho's thread and wait here for the head-end's next batch.
        self._arrivals = Arrivals(loop)
        self._events = Arrivals(loop) if event_lane else None
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._closing = False
        self._failed: str | None = None
        protocol = paho.MQTTv5 if address.mqtt5 else paho.MQTTv311
        self._client = ChunkedClient(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=protocol,
            manual_ack=True,
            clean_session=None if address.mqtt5 else False,
        )
        self._client.max_inflight_messages_set(1000)
        if address.username:
            self._client.username_pw_set(address.username, address.password)
        context = address.tls_context()
        if context is not None:
            self._client.tls_set_context(context)
        self.disconnections = 0
        """How often the connection was lost (or taken over) after the broker had accepted it."""
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_delivery = self._on_delivery
        self._client.on_publish = self._on_publish
        self._client.on_unsubscribe = self._on_unsubscribe
        self._client.on_subscribe = self._on_subscribe
        self._flushed: dict[int, threading.Event] = {}
        # Downlink publishes waiting for the broker's PUBACK, by message id. The broker may
        # answer before `publish` has registered its waiter; such answers wait in `_answered`.
        self._publish_lock = threading.Lock()
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._answered: dict[int, Any] = {}
        self._abandoned: set[int] = set()

    async def start(self, timeout_s: float = 10.0) -> None:
        """Connect and subscribe, returning once the broker has granted the subscription (a
        frame published after that reaches the head-end); raises BrokerDown if the broker does
        not answer, or refuses the connection or the subscription."""
        properties = None
        if self._address.mqtt5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = 24 * 3600
            properties.ReceiveMaximum = 65535
        try:
            await self._address.check_tls(timeout_s)
            await asyncio.to_thread(
                self._client.connect,
                self._address.host,
                self._address.port,
                keepalive=30,
                clean_start=False if self._address.mqtt5 else paho.MQTT_CLEAN_START_FIRST_ONLY,
                properties=properties,
            )
        except OSError as e:
            raise BrokerDown(f"MQTT broker {self._address}: {e}") from e
        self._client.loop_start()
        connected = await asyncio.to_thread(self._connected.wait, timeout_s)
        if connected and not self._failed:
            subscribed = await asyncio.to_thread(self._subscribed.wait, timeout_s)
            if not subscribed and not self._failed:
                self._failed = f"MQTT broker did not grant the subscription to {self._filter} in time"
        if not connected or self._failed:
            self._client.loop_stop()
            self._client.release()
            raise BrokerDown(self._failed or "MQTT broker did not accept the connection in time")

    def _on_connect(self, client: paho.Client, _userdata: object, _flags: object, reason: object, _p: object) -> None:
        if getattr(reason, "is_failure", False):
            self._failed = f"MQTT broker refused the head-end: {reason}"
        else:
            client.subscribe(self._filter, qos=1)
        self._connected.set()

    def _on_subscribe(self, _client: paho.Client, _userdata: object, _mid: int, reasons: Any, _p: object) -> None:
        if any(getattr(r, "is_failure", False) for r in reasons):
            why = f"MQTT broker refused the head-end's subscription to {self._filter}: {reasons}"
            if self._subscribed.is_set():  # on a reconnection: nothing arrives until it is granted
                log.error(why)
            else:
                self._failed = why
        self._subscribed.set()

    def _on_disconnect(
        self, _client: paho.Client, _userdata: object, _flags: object, reason: object, _p: object
    ) -> None:
        if not self._connected.is_set():
            # Closed before it answered the CONNECT: for instance plain MQTT sent to a TLS port.
            self._failed = f"MQTT broker {self._address} closed the connection before accepting the head-end ({reason})"
            self._connected.set()
            return
        if not self._closing and not self._failed:
            self.disconnections += 1
            log.warning("head-end lost its connection to the MQTT broker %s: %s", self._address, reason)

    def _on_message(self, _client: paho.Client, _userdata: object, msg: paho.MQTTMessage) -> None:
        self._on_delivery(msg.topic, bytes(msg.payload), msg.mid, msg.qos)

    def _on_delivery(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        delivery = Delivery(topic, payload, (mid, qos))
        if self._on_arrival is not None:
            self._on_arrival(delivery)
        if self._events is not None and topic.endswith(EVENT_SUFFIX):
            self._events.put(delivery)
        else:
            self._arrivals.put(delivery)

    def event_lane(self) -> Lane:
        """The lane the meters' event frames wait in (made with `event_lane=True`), as an
        uplink of its own for a head-end worker of its own; acknowledged on this connection."""
        if self._events is None:
            raise ValueError("this uplink keeps no lane for event frames")
        return Lane(self._events, self.ack)

    def _on_publish(self, _client: paho.Client, _userdata: object, mid: int, reason: object, _p: object) -> None:
        with self._publish_lock:
            if mid in self._abandoned:
                self._abandoned.discard(mid)
                return
            waiter = self._waiting.pop(mid, None)
            if waiter is None:
                self._answered[mid] = reason
                return
        self._loop.call_soon_threadsafe(_settle, waiter, reason)

    def _on_unsubscribe(self, _client: paho.Client, _userdata: object, mid: int, _rc: object, _p: object) -> None:
        with self._publish_lock:
            done = self._flushed.pop(mid, None)
        if done is not None:
            done.set()

    async def publish(self, topic: str, payload: bytes, qos: int = 1, timeout_s: float = 10.0) -> None:
        """Publish on the head-end's connection (commands to meters); returns once the broker
        has taken the message (PUBACK at QoS 1), raises BrokerDown if it has not."""
        info = self._client.publish(topic, payload, qos=qos)
        if info.rc != paho.MQTT_ERR_SUCCESS or qos == 0:
            with self._publish_lock:
                if self._answered.pop(info.mid, None) is None:
                    self._abandoned.add(info.mid)
            if info.rc != paho.MQTT_ERR_SUCCESS:
                raise BrokerDown(f"MQTT publish to {topic} failed: {paho.error_string(info.rc)}")
            return
        waiter: asyncio.Future[Any] = self._loop.create_future()
        with self._publish_lock:
            answered = info.mid in self._answered
            reason = self._answered.pop(info.mid, None)
            if not answered:
                self._waiting[info.mid] = waiter
        if not answered:
            try:
                reason = await asyncio.wait_for(waiter, timeout_s)
            except TimeoutError as e:
                with self._publish_lock:
                    if self._waiting.pop(info.mid, None) is not None:
                        self._abandoned.add(info.mid)
                raise BrokerDown(f"MQTT broker did not acknowledge a publish to {topic} within {timeout_s} s") from e
        if getattr(reason, "is_failure", False):
            raise BrokerDown(f"MQTT broker refused a publish to {topic}: {reason}")

    async def next_batch(self, max_messages: int, max_wait_s: float) -> list[Delivery]:
        return await self._arrivals.next_batch(max_messages, max_wait_s)

    def waiting(self) -> int:
        return self._arrivals.waiting()

    def idle_s(self) -> float:
        return self._arrivals.idle_s()

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge a committed batch: its PUBACKs go out in one write.

        paho's `ack` queues one packet and wakes its network thread for every message, which
        for a batch of thousands costs more than storing it; the batch's PUBACKs (each exactly
        the 4 bytes paho would send) are queued together instead. A paho without that queue
        gets one `ack` per message.
        """
        mids = [mid for mid, qos in (cast(tuple[int, int], d.token) for d in deliveries) if qos == 1]
        queue = getattr(self._client, "_packet_queue", None)
        if queue is None:
            for mid in mids:
                self._client.ack(mid, 1)
            return
        for at in range(0, len(mids), PUBACKS_PER_WRITE):
            queue(PUBACK, pubacks(mids[at : at + PUBACKS_PER_WRITE]), 0, 0)

    async def close(self, timeout_s: float = 5.0) -> None:
        """Leave cleanly: DISCONNECT only once the broker has read every acknowledgement sent
        (else closing the socket can throw away what it had not read yet, and it would deliver
        those messages again to the next session)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        self._closing = True
        if self._client.is_connected():
            # The broker answers packets in order: its answer to this harmless UNSUBSCRIBE
            # (of a filter never subscribed) means it has read all that came before.
            done = threading.Event()
            with self._publish_lock:
                rc, mid = self._client.unsubscribe(FLUSH_FILTER)
                if rc == paho.MQTT_ERR_SUCCESS and mid is not None:
                    self._flushed[mid] = done
            if rc == paho.MQTT_ERR_SUCCESS:
                await asyncio.to_thread(done.wait, max(0.0, deadline - loop.time()))
        self._client.disconnect()
        while self._client.is_connected() and loop.time() < deadline:
            await asyncio.sleep(0.01)
        self._client.loop_stop()
        self._client.release()


def _settle(waiter: asyncio.Future[Any], reason: object) -> None:
    if not waiter.done():
        waiter.set_result(reason)
