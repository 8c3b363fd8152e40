"""An MQTT broker inside the process (amqtt), with per-meter credentials and topic rules.

Each meter logs in with its meter id and the password derived for it from the site secret,
and may publish only on its own uplink topics and subscribe only to its own command topic.
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

HEADEND_USER = "headend"


def headend_password(site_secret: bytes) -> str:
    """The head-end's MQTT password on the embedded broker."""
    return keys.mqtt_password(site_secret, HEADEND_USER)


class MeterAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt ships no types
    """Admits meters with their own derived password, and the head-end."""

    @dataclass
    class Config:
        site_secret_hex: str = field(default="")

    async def authenticate(self, *, session: Any) -> bool | None:
        secret = bytes.fromhex(self.config.site_secret_hex)
        user, password = session.username or "", session.password or ""
        if isinstance(password, bytes):
            password = password.decode("utf-8", "replace")
        if user == HEADEND_USER:
            return hmac.compare_digest(password, headend_password(secret))
        if not topics.METER_ID_PATTERN.fullmatch(user):
            return False
        return hmac.compare_digest(password, keys.mqtt_password(secret, user))


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


async def start_broker(site_secret: bytes, root: str, host: str, port: int) -> Broker:
    """Start the in-process broker on `host:port`."""
    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 100_000}},
            "plugins": {
                f"{__name__}.MeterAuthPlugin": {"site_secret_hex": site_secret.hex()},
                f"{__name__}.MeterTopicPlugin": {"root": root},
            },
        }
    )
    await broker.start()
    return broker
