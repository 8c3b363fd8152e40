"""Where an MQTT broker listens and how to reach it: plain or TLS, and as whom."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


class BrokerUrlError(ValueError):
    """A broker URL bijli cannot use; the message says why (and never repeats a password)."""


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where an MQTT broker listens, and how to speak to it.

    With `tls` the client verifies the broker's certificate against `ca_file` (else the
    system's trusted CAs) and that it names `host`.
    """

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    mqtt5: bool = True
    tls: bool = False
    ca_file: Path | None = None

    @classmethod
    def parse(cls, url: str, *, ca_file: Path | None = None) -> BrokerAddress:
        """``mqtt://[user@]host[:port][?protocol=5|311]`` (plain, port 1883 by default) or
        ``mqtts://…`` (TLS, port 8883 by default). A password in the URL is refused: a command
        line is visible to every user of the machine (`ps`), so it comes from a file or the
        environment instead."""
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            shown = f"{parts.scheme}://{parts.hostname or ''}" if parts.scheme else "it"
            raise BrokerUrlError(f"not an MQTT broker URL ({shown}…): expected mqtt://host:port or mqtts://host:port")
        if parts.password is not None:
            raise BrokerUrlError(
                "the broker URL holds a password: anyone on the machine can read a command line; "
                "give the password in a file (--broker-password-file) or in BIJLI_BROKER_PASSWORD"
            )
        protocol = parse_qs(parts.query).get("protocol", ["5"])[0]
        if protocol not in ("5", "311"):
            raise BrokerUrlError(f"MQTT protocol must be 5 or 311, not {protocol!r}")
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError as e:
            raise BrokerUrlError(f"the broker URL's port is not a port number: {e}") from e
        tls = parts.scheme == "mqtts"
        if ca_file is not None and not tls:
            raise BrokerUrlError("a CA file is for TLS: give the broker as mqtts://host:port")
        return cls(
            host=parts.hostname,
            port=port,
            username=parts.username or None,
            mqtt5=protocol == "5",
            tls=tls,
            ca_file=ca_file,
        )

    def signed_in(self, username: str | None, password: str | None) -> BrokerAddress:
        """The same broker, reached as `username` with `password`."""
        return replace(self, username=username, password=password)

    def tls_context(self) -> ssl.SSLContext | None:
        """What a client needs for TLS: the broker's certificate checked against the CA file
        (or the system's CAs) and against the host name. None for a plain connection."""
        if not self.tls:
            return None
        try:
            return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file is not None else None)
        except (OSError, ssl.SSLError) as e:
            raise BrokerUrlError(f"cannot read the broker's CA file {self.ca_file}: {e}") from e

    async def check_tls(self, timeout_s: float = 10.0) -> None:
        """Open one TLS connection to the broker and close it again: raises `OSError` (an
        `ssl.SSLError` for a certificate or host name that does not verify) if it cannot be
        made. The MQTT clients check this first, since a failed handshake inside paho leaves
        its socket open until the garbage collector finds it."""
        context = self.tls_context()
        if context is None:
            return
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, ssl=context, server_hostname=self.host), timeout_s
            )
        except TimeoutError as e:
            raise OSError(f"no TLS handshake with {self} within {timeout_s} s") from e
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"
