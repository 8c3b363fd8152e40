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

from bijli.protocol.events import EventCode


@dataclass(frozen=True, slots=True)
class Condition:
    """One sensed condition."""

    name: str
    occurred: EventCode
    restored: EventCode | None
    recorded_share: float
    """Share of the real load the meter records while this lasts."""
    can_talk: bool = True
    is_theft: bool = True


CONDITIONS: Final[dict[str, Condition]] = {
    c.name: c
    for c in (
        Condition("magnet", EventCode.MAGNET, EventCode.MAGNET_RESTORED, recorded_share=0.35),
        Condition("cover_open", EventCode.COVER_OPEN, None, recorded_share=1.0),
        Condition("neutral_missing", EventCode.NEUTRAL_MISSING, EventCode.NEUTRAL_MISSING_RESTORED, recorded_share=0.0),
        Condition(
            "neutral_disturbance",
            EventCode.NEUTRAL_DISTURBANCE,
            EventCode.NEUTRAL_DISTURBANCE_RESTORED,
            recorded_share=0.6,
        ),
        Condition("current_reverse", EventCode.CURRENT_REVERSE, EventCode.CURRENT_REVERSE_RESTORED, recorded_share=1.0),
        Condition("bypass", EventCode.BYPASS, EventCode.BYPASS_RESTORED, recorded_share=0.25),
        Condition("earth_load", EventCode.EARTH_LOAD, EventCode.EARTH_LOAD_RESTORED, recorded_share=0.7),
        Condition(
            "comm_module_removed",
            EventCode.COMM_MODULE_REMOVED,
            EventCode.COMM_MODULE_REFITTED,
            recorded_share=1.0,
            can_talk=False,
        ),
        Condition(
            "power_failure",
            EventCode.POWER_FAILURE,
            EventCode.POWER_RESTORED,
            recorded_share=0.0,
            can_talk=False,
            is_theft=False,
        ),
    )
}
"""Current reverse is recorded as forward import (Indian meters register either direction)."""
