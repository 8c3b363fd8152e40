"""Event codes the meter logs (IS 15959 style): odd = occurrence, even = restoration."""

from __future__ import annotations

from enum import IntEnum


class EventCode(IntEnum):
    """The event codes bijli's meters send and the head-end understands."""

    CURRENT_REVERSE = 51
    CURRENT_REVERSE_RESTORED = 52
    BYPASS = 65
    BYPASS_RESTORED = 66
    EARTH_LOAD = 69
    EARTH_LOAD_RESTORED = 70
    POWER_FAILURE = 101
    POWER_RESTORED = 102
    CLOCK_SET = 151
    """Transaction event: the real-time clock was set."""
    TARIFF_PROGRAMMED = 155
    """Transaction event: the activity calendar (the tariff) was programmed."""
    MAGNET = 201
    MAGNET_RESTORED = 202
    NEUTRAL_DISTURBANCE = 203
    NEUTRAL_DISTURBANCE_RESTORED = 204
    NEUTRAL_MISSING = 207
    NEUTRAL_MISSING_RESTORED = 208
    COMM_MODULE_REMOVED = 209
    COMM_MODULE_REFITTED = 210
    COVER_OPEN = 251
    """Never restored: a cover once opened stays on record."""
    LOAD_SWITCH_DISCONNECTED = 301
    LOAD_SWITCH_CONNECTED = 302

    @property
    def is_restoration(self) -> bool:
        """Even codes in a paired range end what the odd code before them began."""
        return self.value % 2 == 0 and self.value not in (self.CLOCK_SET, self.TARIFF_PROGRAMMED)
