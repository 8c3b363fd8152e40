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

With an event lane (`event_filter`), the meters' event frames have a durable pull consumer of
their own (the readings consumer's name + ``-events``), shared by the workers the same way, so
a tamper's frame is fetched at once however many readings wait in the other consumer. A
consumer of nats-server v2.9 takes one filter, so the readings consumer still hands out the
event frames among the readings: the worker acknowledges those at once, unstored, and the
stream (interest retention) keeps each until the event consumer's worker has stored it too.
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
V1_ACK_TOKENS: Final = 9
"""Tokens of a JetStream ack subject without a domain and account (`handed_over_before`)."""


def uplink_subject(topic_filter: str) -> str:
    """The ``$MQTT_msgs`` subject filter of an MQTT topic filter (``+`` becomes ``*``)."""
    return MQTT_SUBJECT_PREFIX + ".".join("*" if level == "+" else level for level in topic_filter.split("/"))


def subject_matches(subject: str, subject_filter: str) -> bool:
    """Whether a NATS subject falls under a filter (``*`` one token, ``>`` the rest)."""
    tokens, wanted = subject.split("."), subject_filter.split(".")
    for n, want in enumerate(wanted):
        if want == ">":
            return len(tokens) > n
        if n >= len(tokens) or (want != "*" and want != tokens[n]):
            return False
    return len(tokens) == len(wanted)


def topic_of(subject: str) -> str:
    """The MQTT topic a meter published on, from its ``$MQTT_msgs`` subject."""
    return subject.removeprefix(MQTT_SUBJECT_PREFIX).replace(".", "/")


def handed_over_before(msg: Msg) -> bool:
    """Whether the servers delivered `msg` before (its delivery count above 1), read from its
    ack subject alone: `Msg.metadata` also parses every other field and a timestamp, ten times
    the cost, for each message of the uplink. The subject is
    `$JS.ACK.<stream>.<consumer>.<delivered>.…` (9 tokens), or longer with a domain and an
    account before the stream (`Msg.Ack.NumDelivered` is then the count's place)."""
    tokens = (msg.reply or "").split(".")
    if len(tokens) < V1_ACK_TOKENS:
        return False
    return int(tokens[4 if len(tokens) == V1_ACK_TOKENS else Msg.Ack.NumDelivered]) > 1


class PullLane:
    """One durable pull consumer as the head-end's `Uplink` port: batches fetched, each
    message acknowledged after commit on the uplink's connection, closed with it (by its owner).

    Messages whose subject falls under `passed_on` are some other lane's: acknowledged here
    at once, unstored, never handed to the head-end."""

    def __init__(self, sub: Any, nc: Any, passed_on: str | None = None) -> None:
        self._sub = sub
        self._nc = nc
        self._passed_on = passed_on
        self._last_arrival = time.monotonic()

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
            if self._passed_on is not None:
                msgs = await self._pass_on(msgs)
            if msgs:
                self._last_arrival = time.monotonic()
                return [Delivery(topic_of(m.subject), m.data, m, handed_over_before(m)) for m in msgs]

    async def _pass_on(self, msgs: list[Msg]) -> list[Msg]:
        """The messages that are this lane's; the others' acknowledged (the stream keeps each
        until the consumer whose they are has acknowledged it too)."""
        assert self._passed_on is not None
        mine = []
        for m in msgs:
            if subject_matches(m.subject, self._passed_on):
                await m.ack()
            else:
                mine.append(m)
        return mine

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

    async def close(self) -> None:
        """Nothing of its own to close: the uplink it is a lane of closes the connection."""


class JetStreamUplink:
    """Fetches the uplink in batches from the durable pull consumer `durable` on ``$MQTT_msgs``
    (created if missing, filtered to `topic_filter`), acknowledges each message after commit,
    and publishes commands to meters.

    `event_filter`: the meters' event frames (``root/v1/m/+/up/event``) come through a durable
    pull consumer of their own (`event_lane()`, for a worker of its own), not among the readings."""

    def __init__(
        self, address: NatsAddress, topic_filter: str, durable: str, *, event_filter: str | None = None
    ) -> None:
        self._address = address
        self._subject = uplink_subject(topic_filter)
        self._durable = durable
        self._event_subject = None if event_filter is None else uplink_subject(event_filter)
        self._nc: Any = None
        self._readings: PullLane | None = None
        self._events: PullLane | None = None
        self._closing = False
        self.disconnections = 0

    @property
    def event_durable(self) -> str:
        """The event lane's consumer."""
        return f"{self._durable}-events"

    async def start(self, timeout_s: float = 10.0) -> None:
        """Connect, make sure the stream and the consumers exist, bind to them; raises
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
            if self._event_subject is not None:
                # Made before the readings lane passes on a single event frame: the stream
                # keeps an event frame for this consumer from the start (it delivers all).
                await self._consumer(js, self.event_durable, self._event_subject)
                events = await js.pull_subscribe_bind(self.event_durable, MQTT_STREAM)
                self._events = PullLane(events, self._nc)
            await self._consumer(js, self._durable, self._subject)
            readings = await js.pull_subscribe_bind(self._durable, MQTT_STREAM)
            self._readings = PullLane(readings, self._nc, passed_on=self._event_subject)
        except (OSError, NatsError, TimeoutError) as e:
            if self._nc is not None:
                await self._nc.close()
            why = f"{e!r}" + (f" ({refusals[-1]})" if refusals else "")
            raise BrokerDown(f"NATS {self._address}: {why}") from e

    async def _consumer(self, js: Any, durable: str, subject: str) -> None:
        """The durable pull consumer `durable` on ``$MQTT_msgs``, made if missing."""
        try:
            await js.consumer_info(MQTT_STREAM, durable)
        except NotFoundError:
            await js.add_consumer(
                MQTT_STREAM,
                ConsumerConfig(
                    durable_name=durable,
                    filter_subject=subject,
                    deliver_policy=DeliverPolicy.ALL,
                    ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=self._address.ack_wait_s,
                    max_ack_pending=MAX_ACK_PENDING,
                    num_replicas=self._address.replicas,
                ),
            )

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

    def _lane(self) -> PullLane:
        if self._readings is None:
            raise RuntimeError("the JetStream uplink is not started")
        return self._readings

    def event_lane(self) -> PullLane:
        """The lane of the meters' event frames (made with `event_filter`, once started), as an
        uplink of its own for a head-end worker of its own; acknowledged on this connection."""
        if self._event_subject is None:
            raise ValueError("this uplink keeps no lane for event frames")
        if self._events is None:
            raise RuntimeError("the JetStream uplink is not started")
        return self._events

    async def next_batch(self, max_messages: int, max_wait_s: float) -> list[Delivery]:
        """At least one message, then as many as came within `max_wait_s`, up to `max_messages`."""
        return await self._lane().next_batch(max_messages, max_wait_s)

    def waiting(self) -> int:
        return 0  # the messages wait in the stream, not here

    def idle_s(self) -> float:
        return self._lane().idle_s()

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge a committed batch (`PullLane.ack`)."""
        await self._lane().ack(deliveries)

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
