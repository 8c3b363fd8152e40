"""Read side of the meters' events: lists by meter, place, kind and time, each event with the
incident it belongs to (`bijli.vigilance.incidents.pair`), for the API and the pages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bijli.adapters.db import schema as t
from bijli.vigilance.incidents import Incident, MeterEvent, incident_of, occurrence_code, pair


@dataclass(frozen=True, slots=True, kw_only=True)
class EventFilter:
    """Which events: every field left None matches all."""

    meter_id: str | None = None
    area: str | None = None
    feeder: str | None = None
    transformer: str | None = None
    codes: tuple[int, ...] | None = None
    start: datetime | None = None
    """Occurred at or after."""
    end: datetime | None = None
    """Occurred before."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventView:
    """One stored event, where its meter hangs, and the incident it is part of."""

    event_id: int
    meter_id: str
    area: str | None
    feeder: str | None
    transformer: str | None
    code: int
    occurred_at: datetime
    received_at: datetime
    incident: Incident


class EventReads:
    """Read-only questions about the meters' events."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def events(self, which: EventFilter, limit: int, offset: int = 0) -> list[EventView]:
        """Events newest first (by when they occurred), `limit` of them from `offset`."""
        e, m = t.events.c, t.meters.c
        q = (
            sa.select(e.id, e.meter_id, m.area, m.feeder, m.transformer, e.code, e.occurred_at, e.received_at)
            .select_from(t.events.outerjoin(t.meters, m.meter_id == e.meter_id))
            .order_by(e.occurred_at.desc(), e.id.desc())
            .limit(limit)
            .offset(offset)
        )
        for column, wanted in (
            (e.meter_id, which.meter_id),
            (m.area, which.area),
            (m.feeder, which.feeder),
            (m.transformer, which.transformer),
        ):
            if wanted is not None:
                q = q.where(column == wanted)
        if which.codes is not None:
            q = q.where(e.code.in_(which.codes))
        if which.start is not None:
            q = q.where(e.occurred_at >= which.start)
        if which.end is not None:
            q = q.where(e.occurred_at < which.end)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
            owner = incident_of(
                _incidents_of(conn, {r.meter_id for r in rows}, {occurrence_code(r.code) for r in rows})
            )
        return [
            EventView(
                event_id=r.id,
                meter_id=r.meter_id,
                area=r.area,
                feeder=r.feeder,
                transformer=r.transformer,
                code=r.code,
                occurred_at=r.occurred_at,
                received_at=r.received_at,
                incident=owner[r.id],
            )
            for r in rows
        ]

    def meter_events(
        self, meter_id: str, limit: int = 100, start: datetime | None = None, end: datetime | None = None
    ) -> list[EventView]:
        """One meter's events, newest first, each with its incident (for the meter's pages)."""
        return self.events(EventFilter(meter_id=meter_id, start=start, end=end), limit)

    def meter_incidents(self, meter_id: str, limit: int = 100) -> list[Incident]:
        """One meter's incidents, the latest first."""
        with self.engine.connect() as conn:
            found = _incidents_of(conn, {meter_id}, None)
        return sorted(found, key=lambda i: i.at, reverse=True)[:limit]


def _incidents_of(conn: Connection, meter_ids: set[str], occurrences: set[int] | None) -> list[Incident]:
    """The incidents of these meters (of these occurrence codes; None: of all), from all their events."""
    if not meter_ids:
        return []
    e = t.events.c
    q = sa.select(e.id, e.meter_id, e.code, e.occurred_at).where(e.meter_id.in_(sorted(meter_ids)))
    if occurrences is not None:
        q = q.where(e.code.in_(sorted(occurrences | {c + 1 for c in occurrences})))
    return pair(_events(conn.execute(q).all()))


def _events(rows: Iterable[Any]) -> list[MeterEvent]:
    """Rows of (id, meter_id, code, occurred_at) as the events `pair` takes."""
    return [MeterEvent(event_id=r.id, meter_id=r.meter_id, code=r.code, occurred_at=r.occurred_at) for r in rows]
