"""What the web layer's routes share: the platform, the web's own reads and a clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bijli.adapters.db.queries import MeterView
from bijli.bootstrap import Platform
from bijli.kernel.clock import Clock
from bijli.web.reads import Reads

ONLINE_WITHIN = timedelta(minutes=30)
"""A meter heard from within this long is online (meters report every 15 minutes)."""

Relay = Literal["connected", "disconnected", "ready_for_reconnection"]

RELAY_STATES: dict[int, Relay] = {0: "disconnected", 1: "connected", 2: "ready_for_reconnection"}
"""Disconnect control (0.0.96.3.10.255) output state codes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WebContext:
    platform: Platform
    reads: Reads
    clock: Clock

    def online_since(self) -> datetime:
        return self.clock.now() - ONLINE_WITHIN

    def is_online(self, meter: MeterView) -> bool:
        return meter.last_seen is not None and meter.last_seen >= self.online_since()


def relay_state(code: int | None) -> Relay | None:
    """A relay code as a word; None when unknown."""
    return None if code is None else RELAY_STATES.get(code)
