"""The head-end's uplink from NATS JetStream: a durable pull consumer shared by every worker
(a work queue), each message acknowledged only after its batch's commit.

Meters keep speaking MQTT, to the MQTT listener of the NATS servers. For a QoS 1 PUBLISH that
listener (nats-server v2.9) stores the message in the account's ``$MQTT_msgs`` stream (subject
``$MQTT.msgs.`` + the topic with ``/`` as ``.``) and sends the PUBACK only once JetStream has
answered the store (in a cluster: once the stream's replicas have it). The head-end's workers
read that stream through one durable pull consumer filtered to the site's uplink, so
"acknowledged to the meter" means "stored in JetStream". docs/protocol.md says more.

A worker that dies leaves what it had fetched and not acknowledged to the others once the
consumer's ack wait has passed; nothing waits for it to come back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, cast

import nats
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from bijli.adapters.brokers.nats_address import NatsAddress
from bijli.headend.ports import BrokerDown, Delivery

log = logging.getLogger(__name__)

MQTT_STREAM: Final = "$MQTT_msgs"
"""The stream NATS's MQTT listener stores QoS 1 PUBLISH messages in."""
MQTT_SUBJECT_PREFIX: Final = "$MQTT.msgs."
MAX_ACK_PENDING: Final = 65536
"""Messages the consumer hands out unacknowledged, over all workers."""


def uplink_subject(topic_filter: str) -> str:
    """The ``$MQTT_msgs`` subject filter of an MQTT topic filter (``+`` becomes ``*``)."""
    return MQTT_SUBJECT_PREFIX + ".".join("*" if level == "+" else level for level in topic_filter.split("/"))


def topic_of(subject: str) -> str:
    """The MQTT topic a meter published on, from its ``$MQTT_msgs`` subject."""
    return subject.removeprefix(MQTT_SUBJECT_PREFIX).replace(".", "/")


class JetStreamUplink:
    """Fetches the uplink in batches from the durable pull consumer `durable` on ``$MQTT_msgs``
    (created if missing, filtered to `topic_filter`), acknowledges each message after commit,
    and publishes commands to meters."""

    def __init__(self, address: NatsAddress, topic_filter: str, durable: str) -> None:
        self._address = address
        self._subject = uplink_subject(topic_filter)
        self._durable = durable
        self._nc: Any = None
        self._sub: Any = None
        self._last_arrival = time.monotonic()
        self._closing = False
        self.disconnections = 0

    async def start(self, timeout_s: float = 10.0) -> None:
        """Connect, make sure the stream and the consumer exist, bind to the consumer; raises
        BrokerDown if the servers do not answer within `timeout_s`, or refuse the head-end's
        user name, password or certificate check (with the last reason they gave)."""
        refusals: list[str] = []

        async def refused(e: Exception) -> None:
            refusals[:] = [f"{type(e).__name__}: {e}"]  # the last reason only

        async def disconnected() -> None:
            if self._closing:
                return
            self.disconnections += 1
            log.warning("head-end lost its connection to NATS %s", self._address)

        try:
            self._nc = await asyncio.wait_for(self._connect(timeout_s, disconnected, refused), timeout_s)
            js = self._nc.jetstream(timeout=timeout_s)
            try:
                await js.stream_info(MQTT_STREAM)
            except NotFoundError:
                await js.add_stream(
                    StreamConfig(
                        name=MQTT_STREAM,
                        subjects=[MQTT_SUBJECT_PREFIX + ">"],
                        storage=StorageType.FILE,
                        retention=RetentionPolicy.INTEREST,
                        num_replicas=self._address.replicas,
                    )
                )
            try:
                await js.consumer_info(MQTT_STREAM, self._durable)
            except NotFoundError:
                await js.add_consumer(
                    MQTT_STREAM,
                    ConsumerConfig(
                        durable_name=self._durable,
                        filter_subject=self._subject,
                        deliver_policy=DeliverPolicy.ALL,
                        ack_policy=AckPolicy.EXPLICIT,
                        ack_wait=self._address.ack_wait_s,
                        max_ack_pending=MAX_ACK_PENDING,
                        num_replicas=self._address.replicas,
                    ),
                )
            self._sub = await js.pull_subscribe_bind(self._durable, MQTT_STREAM)
        except (OSError, NatsError, TimeoutError) as e:
            if self._nc is not None:
                await self._nc.close()
            why = f"{e!r}" + (f" ({refusals[-1]})" if refusals else "")
            raise BrokerDown(f"NATS {self._address}: {why}") from e

    async def _connect(
        self,
        timeout_s: float,
        disconnected: Callable[[], Awaitable[None]],
        refused: Callable[[Exception], Awaitable[None]],
    ) -> Any:
        return await nats.connect(
            servers=list(self._address.servers),
            connect_timeout=timeout_s,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            allow_reconnect=True,
            disconnected_cb=disconnected,
            error_cb=refused,
            user=self._address.username,
            password=self._address.password,
            tls=self._address.tls_context(),
        )

    async def next_batch(self, max_messages: int, max_wait_s: float) -> list[Delivery]:
        """At least one message, then as many as came within `max_wait_s`, up to `max_messages`."""
        while True:
            try:
                msgs = await self._sub.fetch(max_messages, timeout=max(max_wait_s, 0.05))
            except (NatsTimeout, TimeoutError):
                continue
            except NatsError as e:  # a node gone: the client reconnects; ask again shortly
                log.warning("fetch from NATS failed (%r); asking again", e)
                await asyncio.sleep(0.2)
                continue
            if msgs:
                self._last_arrival = time.monotonic()
                return [Delivery(topic_of(m.subject), m.data, m) for m in msgs]

    def waiting(self) -> int:
        return 0  # the messages wait in the stream, not here

    def idle_s(self) -> float:
        return time.monotonic() - self._last_arrival

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge a committed batch, and wait until the server has read the acks. An ack
        lost on the way (a node failing) makes the message come again: storing is idempotent."""
        for d in deliveries:
            await cast(Msg, d.token).ack()
        try:
            await self._nc.flush(timeout=10)
        except (NatsError, TimeoutError) as e:
            log.warning("NATS did not confirm a batch's acks (%r); those messages come again after the ack wait", e)

    async def publish(self, topic: str, payload: bytes, qos: int = 1, timeout_s: float = 10.0) -> None:
        """A command to a meter: published on the MQTT topic's subject (NATS's MQTT listener
        delivers it to the meter's subscription)."""
        try:
            await self._nc.publish(topic.replace("/", "."), payload)
            await self._nc.flush(timeout=timeout_s)
        except (NatsError, TimeoutError) as e:
            raise BrokerDown(f"NATS publish to {topic} failed: {e!r}") from e

    async def close(self) -> None:
        self._closing = True
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()
