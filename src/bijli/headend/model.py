"""Screening meters' frames: who sent it, is it authentic, is it new, does it make sense.

Pure: takes deliveries and what the store knows of the meters, returns what to keep and what
to quarantine, with the reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter

from bijli.headend.ports import Delivery
from bijli.kernel.time import INTERVAL_S, epoch, is_interval_start
from bijli.mdm.meters import MeterStatus
from bijli.prepaid.model import Connection
from bijli.protocol import keys, topics
from bijli.protocol.codec import FrameKey, Refusal, open_frame
from bijli.protocol.frames import KIND_OF, REGISTER_MODULUS, EventFrame, ReadingFrame, UplinkFrame
from bijli.protocol.keys import SiteKeys, UnknownKeyVersion

log = logging.getLogger(__name__)

CLOCK_TOLERANCE_S = 300
"""How far ahead of the head-end's clock a meter's time may be before it is refused."""

SET_ASIDE: frozenset[str] = frozenset({"unprocessable", "unknown-meter", "not-commissioned"})
"""Quarantine reasons that can change, so such frames can be reprocessed: the store could not
take the frame (and may, once the cause is fixed), the meter was not registered yet, or it was
out of service (and may be put back). Each is refused before its frame counter is looked at,
or in a transaction that was rolled back, so a frame set aside never advanced its meter's
counter. Every other reason is about the frame itself and stays true."""


@dataclass(frozen=True, slots=True)
class MeterRecord:
    """What the head-end knows of a meter when a frame from it arrives."""

    meter_id: str
    status: str
    last_fc: int
    connection: Connection | None
    fc_window: int = 0
    """Which of the `REPLAY_WINDOW` counters below `last_fc` were accepted (bit k: last_fc - 1 - k)."""
    relay: int | None = None
    """The relay state the meter last reported."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """A delivery kept only for audit, with the reason."""

    delivery: Delivery
    meter_id: str | None
    refusal: Refusal
    taken: bool = False
    """A `replayed` frame whose counter the meter's counters show taken (not one below 1)."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """An authentic, new, sensible frame."""

    delivery: Delivery
    frame: UplinkFrame


@dataclass(slots=True)
class Screened:
    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    last_fc: dict[str, int] = field(default_factory=dict)
    """The new highest frame counter per meter that sent an authentic frame."""
    fc_window: dict[str, int] = field(default_factory=dict)


class KeyRing:
    """Per-meter frame keys by key version, derived once from the site's keys and kept; and,
    for up to `prepared` (meter, version) pairs (the most recently first seen), the keys'
    prepared HMAC states (`FrameKey`), which check a frame's tag in a third of the time but
    take 550 bytes each.

    The site's keys change under a running head-end (`bijli keys rotate` and `retire` in
    another process): `reload`, if given, reads them again every `refresh_s` (so a retired
    version is refused within that long), and at once (at most every `RELOAD_S`) for a version
    the ring has not seen, which a rotation may just have made; a version still missing then is
    refused (``unknown-key``).
    """

    RELOAD_S = 5.0

    def __init__(
        self,
        site: SiteKeys,
        prepared: int = 100_000,
        reload: Callable[[], SiteKeys] | None = None,
        refresh_s: float = 60.0,
    ) -> None:
        self.site = site
        self.refresh_s = refresh_s
        self._reload = reload
        self._read_at = time.monotonic()
        self._reloaded = -self.RELOAD_S  # the first reload for a new version is never held back
        self._keys: dict[tuple[str, int], bytes] = {}
        self._prepared: dict[tuple[str, int], FrameKey] = {}
        self._room = prepared

    def holds(self, version: int) -> bool:
        """Whether the site holds `version` (reading the keys again when they may have changed)."""
        if self._reload is None:
            return version in self.site.versions
        now = time.monotonic()
        if now - self._read_at >= self.refresh_s:
            self._read(now)
        if version in self.site.versions:
            return True
        if version in self.site.retired or now - self._reloaded < self.RELOAD_S:
            return False
        self._reloaded = now
        self._read(now)
        return version in self.site.versions

    def _read(self, now: float) -> None:
        assert self._reload is not None
        self._read_at = now
        try:
            fresh = self._reload()
        except Exception as e:  # an unreadable key file leaves the keys as they were; ingest goes on
            log.warning("site keys not read again (%s); keeping key versions %s", e, sorted(self.site.versions))
            return
        if fresh != self.site:
            self.site = fresh
            self._keys.clear()
            self._prepared.clear()  # a retired version's keys go with it

    def frame_key(self, meter_id: str, version: int | None = None) -> bytes:
        """The meter's frame key of `version` (None: the site's current one)."""
        v = self.site.current if version is None else version
        if not self.holds(v):
            raise UnknownKeyVersion(f"key version {v} is not one the site holds")
        key = self._keys.get((meter_id, v))
        if key is None:
            key = self._keys[(meter_id, v)] = self.site.frame_key(meter_id, v)
        return key

    def verifier(self, meter_id: str) -> Callable[[int], FrameKey | None]:
        """The meter's frame key of a version, prepared for checking tags (None: not held)."""

        def of_version(version: int) -> FrameKey | None:
            if not self.holds(version):
                return None
            found = self._prepared.get((meter_id, version))
            if found is None:
                if len(self._prepared) >= self._room:
                    del self._prepared[next(iter(self._prepared))]  # the oldest goes
                found = self._prepared[(meter_id, version)] = FrameKey(self.frame_key(meter_id, version))
            return found

        return of_version

    def key_change_args(self, meter_id: str, held: int, to: int) -> dict[str, int]:
        """The args of a key-change command moving a meter from version `held` to `to`."""
        self.frame_key(meter_id, to)  # refuses a version the site does not hold
        return keys.key_change_args(self.frame_key(meter_id, held), self.site.meter_keys(meter_id, to))


