"""MQTT topic layout of protocol v1.

``{root}/v1/m/{meter_id}/up/{kind}`` carries a meter's frames to the head-end and
``{root}/v1/m/{meter_id}/down/command`` carries commands to one meter.
"""

from __future__ import annotations

import re
from typing import Final

VERSION: Final = "v1"
UP_KINDS: Final = ("reading", "daily", "event", "status", "ack", "token")
METER_ID_PATTERN: Final = re.compile(r"[A-Z0-9][A-Z0-9-]{2,31}")
"""Use with `fullmatch`: upper-case letters, digits and hyphens, 3 to 32 long."""


def uplink(root: str, meter_id: str, kind: str) -> str:
    """The topic a meter publishes one kind of frame on."""
    return f"{root}/{VERSION}/m/{meter_id}/up/{kind}"


def downlink(root: str, meter_id: str) -> str:
    """The topic a meter receives its commands on."""
    return f"{root}/{VERSION}/m/{meter_id}/down/command"


def uplink_filter(root: str) -> str:
    """The subscription that takes every meter's uplink."""
    return f"{root}/{VERSION}/m/+/up/+"


def event_filter(root: str) -> str:
    """The subscription that takes every meter's event frames (tampers, power failures, ...)."""
    return f"{root}/{VERSION}/m/+/up/event"


def shared_uplink_filter(root: str, group: str) -> str:
    """The shared subscription a group of head-end workers splits the uplink with."""
    return f"$share/{group}/{uplink_filter(root)}"


def parse_uplink(root: str, topic: str) -> tuple[str, str] | None:
    """``(meter_id, kind)`` of an uplink topic, or None if the topic is not one."""
    parts = topic.split("/")
    if (
        len(parts) != 6
        or parts[0] != root
        or parts[1] != VERSION
        or parts[2] != "m"
        or parts[4] != "up"
        or parts[5] not in UP_KINDS
        or not METER_ID_PATTERN.fullmatch(parts[3])
    ):
        return None
    return parts[3], parts[5]
