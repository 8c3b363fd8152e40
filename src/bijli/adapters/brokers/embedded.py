"""An MQTT broker inside the process (amqtt), with per-meter credentials and topic rules.

Each meter logs in with its meter id and the password derived for it from the site's MQTT
master secret (of any key version the site holds: a meter moved to a new version during a
rotation logs in with the new one, one not yet moved with the old), and may publish only on
its own uplink topics and subscribe only to its own command topic.
The head-end logs in as ``headend``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin

from bijli.protocol import keys, topics
from bijli.protocol.keys import SiteKeys

HEADEND_USER = "headend"


def headend_password(site: SiteKeys) -> str:
    """The head-end's MQTT password on the embedded broker (from the site's identity secret)."""
    return site.tag("embedded-broker/headend-password")


class MeterAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt ships no types
    """Admits meters with their own derived password, and the head-end."""

    @dataclass
    class Config:
        headend_password: str = field(default="", repr=False)
        mqtt_masters_hex: list[str] = field(default_factory=list, repr=False)

    async def authenticate(self, *, session: Any) -> bool | None:
        user, password = session.username or "", session.password or ""
        if isinstance(password, bytes):
            password = password.decode("utf-8", "replace")
        if user == HEADEND_USER:
            return bool(self.config.headend_password) and hmac.compare_digest(password, self.config.headend_password)
        if not topics.METER_ID_PATTERN.fullmatch(user):
            return False
        return any(
            hmac.compare_digest(password, keys.mqtt_password(bytes.fromhex(master), user))
            for master in self.config.mqtt_masters_hex
        )


class MeterTopicPlugin(BaseTopicPlugin):  # type: ignore[misc]  # amqtt ships no types
    """A meter publishes only on its own uplink and listens only to its own commands."""

    @dataclass
    class Config:
        root: str = field(default="bijli")

    async def topic_filtering(self, *, session: Any = None, topic: str | None = None, action: Any = None) -> bool:
        user = getattr(session, "username", None) or ""
        if user == HEADEND_USER:
            return True
        if topic is None:
            return False
        if action == Action.PUBLISH:
            parsed = topics.parse_uplink(self.config.root, topic)
            return parsed is not None and parsed[0] == user
        return topic == topics.downlink(self.config.root, user)


async def start_broker(site: SiteKeys, root: str, host: str, port: int) -> Broker:
    """Start the in-process broker on `host:port`."""
    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 100_000}},
            "plugins": {
                f"{__name__}.MeterAuthPlugin": {
                    "headend_password": headend_password(site),
                    "mqtt_masters_hex": [m.mqtt.hex() for _, m in sorted(site.versions.items())],
                },
                f"{__name__}.MeterTopicPlugin": {"root": root},
            },
        }
    )
    await broker.start()
    return broker
