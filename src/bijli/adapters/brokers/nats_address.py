"""Where the NATS servers of the JetStream profile are (no NATS client needed to read it)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field, replace
from pathlib import Path
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
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None
    """The CA that signed the servers' certificates: with it, the head-end speaks TLS to NATS
    and checks each server's certificate and name."""

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

    def signed_in(self, username: str | None, password: str | None, ca_file: Path | None) -> NatsAddress:
        """The same servers, reached with this user name and password and this CA."""
        if password and not username:
            raise BrokerUrlError("a NATS password without a user name")
        if ca_file is not None and not ca_file.is_file():
            raise BrokerUrlError(f"the NATS CA file {ca_file} cannot be read")
        return replace(self, username=username, password=password, ca_file=ca_file)

    def tls_context(self) -> ssl.SSLContext | None:
        """TLS with the servers' certificates checked against the CA, or None without one."""
        if self.ca_file is None:
            return None
        return ssl.create_default_context(cafile=str(self.ca_file))

    def __str__(self) -> str:
        return ",".join(s.replace("nats://", "tls://") if self.ca_file else s for s in self.servers)
