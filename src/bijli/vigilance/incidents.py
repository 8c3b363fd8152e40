"""A meter's events paired into incidents. Pure.

A meter logs an odd code when something starts (a magnet held to it, its neutral missing, its
supply gone) and the even code after it when that ends (`bijli.protocol.events`). `pair` turns
the events of one or many meters into incidents:

- an occurrence opens an incident of its kind on its meter; the restoration after it closes it,
  with an end and a duration;
- an occurrence repeated while its incident is open is merged into it (`count` goes up), so a
  magnet that flickers on and off without its restoration being logged is one incident, not ten;
- a restoration with no occurrence before it among the events given (the occurrence lies before
  the window that was read) makes an incident whose start is unknown (`started_at` None);
- COVER_OPEN is never restored: its incident stays open, and later cover openings are merged in;
- a transaction event (clock set, tariff programmed) is an incident of its own, begun and ended
  at once.

Every incident has a key (`meter:code:started-at epoch`, or `meter:code:-ended-at epoch` for one
whose start is unknown) that stays the same however the events are read again, so a case opened
per incident can be opened exactly once. It lists the ids of the events it was made of, so each
event can say which incident it belongs to (`incident_of`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from bijli.kernel.time import epoch
from bijli.protocol.events import EventCode


class EventClass(StrEnum):
    """What an event is about, as the utility sorts them."""

    TAMPER = "tamper"
    POWER = "power"
    RELAY = "relay"
    TRANSACTION = "transaction"
    OTHER = "other"


_CLASS_OF: Final[Mapping[EventCode, EventClass]] = {
    EventCode.CURRENT_REVERSE: EventClass.TAMPER,
    EventCode.BYPASS: EventClass.TAMPER,
    EventCode.EARTH_LOAD: EventClass.TAMPER,
    EventCode.MAGNET: EventClass.TAMPER,
    EventCode.NEUTRAL_DISTURBANCE: EventClass.TAMPER,
    EventCode.NEUTRAL_MISSING: EventClass.TAMPER,
    EventCode.COMM_MODULE_REMOVED: EventClass.TAMPER,
    EventCode.COVER_OPEN: EventClass.TAMPER,
    EventCode.POWER_FAILURE: EventClass.POWER,
    EventCode.LOAD_SWITCH_DISCONNECTED: EventClass.RELAY,
    EventCode.CLOCK_SET: EventClass.TRANSACTION,
    EventCode.TARIFF_PROGRAMMED: EventClass.TRANSACTION,
}
"""Each occurrence code's class, as data."""

INSTANT: Final = frozenset({EventCode.CLOCK_SET, EventCode.TARIFF_PROGRAMMED})
"""Codes that begin and end at once: nothing restores them."""
NEVER_RESTORED: Final = frozenset({EventCode.COVER_OPEN})
"""Codes that open an incident nothing ever closes."""


def occurrence_code(code: int) -> int:
    """The occurrence a code belongs to: itself for an occurrence, the odd code before it for a restoration."""
    return code - 1 if is_restoration(code) else code


def is_restoration(code: int) -> bool:
    """Whether a code ends what the odd code before it began (even, and not a transaction code)."""
    return code % 2 == 0 and code not in INSTANT


def kind_of(code: int) -> str:
    """An event's kind in words a URL can carry: `magnet`, `power_failure`, `magnet_restored`, `code_999`."""
    try:
        return EventCode(code).name.lower()
    except ValueError:
        return f"code_{code}"


def incident_kind(code: int) -> str:
    """The kind of incident a code takes part in: its occurrence's kind (`magnet` for 201 and 202)."""
    return kind_of(occurrence_code(code))


def class_of(code: int) -> EventClass:
    """The class of the incident a code takes part in."""
    try:
        return _CLASS_OF.get(EventCode(occurrence_code(code)), EventClass.OTHER)
    except ValueError:
        return EventClass.OTHER


