"""A small city of meter twins driven in time order, and the frames it sends, opened."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from bijli.fleet.city import Consumer, TransformerMeter
from bijli.fleet.twin import FleetTwin, Outgoing, TwinOptions
from bijli.kernel.time import INTERVAL, INTERVAL_S, epoch, ist_midnight
from bijli.prepaid.tariff import builtin_tariffs
from bijli.protocol.codec import Refusal, open_frame
from bijli.protocol.frames import EventFrame, UplinkFrame
from tests.support.keys import SITE

SECRET = SITE
LMV1 = builtin_tariffs()["UP-LMV1-DU"]
START = ist_midnight(date(2026, 3, 2)) + timedelta(hours=10)  # a Monday, 10:00 IST
T0 = float(epoch(START))


class World:
    """The twin driven in time order: each interval is closed as the clock passes its end."""

    def __init__(self, consumers: Sequence[Consumer], transformers: Sequence[TransformerMeter]) -> None:
        self.twin = FleetTwin(
            consumers, transformers, SECRET, LMV1, start=START, first_counter=0, options=TwinOptions(drift_ppm=0)
        )
        self.closed = 0
        self.log: list[Outgoing] = []

    def run_to(self, t: float) -> list[Outgoing]:
        """Close every interval that has ended by `t`, run the modems to `t`, take what went out."""
        while T0 + (self.closed + 1) * INTERVAL_S <= t:
            self.twin.close_interval(START + self.closed * INTERVAL)
            self.closed += 1
        self.twin.advance(t)
        sent = self.twin.take_outgoing()
        self.log += sent
        return sent


def frame(out: Outgoing) -> UplinkFrame:
    """The frame as the head-end opens it, with the meter's own key."""
    meter_id = out.topic.split("/")[3]
    opened = open_frame(SECRET.frame_key(meter_id), meter_id, out.payload)
    assert not isinstance(opened, Refusal), opened
    return opened


def of(meter_id: str, sent: Sequence[Outgoing]) -> list[UplinkFrame]:
    return [f for f in map(frame, sent) if f.m == meter_id]


def events(frames: Sequence[UplinkFrame]) -> list[tuple[int, int]]:
    return [(e.code, e.at) for f in frames if isinstance(f, EventFrame) for e in f.events]
