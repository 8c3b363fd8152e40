"""What the fleet's meters sense, and what it does to the interval being metered.

Conditions (`bijli.meter.sensors.CONDITIONS`) start and end at any moment. Between interval
boundaries the share of its load each meter supplied (relay closed, supply on) and the share
it recorded (less under a magnet, a bypass, ...) are summed over time, so a condition that
lasts five minutes of an interval changes a third of it. Unmetered load hooked onto a
transformer's lines is summed the same way.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from bijli.kernel.time import INTERVAL_S
from bijli.meter.sensors import CONDITIONS

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
SILENCING: Final = tuple(name for name, spec in CONDITIONS.items() if not spec.can_talk)
"""Conditions under which a meter cannot send (no supply, no communication module)."""


class Sensing:
    """Every meter's sensed conditions, and the load shares summed since the interval began."""

    def __init__(self, meters: int, start: float) -> None:
        self.active = {name: np.zeros(meters, dtype=np.bool_) for name in CONDITIONS}
        self.dead_modem = np.zeros(meters, dtype=np.bool_)
        """Meters whose modem has failed: they meter on, silently, and log no event for it."""
        self._mark = np.full(meters, start)
        self._supply_acc = np.zeros(meters)
        self._record_acc = np.zeros(meters)
        self.hooking_w = np.zeros(meters)
        """Unmetered load hooked onto each transformer (indexed by the DT meter)."""
        self._hook_acc = np.zeros(meters)
        """Watt-seconds of hooked load so far in the interval being metered."""
        self._hook_mark = np.full(meters, start)

    @property
    def can_talk(self) -> Bools:
        """Meters that no condition keeps from sending."""
        talk = ~self.dead_modem
        for name in SILENCING:
            talk &= ~self.active[name]
        return talk

    def shares(self, relay: Bools) -> tuple[Floats, Floats]:
        """Share of the load each meter supplies (relay, supply) and records (tampers)."""
        supply = (relay & ~self.active["power_failure"]).astype(np.float64)
        recorded = supply.copy()
        for name, spec in CONDITIONS.items():
            if spec.recorded_share < 1.0 and name != "power_failure":
                recorded = np.where(self.active[name], recorded * spec.recorded_share, recorded)
        return supply, recorded

    def mark(self, idx: Ints, t: float, relay: Bools) -> None:
        """Sum the shares of `idx` up to `t`, before something changes them."""
        supply, recorded = self.shares(relay)
        span = t - self._mark[idx]
        self._supply_acc[idx] += supply[idx] * span
        self._record_acc[idx] += recorded[idx] * span
        self._mark[idx] = t

    def take_shares(self, t_end: float, relay: Bools) -> tuple[Floats, Floats]:
        """The shares of the interval ending at `t_end` supplied and recorded; the next one begins."""
        supply, recorded = self.shares(relay)
        span = t_end - self._mark
        supply_share = (self._supply_acc + supply * span) / INTERVAL_S
        record_share = (self._record_acc + recorded * span) / INTERVAL_S
        self._supply_acc[:] = 0.0
        self._record_acc[:] = 0.0
        self._mark[:] = t_end
        return supply_share, record_share

    def hook(self, idx: Ints, watts: float, t: float) -> None:
        """From `t`, `watts` of unmetered load hang on the transformers of the DT meters `idx`."""
        self._hook_acc[idx] += self.hooking_w[idx] * (t - self._hook_mark[idx])
        self._hook_mark[idx] = t
        self.hooking_w[idx] = watts

    def take_hooked_wh(self, first_dt: int, t_end: float) -> Floats:
        """Hooked Wh of the interval ending at `t_end` on each DT meter from `first_dt` on."""
        dt = slice(first_dt, None)
        hooked_wh: Floats = (self._hook_acc[dt] + self.hooking_w[dt] * (t_end - self._hook_mark[dt])) / 3600.0
        self._hook_acc[:] = 0.0
        self._hook_mark[:] = t_end
        return hooked_wh
