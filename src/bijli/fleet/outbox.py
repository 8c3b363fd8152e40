"""What the fleet's meters send: frames in the order they went out, and what a meter keeps.

Frames are prepared into one queue and numbered and sealed only when they are taken, in
sending order, so a meter's frame counter rises in the order its frames leave it, whatever
order they were prepared in. A meter that cannot talk keeps what it would have sent in its
backlog; so does one whose frames the link could not deliver, and it seals them anew (with
new counters) when it next gets through.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from bijli.protocol import topics
from bijli.protocol.codec import Sealer
from bijli.protocol.frames import (
    PROTOCOL_VERSION,
    AckFrame,
    DailyFrame,
    DailyRecord,
    Event,
    EventFrame,
    IntervalRecord,
    ReadingFrame,
    Redemption,
    StatusFrame,
    TokenFrame,
)

Ints = npt.NDArray[np.int64]
Frame = ReadingFrame | DailyFrame | EventFrame | StatusFrame | AckFrame | TokenFrame
Prepared = tuple[float, int, str, type[Frame], int, dict[str, Any]]
"""A frame waiting to go out: (when, meter, kind, frame class, meter's timestamp, body)."""
StatusRow = tuple[int, int, int, str, int, int, int, int, int, int, int]
"""(meter, timestamp, SIM slot, operator, RSSI, relay, balance, failovers, seconds on SIM 1 and
on SIM 2, last switched at): what a status frame reports."""
READINGS_PER_FRAME: Final = 96
EVENTS_PER_FRAME: Final = 100


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A sealed frame, the moment it went out, and the topic it went out on."""

    at: float
    meter: int
    topic: str
    payload: bytes
    frame: Frame


@dataclass(slots=True)
class Backlog:
    """What a meter holds while it cannot talk."""

    intervals: list[IntervalRecord] = field(default_factory=list)
    days: list[DailyRecord] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    redemptions: list[Redemption] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.intervals or self.days or self.events or self.redemptions)


class Outbox:
    """Every meter's prepared frames, its frame counter, and its backlog."""

    def __init__(
        self, meter_ids: Sequence[str], frame_keys: Sequence[bytes], root: str, first_counter: int, key_version: int = 1
    ) -> None:
        self.meter_ids = list(meter_ids)
        self.root = root
        self.fc = np.full(len(self.meter_ids), first_counter, dtype=np.int64)
        self.prepared: list[Prepared] = []
        """Frames waiting to be numbered and sealed; `take` empties it."""
        self.backlog: dict[int, Backlog] = {}
        self._sealers = [Sealer(k, key_version) for k in frame_keys]
        self._reading_topics = [topics.uplink(root, m, "reading") for m in self.meter_ids]

    def rekey(self, i: int, frame_key: bytes, version: int) -> None:
        """Meter `i` seals with a new frame key from now on (what it has not sent yet too)."""
        self._sealers[i] = Sealer(frame_key, version)

    def put(self, t: float, i: int, kind: str, cls: type[Frame], ts: int, body: dict[str, Any]) -> None:
        """Meter `i` sends a frame at `t`, stamped `ts` by its own clock."""
        self.prepared.append((t, i, kind, cls, ts, body))

    def put_readings(self, t: float, idx: list[int], stamps: list[int], records: list[IntervalRecord]) -> None:
        """A reading frame from each of `idx`: the hot path, so it takes plain lists."""
        queue = self.prepared
        for i, ts in zip(idx, stamps, strict=True):
            queue.append((t, i, "reading", ReadingFrame, ts, {"intervals": [records[i]]}))

    def put_statuses(self, t: float, rows: Iterable[StatusRow]) -> None:
        """A status frame per row."""
        queue = self.prepared
        for i, ts, slot, operator, rssi, relay, balance, failovers, s1, s2, switched in rows:
            body = {
                "sim": slot + 1,
                "operator": operator,
                "rssi_dbm": rssi,
                "relay": relay,
                "balance_paise": balance,
                "failovers": failovers,
                "sim1_s": s1,
                "sim2_s": s2,
                "switched_at": switched,
            }
            queue.append((t, i, "status", StatusFrame, ts, body))

    def held(self, i: int) -> Backlog:
        """Meter `i`'s backlog, to keep something in."""
        return self.backlog.setdefault(i, Backlog())

    def flush(self, i: int, t: float, ts: int) -> None:
        """Meter `i` sends its whole backlog at `t`, oldest first."""
        backlog = self.backlog.pop(i, None)
        if not backlog:
            return
        for chunk in range(0, len(backlog.intervals), READINGS_PER_FRAME):
            intervals = backlog.intervals[chunk : chunk + READINGS_PER_FRAME]
            self.put(t, i, "reading", ReadingFrame, ts, {"intervals": intervals})
        if backlog.days:
            self.put(t, i, "daily", DailyFrame, ts, {"days": backlog.days})
        for chunk in range(0, len(backlog.events), EVENTS_PER_FRAME):
            self.put(t, i, "event", EventFrame, ts, {"events": backlog.events[chunk : chunk + EVENTS_PER_FRAME]})
        if backlog.redemptions:
            self.put(t, i, "token", TokenFrame, ts, {"redemptions": backlog.redemptions})

    def take(self) -> list[Outgoing]:
        """Everything sent since the last call, in the order it went out, numbered and sealed."""
        queue, self.prepared = self.prepared, []
        queue.sort(key=lambda q: q[0])
        counters = self.fc.tolist()
        ids, sealers, root = self.meter_ids, self._sealers, self.root
        reading_topics = self._reading_topics
        out = []
        for t, i, kind, cls, ts, body in queue:
            fc = counters[i] = counters[i] + 1
            frame = cls(v=PROTOCOL_VERSION, m=ids[i], fc=fc, ts=ts, **body)
            topic = reading_topics[i] if kind == "reading" else topics.uplink(root, ids[i], kind)
            out.append(Outgoing(t, i, topic, sealers[i].seal(frame), frame))
        if queue:
            self.fc[:] = counters
        return out

    def keep(self, items: Sequence[Outgoing]) -> None:
        """The link could not deliver these: their meters keep the content, to send again."""
        for item in items:
            backlog = self.held(item.meter)
            f = item.frame
            if isinstance(f, ReadingFrame):
                backlog.intervals.extend(f.intervals)
            elif isinstance(f, DailyFrame):
                backlog.days.extend(f.days)
            elif isinstance(f, EventFrame):
                backlog.events.extend(f.events)
            elif isinstance(f, TokenFrame):
                backlog.redemptions.extend(f.redemptions)
        for backlog in self.backlog.values():
            backlog.intervals.sort(key=lambda r: r.start)
            backlog.events.sort(key=lambda e: e.at)


def interval_records(
    t0: int, wh: Ints, vah: Ints, volts: Ints, milliamps: Ints, register_wh: Ints
) -> list[IntervalRecord]:
    """Each meter's record of the interval from `t0`, as its reading frame carries it."""
    return [
        IntervalRecord(start=t0, import_wh=a, import_vah=b, export_wh=0, voltage_dv=c, current_ma=d, import_wh_total=e)
        for a, b, c, d, e in zip(
            wh.tolist(), vah.tolist(), volts.tolist(), milliamps.tolist(), register_wh.tolist(), strict=True
        )
    ]