def codes_of_kind(kind: str) -> tuple[int, ...]:
    """The codes an incident kind is made of (occurrence, and its restoration if it has one), or () if unknown."""
    known = {c.name.lower(): int(c) for c in EventCode if not is_restoration(c)}
    if kind in known:
        code = known[kind]
    elif kind.startswith("code_") and kind[5:].isdigit() and not is_restoration(int(kind[5:])):
        code = int(kind[5:])
    else:
        return ()
    return (code,) if code in INSTANT or code in NEVER_RESTORED else (code, code + 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterEvent:
    """One event as the meter logged it and the head-end stored it."""

    event_id: int
    meter_id: str
    code: int
    occurred_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Incident:
    """Something that happened at a meter, from its occurrence to its restoration."""

    meter_id: str
    code: int
    """The occurrence code (odd)."""
    started_at: datetime | None
    """When it began; None when the occurrence is not among the events read."""
    ended_at: datetime | None
    """When it was restored; None while it is open."""
    count: int = 1
    """Occurrences merged into it (repeats while open), at least 1 unless its start is unknown."""
    event_ids: tuple[int, ...] = field(default=())

    @property
    def kind(self) -> str:
        """The incident's kind (`magnet`, `cover_open`, `power_failure`, ...)."""
        return kind_of(self.code)

    @property
    def event_class(self) -> EventClass:
        """Tamper, power, relay, transaction or other."""
        return class_of(self.code)

    @property
    def is_open(self) -> bool:
        """Still going on: no restoration yet."""
        return self.ended_at is None

    @property
    def at(self) -> datetime:
        """When it is first known of: its start, or its end when its start is unknown."""
        moment = self.started_at or self.ended_at
        assert moment is not None  # an incident always has one of the two
        return moment

    @property
    def duration(self) -> timedelta | None:
        """From start to restoration; None while open or when its start is unknown."""
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at

    def duration_until(self, now: datetime) -> timedelta | None:
        """How long it has lasted by `now` (its duration once ended); None when its start is unknown."""
        if self.started_at is None:
            return None
        return (self.ended_at or max(now, self.started_at)) - self.started_at

    @property
    def key(self) -> str:
        """Stable across re-reads: `meter:code:start-epoch`, or `meter:code:-end-epoch` when the start is unknown."""
        if self.started_at is not None:
            return f"{self.meter_id}:{self.code}:{epoch(self.started_at)}"
        assert self.ended_at is not None
        return f"{self.meter_id}:{self.code}:-{epoch(self.ended_at)}"


@dataclass(slots=True)
class _Open:
    started_at: datetime
    count: int
    event_ids: list[int]


def pair(events: Iterable[MeterEvent]) -> list[Incident]:
    """The incidents of the given events (of any number of meters), in order of when they are known of."""
    by_meter: dict[str, list[MeterEvent]] = defaultdict(list)
    for event in events:
        by_meter[event.meter_id].append(event)
    incidents: list[Incident] = []
    for meter_id, logged in by_meter.items():
        incidents.extend(_pair_meter(meter_id, sorted(logged, key=lambda e: (e.occurred_at, e.event_id))))
    incidents.sort(key=lambda i: (i.at, i.meter_id, i.code))
    return incidents


def _pair_meter(meter_id: str, events: Sequence[MeterEvent]) -> list[Incident]:
    done: list[Incident] = []
    open_: dict[int, _Open] = {}
    for event in events:
        code = event.code
        if code in INSTANT:
            done.append(
                Incident(
                    meter_id=meter_id,
                    code=code,
                    started_at=event.occurred_at,
                    ended_at=event.occurred_at,
                    event_ids=(event.event_id,),
                )
            )
        elif is_restoration(code):
            began = open_.pop(code - 1, None)
            if began is None:
                done.append(
                    Incident(
                        meter_id=meter_id,
                        code=code - 1,
                        started_at=None,
                        ended_at=event.occurred_at,
                        count=0,
                        event_ids=(event.event_id,),
                    )
                )
            else:
                done.append(
                    Incident(
                        meter_id=meter_id,
                        code=code - 1,
                        started_at=began.started_at,
                        ended_at=event.occurred_at,
                        count=began.count,
                        event_ids=(*began.event_ids, event.event_id),
                    )
                )
        elif code in open_:
            still = open_[code]
            still.count += 1
            still.event_ids.append(event.event_id)
        else:
            open_[code] = _Open(started_at=event.occurred_at, count=1, event_ids=[event.event_id])
    done.extend(
        Incident(
            meter_id=meter_id,
            code=code,
            started_at=began.started_at,
            ended_at=None,
            count=began.count,
            event_ids=tuple(began.event_ids),
        )
        for code, began in open_.items()
    )
    return done


def incident_of(incidents: Iterable[Incident]) -> dict[int, Incident]:
    """Each event id's incident."""
    return {event_id: incident for incident in incidents for event_id in incident.event_ids}
