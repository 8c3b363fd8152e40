"""The outages table, and the facts outages are found from: power events (paired by
`bijli.vigilance.incidents`), the meters' places and their links (`meter_state`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bijli.adapters.db import schema as t
from bijli.adapters.db.outage_tables import outages
from bijli.adapters.db.sql import is_pg
from bijli.mdm.meters import MeterStatus
from bijli.network.outages import (
    GATHER,
    PREFERRED_SIM,
    SILENT_AFTER,
    Failure,
    Link,
    Outage,
    OutageLevel,
    Place,
    Reporting,
    StoredOutage,
)
from bijli.protocol.events import EventCode
from bijli.vigilance.incidents import MeterEvent, pair

ROUND_LOCK = 0x6F75746167657300
"""The advisory lock key of the outage rounds ("outages" in ASCII)."""
_POWER = (int(EventCode.POWER_FAILURE), int(EventCode.POWER_RESTORED))


class SqlOutages:
    """`OutageBook` over one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def hold(self) -> None:
        if is_pg(self.conn):  # SQLite has one writer at a time anyway
            self.conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ROUND_LOCK})

    def power_failures(self, since: datetime, until: datetime | None = None) -> list[Failure]:
        e = t.events.c
        began = sa.select(e.meter_id).where(e.code == EventCode.POWER_FAILURE, e.occurred_at >= since)
        if until is not None:
            began = began.where(e.occurred_at <= until)
        # Each such meter's power events from `since` on: its restorations come after.
        q = sa.select(e.id, e.meter_id, e.code, e.occurred_at).where(
            e.code.in_(_POWER), e.occurred_at >= since, e.meter_id.in_(began.distinct().scalar_subquery())
        )
        logged = [MeterEvent(event_id=i, meter_id=m, code=c, occurred_at=at) for i, m, c, at in self.conn.execute(q)]
        return [
            Failure(meter_id=i.meter_id, started_at=i.started_at, ended_at=i.ended_at)
            for i in pair(logged)
            if i.started_at is not None and (until is None or i.started_at <= until)
        ]

    def places(self, meter_ids: Iterable[str]) -> dict[str, Place]:
        wanted = sorted(set(meter_ids))
        if not wanted:
            return {}
        m = t.meters.c
        q = sa.select(m.meter_id, m.area, m.feeder, m.transformer).where(m.meter_id.in_(wanted))
        return {
            r.meter_id: Place(meter_id=r.meter_id, area=r.area, feeder=r.feeder, transformer=r.transformer)
            for r in self.conn.execute(q)
        }

    def meters_on(self) -> dict[str, int]:
        m = t.meters.c
        in_service = m.status == MeterStatus.COMMISSIONED.value
        counts = {
            r.transformer: int(r.n)
            for r in self.conn.execute(
                sa.select(m.transformer, sa.func.count().label("n")).where(in_service).group_by(m.transformer)
            )
        }
        for r in self.conn.execute(
            sa.select(m.feeder, sa.func.count(sa.distinct(m.transformer)).label("n"))
            .where(in_service)
            .group_by(m.feeder)
        ):
            counts[r.feeder] = int(r.n)
        return counts

    def displaced(self, now: datetime) -> list[Link]:
        m, s = t.meters.c, t.meter_state.c
        silent_since = now - SILENT_AFTER
        q = (
            sa.select(m.meter_id, m.area, s.operator, s.active_sim, s.switched_at, s.last_seen)
            .select_from(t.meters.join(t.meter_state, s.meter_id == m.meter_id))
            .where(m.status == MeterStatus.COMMISSIONED.value, s.operator.is_not(None))
            .where(
                sa.or_(
                    s.last_seen.is_(None),
                    s.last_seen < silent_since,
                    sa.and_(s.active_sim != PREFERRED_SIM, s.switched_at.is_not(None)),
                )
            )
        )
        return [
            Link(
                meter_id=r.meter_id,
                area=r.area,
                operator=r.operator,
                sim=r.active_sim,
                switched_at=r.switched_at,
                last_seen=r.last_seen,
            )
            for r in self.conn.execute(q)
        ]

    def operators(self) -> list[str]:
        s = t.meter_state.c
        q = sa.select(s.operator).where(s.operator.is_not(None)).distinct().order_by(s.operator)
        return [str(o) for o in self.conn.execute(q).scalars()]

    def reporting(self, now: datetime) -> dict[tuple[str, str], Reporting]:
        m, s = t.meters.c, t.meter_state.c
        silent_since = now - SILENT_AFTER
        reporting = sa.and_(s.last_seen.is_not(None), s.last_seen >= silent_since)
        home = sa.and_(
            reporting, sa.or_(s.active_sim.is_(None), s.active_sim == PREFERRED_SIM, s.switched_at.is_(None))
        )
        q = (
            sa.select(
                m.area,
                s.operator,
                sa.func.count().filter(reporting).label("reporting"),
                sa.func.count().filter(home).label("home"),
            )
            .select_from(t.meters.join(t.meter_state, s.meter_id == m.meter_id))
            .where(m.status == MeterStatus.COMMISSIONED.value, s.operator.is_not(None))
            .group_by(m.area, s.operator)
        )
        return {
            (r.area, r.operator): Reporting(reporting=int(r.reporting), home=int(r.home)) for r in self.conn.execute(q)
        }

    def returned(self, meter_ids: Sequence[str], after: datetime) -> datetime | None:
        s = t.meter_state.c
        latest: datetime | None = None
        ids = list(meter_ids)
        for start in range(0, len(ids), 1000):
            q = sa.select(sa.func.max(s.switched_at)).where(
                s.meter_id.in_(ids[start : start + 1000]), s.active_sim == PREFERRED_SIM, s.switched_at > after
            )
            back = self.conn.execute(q).scalar_one_or_none()  # max() keeps the column's type: aware UTC
            if isinstance(back, datetime) and (latest is None or back > latest):
                latest = back
        return latest

    def recent(self, since: datetime) -> list[StoredOutage]:
        o = outages.c
        q = sa.select(outages).where(sa.or_(o.ended_at.is_(None), o.started_at >= since)).order_by(o.id)
        return [StoredOutage(outage_id=r.id, outage=_outage(r)) for r in self.conn.execute(q)]

    def spanning(self, at: datetime) -> list[Outage]:
        o = outages.c
        q = sa.select(outages).where(
            o.started_at <= at + GATHER, sa.or_(o.ended_at.is_(None), o.ended_at >= at - GATHER)
        )
        return [_outage(r) for r in self.conn.execute(q)]

    def save(self, found: Sequence[StoredOutage], now: datetime) -> None:
        for s in found:
            values = _row(s.outage) | {"updated_at": now}
            if s.outage_id is None:
                self.conn.execute(sa.insert(outages).values(**values, found_at=now))
            else:
                self.conn.execute(sa.update(outages).where(outages.c.id == s.outage_id).values(**values))

    def drop(self, outage_ids: Sequence[int]) -> None:
        if outage_ids:
            self.conn.execute(sa.delete(outages).where(outages.c.id.in_(list(outage_ids))))


