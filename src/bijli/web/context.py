"""What the web layer's routes share: the platform, its reads and a clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bijli.adapters.db.queries import MeterView
from bijli.adapters.db.reads import Reads
from bijli.bootstrap import Platform
from bijli.kernel.clock import Clock
from bijli.protocol.relay import RelayState, RelayWord
from bijli.protocol.reporting import ONLINE_WITHIN

Relay = RelayWord


@dataclass(frozen=True, slots=True, kw_only=True)
class WebContext:
    platform: Platform
    clock: Clock

    @property
    def reads(self) -> Reads:
        return self.platform.reads

    def online_since(self) -> datetime:
        return self.clock.now() - ONLINE_WITHIN

    def is_online(self, meter: MeterView) -> bool:
        return meter.last_seen is not None and meter.last_seen >= self.online_since()


def relay_state(code: int | None) -> Relay | None:
    """A relay code as a word; None when unknown."""
    state = RelayState.of(code)
    return None if state is None else state.word
