"""Where the NATS servers of the JetStream profile are (no NATS client needed to read it)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from bijli.adapters.brokers.address import BrokerUrlError


@dataclass(frozen=True, slots=True)
class NatsAddress:
    """Where the NATS servers are, and how the head-end uses them.

    ``nats://host:port[,host:port…][?replicas=N&ack_wait=S]``: the servers of one cluster (the
    client finds the others from any one of them); `replicas` for the ``$MQTT_msgs`` stream if
    the head-end is the first to create it (set ``mqtt { stream_replicas: N }`` on the servers
    to the same); `ack_wait` the seconds a fetched message waits for its acknowledgement before
    it goes to another worker."""

    servers: tuple[str, ...]
    replicas: int = 1
    ack_wait_s: float = 30.0

    @classmethod
    def parse(cls, url: str) -> NatsAddress:
        parts = urlsplit(url)
        if parts.scheme != "nats" or not parts.netloc:
            raise BrokerUrlError("not a NATS URL: expected nats://host:port[,host:port…]")
        if "@" in parts.netloc:
            raise BrokerUrlError("the NATS URL holds credentials: the JetStream profile takes none in the URL")
        servers = tuple(f"nats://{hp.strip()}" for hp in parts.netloc.split(",") if hp.strip())
        query = parse_qs(parts.query)
        try:
            replicas = int(query.get("replicas", ["1"])[0])
            ack_wait = float(query.get("ack_wait", ["30"])[0])
        except ValueError as e:
            raise BrokerUrlError(f"the NATS URL's replicas or ack_wait is not a number: {e}") from e
        if not 1 <= replicas <= 5 or not 1 <= ack_wait <= 3600:
            raise BrokerUrlError("replicas must be 1 to 5 and ack_wait 1 to 3600 seconds")
        return cls(servers=servers, replicas=replicas, ack_wait_s=ack_wait)

    def __str__(self) -> str:
        return ",".join(self.servers)
