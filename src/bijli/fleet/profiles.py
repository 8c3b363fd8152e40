"""The load profile each meter stores, for the head-end's profile reads: the last days of intervals.

A ring of 15-minute slots, 20 bytes per meter per interval, as many days as the twin's
options say (`TwinOptions.history_days`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from bijli.kernel.time import INTERVAL_S
from bijli.protocol.frames import IntervalRecord

Ints = npt.NDArray[np.int64]


class LoadProfiles:
    """Every meter's stored intervals: energy, apparent energy, voltage, current, register."""

    def __init__(self, meters: int, days: int) -> None:
        self.depth = days * 96
        self.stored = np.zeros((self.depth, 5, meters), dtype=np.int32) if self.depth else None
        """[slot, quantity, meter]."""
        self.starts = np.full(max(self.depth, 1), -1, dtype=np.int64)
        """The start of the interval in each slot (epoch seconds), -1 while empty."""

    def remember(self, t0: int, wh: Ints, vah: Ints, volts: Ints, milliamps: Ints, register_wh: Ints) -> None:
        """Every meter stores the interval starting at `t0`, over the oldest one it holds."""
        if self.stored is None:
            return
        slot = (t0 // INTERVAL_S) % self.depth
        self.starts[slot] = t0
        self.stored[slot] = np.stack([wh, vah, volts, milliamps, register_wh])

    def read(self, i: int, start: int, end: int) -> list[IntervalRecord]:
        """Meter `i`'s stored intervals starting in [start, end), oldest first."""
        if self.stored is None:
            return []
        found = []
        for slot in np.argsort(self.starts).tolist():
            t0 = int(self.starts[slot])
            if t0 >= 0 and start <= t0 < end:
                wh, vah, volts, ma, total = self.stored[slot, :, i].tolist()
                found.append(
                    IntervalRecord(
                        start=t0,
                        import_wh=wh,
                        import_vah=vah,
                        export_wh=0,
                        voltage_dv=volts,
                        current_ma=ma,
                        import_wh_total=total,
                    )
                )
        return found