Parsed = tuple[str, str] | None
"""(meter id, kind) of an uplink topic, or None for any other topic."""


def parse_topics(root: str, deliveries: Iterable[Delivery]) -> list[Parsed]:
    return [topics.parse_uplink(root, d.topic) for d in deliveries]


def meters_named(root: str, deliveries: Iterable[Delivery], parsed: Sequence[Parsed] | None = None) -> set[str]:
    """The meter ids the deliveries' topics name."""
    return {p[0] for p in (parsed if parsed is not None else parse_topics(root, deliveries)) if p}


def screen(
    deliveries: Iterable[Delivery],
    registry: Mapping[str, MeterRecord],
    ring: KeyRing,
    root: str,
    now: datetime,
    parsed: Sequence[Parsed] | None = None,
    kept: bool = False,
) -> Screened:
    """Sort a batch into accepted frames (in frame-counter order per meter) and rejections.

    `parsed`: the deliveries' topics already parsed (`parse_topics`), if they are.
    `kept`: the deliveries come from the quarantine, set aside for a reason in `SET_ASIDE`
    (`admit_kept` decides their counters). `admit_kept` also decides a delivery the broker
    hands over again (`Delivery.redelivered`): its first delivery may never have been stored
    (a worker died holding it) while the meter's later frames were, so one too far below the
    highest counter for the window to tell is taken, by its own keys, not refused.
    """
    out = Screened()
    authentic: list[Accepted] = []
    deliveries = list(deliveries)
    for d, topic in zip(deliveries, parsed if parsed is not None else parse_topics(root, deliveries), strict=True):
        if topic is None:
            out.rejected.append(Rejected(d, None, Refusal("bad-topic", f"not an uplink topic: {d.topic}")))
            continue
        meter_id, kind = topic
        record = registry.get(meter_id)
        if record is None:
            out.rejected.append(Rejected(d, meter_id, Refusal("unknown-meter", f"meter {meter_id} is not registered")))
            continue
        if record.status != MeterStatus.COMMISSIONED:
            refusal = Refusal("not-commissioned", f"meter {meter_id} is {record.status}")
            out.rejected.append(Rejected(d, meter_id, refusal))
            continue
        opened = open_frame(ring.verifier(meter_id), meter_id, d.payload)
        if isinstance(opened, Refusal):
            out.rejected.append(Rejected(d, meter_id, opened))
            continue
        if KIND_OF[type(opened)] != kind:
            refusal = Refusal("misdirected", f"a {KIND_OF[type(opened)]} frame on the {kind} topic")
            out.rejected.append(Rejected(d, meter_id, refusal))
            continue
        authentic.append(Accepted(d, opened))

    authentic.sort(key=_counter_order)
    for item in authentic:
        meter_id = item.frame.m
        last = out.last_fc.get(meter_id, registry[meter_id].last_fc)
        window = out.fc_window.get(meter_id, registry[meter_id].fc_window)
        if isinstance(item.frame, EventFrame) and not kept:
            fresh = untaken(last, window, item.frame.fc)  # the counter stays where it is
        else:
            judge = admit_kept if kept or item.delivery.redelivered else admit
            fresh, last, window = judge(last, window, item.frame.fc)
        if not fresh:
            detail = f"frame counter {item.frame.fc} was accepted before, or is too far below {last}, the highest"
            out.rejected.append(Rejected(item.delivery, meter_id, Refusal("replayed", detail), item.frame.fc > 0))
            continue
        out.last_fc[meter_id], out.fc_window[meter_id] = last, window
        problem = check_content(item.frame, now)
        if problem is not None:
            out.rejected.append(Rejected(item.delivery, meter_id, problem))
            continue
        out.accepted.append(item)
    return out


