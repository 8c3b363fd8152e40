"""The frames a run publishes: the fleet twin's own, sealed before any clock starts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from bench.ingest_publisher import publish_packet
from bijli.fleet.twin import FleetTwin, Outgoing
from bijli.headend.handlers import interval_row
from bijli.kernel.time import INTERVAL, utc_from_epoch
from bijli.mdm.model import IntervalRow
from bijli.protocol.frames import ReadingFrame


@dataclass(frozen=True, slots=True)
class Rounds:
    """Frames of some 15-minute rounds, as (topic, payload), meter by meter in sending order."""

    frames: list[Outgoing]
    readings: int
    meters: int
    """The fleet's first `meters` meters sent these frames."""

    def first_meters(self, n: int) -> Rounds:
        """Only the frames of the fleet's first `n` meters."""
        frames = [f for f in self.frames if f.meter < n]
        return Rounds(frames, readings_in(frames), min(n, self.meters))

    def packets(
        self, connections: int, root: str | None = None, old_root: str = "", mqtt5: bool = True
    ) -> list[list[bytes]]:
        """PUBLISH packets for each connection; a meter always on the same one, in order."""
        out: list[list[bytes]] = [[] for _ in range(connections)]
        for f in self.frames:
            topic = f.topic if root is None else root + f.topic[len(old_root) :]
            lane = out[f.meter % connections]
            lane.append(publish_packet(topic.encode(), f.payload, len(lane) % 65535 + 1, mqtt5))
        return out


def fleet_rounds(twin: FleetTwin, begin: datetime, first: int, count: int) -> Rounds:
    """What the twin sends in rounds `first` .. `first + count - 1`, sealed."""
    frames: list[Outgoing] = []
    for n in range(first, first + count):
        twin.close_interval(begin + n * INTERVAL)
        frames.extend(twin.take_outgoing())
    return Rounds(frames, readings_in(frames), twin.n)


def readings_in(frames: Sequence[Outgoing]) -> int:
    """How many readings these frames carry."""
    return sum(len(f.frame.intervals) for f in frames if isinstance(f.frame, ReadingFrame))


def meters_for(rounds: Rounds, meters: int, frames: float) -> int:
    """How many of the fleet's meters send about `frames` frames in these rounds."""
    per_meter = len(rounds.frames) / max(meters, 1)
    return max(1, min(meters, math.ceil(frames / max(per_meter, 1e-9))))


def interval_rows(rounds: Rounds) -> list[IntervalRow]:
    """The readings of these rounds as the head-end collects them (interval start in epoch
    seconds), in the order it would store them."""
    return [
        interval_row(f.frame.m, r)
        for f in rounds.frames
        if isinstance(f.frame, ReadingFrame)
        for r in f.frame.intervals
    ]


def copy_rows(rounds: Rounds, now: datetime) -> list[dict[str, Any]]:
    """The rows the head-end would store for these rounds, every column, in its order."""
    stored = {"quality": "actual", "received_at": now, "flags": 0}
    return [
        {**msgspec.structs.asdict(row), "interval_start": utc_from_epoch(row.interval_start), **stored}
        for row in interval_rows(rounds)
    ]
