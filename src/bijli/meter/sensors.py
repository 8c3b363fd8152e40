"""Tamper and supply conditions the meter senses, as a table (IS 15959 event codes).

Each condition has the code the meter logs when it starts and when it ends, and what it does
to the measurement: the share of the real load the meter still records (a magnet saturates
the current transformer, a bypass carries load around the meter), and whether the meter can
still talk (a removed communication module cannot; a meter without supply sends its last
gasp and falls silent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Condition:
    """One sensed condition."""

    name: str
    occurred: int
    restored: int | None
    recorded_share: float
    """Share of the real load the meter records while this lasts."""
    can_talk: bool = True
    is_theft: bool = True


CONDITIONS: Final[dict[str, Condition]] = {
    c.name: c
    for c in (
        Condition("magnet", 201, 202, recorded_share=0.35),
        Condition("cover_open", 251, None, recorded_share=1.0),
        Condition("neutral_missing", 207, 208, recorded_share=0.0),
        Condition("neutral_disturbance", 203, 204, recorded_share=0.6),
        Condition("current_reverse", 51, 52, recorded_share=1.0),
        Condition("bypass", 65, 66, recorded_share=0.25),
        Condition("earth_load", 69, 70, recorded_share=0.7),
        Condition("comm_module_removed", 209, 210, recorded_share=1.0, can_talk=False),
        Condition("power_failure", 101, 102, recorded_share=0.0, can_talk=False, is_theft=False),
    )
}
"""Current reverse is recorded as forward import (Indian meters register either direction)."""

RELAY_DISCONNECTED: Final = 301
RELAY_CONNECTED: Final = 302
CLOCK_SET: Final = 151
TARIFF_PROGRAMMED: Final = 155
"""IS 15959 transaction event: activity calendar (the tariff) programmed."""