def _row(outage: Outage) -> dict[str, object]:
    return {
        "key": outage.key,
        "level": outage.level.value,
        "subject": outage.subject,
        "area": outage.area,
        "started_at": outage.started_at,
        "ended_at": outage.ended_at,
        "meters": outage.meters,
        "meter_ids": json.dumps(list(outage.meter_ids)),
    }


def _outage(r: sa.Row[tuple[object, ...]]) -> Outage:
    row = r._mapping
    return Outage(
        level=OutageLevel(row["level"]),
        subject=row["subject"],
        area=row["area"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        meter_ids=tuple(json.loads(row["meter_ids"])),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class OutageView:
    """An outage as the API lists it."""

    outage_id: int
    outage: Outage
    found_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class OutageFilter:
    level: str | None = None
    area: str | None = None
    subject: str | None = None
    ongoing: bool | None = None
    start: datetime | None = None
    """Going on at or after."""
    end: datetime | None = None
    """Begun before."""


class OutageReads:
    """Read-only questions about outages (the API's)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def outages(self, which: OutageFilter, limit: int, offset: int = 0) -> list[OutageView]:
        """Outages, the latest begun first."""
        o = outages.c
        q = sa.select(outages).order_by(o.started_at.desc(), o.id.desc()).limit(limit).offset(offset)
        for column, wanted in ((o.level, which.level), (o.area, which.area), (o.subject, which.subject)):
            if wanted is not None:
                q = q.where(column == wanted)
        if which.ongoing is not None:
            q = q.where(o.ended_at.is_(None) if which.ongoing else o.ended_at.is_not(None))
        if which.start is not None:
            q = q.where(sa.or_(o.ended_at.is_(None), o.ended_at >= which.start))
        if which.end is not None:
            q = q.where(o.started_at < which.end)
        with self.engine.connect() as conn:
            return [_view(r) for r in conn.execute(q)]

    def outage(self, outage_id: int) -> OutageView | None:
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(outages).where(outages.c.id == outage_id)).first()
        return None if r is None else _view(r)


def _view(r: sa.Row[tuple[object, ...]]) -> OutageView:
    row = r._mapping
    return OutageView(outage_id=row["id"], outage=_outage(r), found_at=row["found_at"], updated_at=row["updated_at"])