_counter_order = attrgetter("frame.m", "frame.fc")
"""An accepted frame's (meter, frame counter)."""


REPLAY_WINDOW = 62
"""How far below the highest counter a frame may still arrive (it may come late through
another head-end worker), like IPsec's anti-replay window; each counter counts once."""
_WINDOW_MASK = (1 << REPLAY_WINDOW) - 1


def admit(last: int, window: int, fc: int) -> tuple[bool, int, int]:
    """Whether counter `fc` is new for a meter, and the meter's (highest, window) after it.

    Counters start at 1, so nothing at or below 0 is ever new.
    """
    if fc <= 0:
        return False, last, window
    if fc > last:
        shift = fc - last
        window = ((window << shift) | (1 << (shift - 1))) & _WINDOW_MASK if shift <= REPLAY_WINDOW else 0
        return True, fc, window
    behind = last - fc
    if behind == 0 or behind > REPLAY_WINDOW or window >> (behind - 1) & 1:
        return False, last, window
    return True, last, window | 1 << (behind - 1)


def untaken(last: int, window: int, fc: int) -> bool:
    """Whether an event frame's counter `fc` is not one the meter's counters show taken by
    another frame. An event frame does not move its meter's counters: it may pass its own
    meter's older frames (it has a lane of its own), which then stay within the window
    however many they are; each event is kept once by the events table's key (meter, code,
    when), so an event frame that comes again stores nothing new."""
    if fc <= 0:
        return False
    behind = last - fc
    if behind < 0 or behind > REPLAY_WINDOW:
        return True
    return behind != 0 and not window >> (behind - 1) & 1


def admit_kept(last: int, window: int, fc: int) -> tuple[bool, int, int]:
    """`admit` for a frame kept in the quarantine, or handed over again by the broker: a frame
    set aside never advanced its meter's counter (`SET_ASIDE`), and one the broker hands over
    again may never have been stored, so one too far below the highest for the window to tell
    is still new; it is taken without moving the counter (everything a frame writes is kept
    once by its own key). Within the window, and above it, `admit` decides: a counter accepted
    meanwhile (the same frame delivered again) is a replay."""
    if fc > 0 and last - fc > REPLAY_WINDOW:
        return True, last, window
    return admit(last, window, fc)


def check_content(frame: UplinkFrame, now: datetime) -> Refusal | None:
    """Whether an authentic frame's values make sense; a frame is taken whole or not at all."""
    latest = epoch(now) + CLOCK_TOLERANCE_S
    if frame.ts > latest:
        return Refusal("clock-ahead", f"meter clock {frame.ts} is ahead of the head-end's {epoch(now)}")
    if isinstance(frame, ReadingFrame):
        if not frame.intervals:
            return Refusal("empty", "a reading frame with no intervals")
        for r in frame.intervals:
            if not is_interval_start(r.start):
                return Refusal("misaligned", f"interval start {r.start} is not on a 15-minute boundary")
            if r.start + INTERVAL_S > latest:
                return Refusal("clock-ahead", f"interval starting {r.start} has not ended yet")
            values = (r.import_wh, r.import_vah, r.export_wh, r.voltage_dv, r.current_ma)
            if min(values) < 0 or r.import_wh_total < 0:
                return Refusal("negative", f"negative value in interval starting {r.start}")
            if r.import_wh_total >= REGISTER_MODULUS:
                return Refusal("register", f"cumulative register beyond its {REGISTER_MODULUS} Wh range at {r.start}")
    return None
