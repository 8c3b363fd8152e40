"""The daily reports' queries: data collection, silent meters, connectivity, usage."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bijli.adapters.db import schema as t
from bijli.adapters.db.registry import in_service_throughout
from bijli.kernel.time import INTERVALS_PER_DAY, ist_midnight
from bijli.mdm.meters import MeterStatus
from bijli.mdm.model import Quality
from bijli.mdm.reports import WITHIN_8H, WITHIN_24H, Collection, Level, kwh_text
from bijli.protocol.reporting import ONLINE_WITHIN


def collection(engine: Engine, day: date) -> Collection:
    """The data-collection rate of `day`: meters whose 96 intervals are in, by when.

    Of the meters installed by the day's start and in service all day long: a meter
    decommissioned (or recommissioned) during the day could not send all of it, and one
    decommissioned later still counts for the days it served.

    From each meter's day as settlement keeps it (`meter_daily`: its actual intervals and
    how many came within 8 h and 24 h of the day's end) and the day's estimates still
    standing (a partial index on the readings that are not actual): one row per meter, not
    the day's readings. `recount_collection` works the same figures out from the readings.
    """
    start, end = ist_midnight(day), ist_midnight(day + timedelta(days=1))
    d, r = t.meter_daily.c, t.readings.c
    estimated = (
        sa.select(r.meter_id, sa.func.count().label("n"))
        .where(r.quality != Quality.ACTUAL.value, r.interval_start >= start, r.interval_start < end)
        .group_by(r.meter_id)
        .subquery()
    )
    settled = (
        sa.select(
            d.meter_id,
            d.in_8h.label("in8"),
            d.in_24h.label("in24"),
            d.intervals.label("now"),
        )
        .where(d.day == day)
        .subquery()
    )
    per_meter = (
        sa.select(
            sa.func.coalesce(settled.c.meter_id, estimated.c.meter_id).label("meter_id"),
            sa.func.coalesce(settled.c.in8, 0).label("in8"),
            sa.func.coalesce(settled.c.in24, 0).label("in24"),
            sa.func.coalesce(settled.c.now, 0).label("now"),
            (sa.func.coalesce(settled.c.now, 0) + sa.func.coalesce(estimated.c.n, 0)).label("any"),
        )
        .select_from(settled.join(estimated, estimated.c.meter_id == settled.c.meter_id, full=True))
        .subquery()
    )
    return _collection(engine, day, per_meter)


def recount_collection(engine: Engine, day: date) -> Collection:
    """`collection` worked out from the day's readings themselves (the whole fleet's day: 2.3
    million rows at 24,000 meters), to check the kept figures against."""
    start, end = ist_midnight(day), ist_midnight(day + timedelta(days=1))
    in_8h, in_24h = end + WITHIN_8H, end + WITHIN_24H
    r = t.readings.c
    actual = r.quality == Quality.ACTUAL.value
    per_meter = (
        sa.select(
            r.meter_id,
            sa.func.sum(sa.case((actual & (r.received_at <= in_8h), 1), else_=0)).label("in8"),
            sa.func.sum(sa.case((actual & (r.received_at <= in_24h), 1), else_=0)).label("in24"),
            sa.func.sum(sa.case((actual, 1), else_=0)).label("now"),
            sa.func.count().label("any"),
        )
        .where(r.interval_start >= start, r.interval_start < end)
        .group_by(r.meter_id)
        .subquery()
    )
    return _collection(engine, day, per_meter)


def _collection(engine: Engine, day: date, per_meter: sa.Subquery) -> Collection:
    """The report over each meter's counts of the day (`per_meter`: meter_id, in8, in24, now, any)."""
    start, end = ist_midnight(day), ist_midnight(day + timedelta(days=1))
    first_change, in_service = in_service_throughout(start, end)
    full = INTERVALS_PER_DAY
    q = (
        sa.select(
            sa.func.count(),
            sa.func.sum(sa.case((per_meter.c.in8 >= full, 1), else_=0)),
            sa.func.sum(sa.case((per_meter.c.in24 >= full, 1), else_=0)),
            sa.func.sum(sa.case((per_meter.c.now >= full, 1), else_=0)),
            sa.func.sum(sa.case((per_meter.c.any >= full, 1), else_=0)),
            sa.func.coalesce(sa.func.sum(per_meter.c.now), 0),
            sa.func.coalesce(sa.func.sum(per_meter.c.any - per_meter.c.now), 0),
        )
        .select_from(
            t.meters.outerjoin(first_change, first_change.c.meter_id == t.meters.c.meter_id).outerjoin(
                per_meter, per_meter.c.meter_id == t.meters.c.meter_id
            )
        )
        .where(in_service, t.meters.c.installed_at <= start)
    )
    with engine.connect() as conn:
        meters, in8, in24, now, any_, n_actual, n_estimated = conn.execute(q).one()
    return Collection(
        day=day,
        meters=int(meters),
        complete_within_8h=int(in8 or 0),
        complete_within_24h=int(in24 or 0),
        complete_now=int(now or 0),
        complete_with_estimates=int(any_ or 0),
        intervals_expected=int(meters) * full,
        intervals_actual=int(n_actual),
        intervals_estimated=int(n_estimated),
    )


def _silent(now: datetime, silent_for: timedelta) -> sa.ColumnElement[bool]:
    s = t.meter_state.c
    return sa.and_(
        t.meters.c.status == MeterStatus.COMMISSIONED.value,
        sa.or_(s.last_seen.is_(None), s.last_seen < now - silent_for),
    )


def non_communicating(
    engine: Engine, now: datetime, silent_for: timedelta, limit: int | None = None, offset: int = 0
) -> list[dict[str, Any]]:
    """Commissioned meters not heard from for `silent_for` (or never), longest silent first;
    `limit` of them (default: all) after skipping `offset`."""
    s = t.meter_state.c
    q = (
        sa.select(t.meters.c.meter_id, t.meters.c.area, t.meters.c.transformer, s.last_seen, s.operator, s.active_sim)
        .join(t.meter_state, s.meter_id == t.meters.c.meter_id)
        .where(_silent(now, silent_for))
        .order_by(s.last_seen.asc().nulls_first(), t.meters.c.meter_id)
        .limit(limit)
        .offset(offset)
    )
    with engine.connect() as conn:
        return [
            {
                "meter_id": row.meter_id,
                "area": row.area,
                "transformer": row.transformer,
                "last_seen": row.last_seen.isoformat() if row.last_seen else None,
                "operator": row.operator,
                "sim": row.active_sim,
            }
            for row in conn.execute(q)
        ]


def count_silent(engine: Engine, now: datetime, silent_for: timedelta) -> int:
    """How many commissioned meters were not heard from for `silent_for` (or never)."""
    s = t.meter_state.c
    q = sa.select(sa.func.count()).select_from(t.meters.join(t.meter_state, s.meter_id == t.meters.c.meter_id))
    with engine.connect() as conn:
        return int(conn.execute(q.where(_silent(now, silent_for))).scalar_one())


def connectivity(engine: Engine, now: datetime) -> list[dict[str, Any]]:
    """Fleet figures per area and operator: meters, online now, on their second SIM, failovers."""
    s, m = t.meter_state.c, t.meters.c
    online = sa.case((s.last_seen >= now - ONLINE_WITHIN, 1), else_=0)
    q = (
        sa.select(
            m.area,
            s.operator,
            sa.func.count().label("meters"),
            sa.func.sum(online).label("online"),
            sa.func.sum(sa.case((s.active_sim == 2, 1), else_=0)).label("on_sim2"),
            sa.func.coalesce(sa.func.sum(s.failovers), 0).label("failovers"),
            sa.func.avg(s.rssi_dbm).label("rssi"),
        )
        .join(t.meter_state, s.meter_id == m.meter_id)
        .where(m.status == MeterStatus.COMMISSIONED.value)
        .group_by(m.area, s.operator)
        .order_by(m.area, s.operator)
    )
    with engine.connect() as conn:
        return [
            {
                "area": row.area,
                "operator": row.operator,
                "meters": int(row.meters),
                "online": int(row.online or 0),
                "on_second_sim": int(row.on_sim2 or 0),
                "failovers": int(row.failovers),
                "average_rssi_dbm": None if row.rssi is None else round(float(row.rssi), 1),
            }
            for row in conn.execute(q)
        ]


def usage(
    engine: Engine, level: Level, first: date, last: date, limit: int | None = None, offset: int = 0
) -> list[dict[str, Any]]:
    """Actual kWh over the IST days [first, last] per meter, transformer, feeder or area, in key
    order; `limit` of them (default: all) after skipping `offset`.

    Above the meter, `kwh` is what the consumers' meters recorded and `supplied_kwh` what the
    transformers' own meters (those on no account) measured going in: never the two added up.
    """
    d, m = t.meter_daily.c, t.meters.c
    key = {"meter": m.meter_id, "transformer": m.transformer, "feeder": m.feeder, "area": m.area}[level]
    if level == "meter":
        q = sa.select(
            key.label("key"),
            sa.func.sum(d.wh).label("wh"),
            sa.func.sum(d.intervals).label("intervals"),
        ).join(t.meters, m.meter_id == d.meter_id)
    else:
        served = sa.select(t.installations.c.meter_id).distinct().subquery()
        consumer = served.c.meter_id.is_not(None)
        q = (
            sa.select(
                key.label("key"),
                sa.func.coalesce(sa.func.sum(sa.case((consumer, d.wh), else_=0)), 0).label("wh"),
                sa.func.coalesce(sa.func.sum(sa.case((consumer, d.intervals), else_=0)), 0).label("intervals"),
                sa.func.sum(sa.case((consumer, None), else_=d.wh)).label("supplied_wh"),
            )
            .join(t.meters, m.meter_id == d.meter_id)
            .outerjoin(served, served.c.meter_id == d.meter_id)
        )
    q = q.where(d.day >= first, d.day <= last).group_by(key).order_by(key).limit(limit).offset(offset)
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    if level == "meter":
        return [{level: r.key, "kwh": kwh_text(int(r.wh)), "intervals": int(r.intervals)} for r in rows]
    return [
        {
            level: r.key,
            "kwh": kwh_text(int(r.wh)),
            "intervals": int(r.intervals),
            "supplied_kwh": None if r.supplied_wh is None else kwh_text(int(r.supplied_wh)),
        }
        for r in rows
    ]


class SqlReports:
    """The reports over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collection(self, day: date) -> Collection:
        return collection(self.engine, day)

    def recount_collection(self, day: date) -> Collection:
        return recount_collection(self.engine, day)

    def non_communicating(
        self, now: datetime, silent_for: timedelta, limit: int | None = None, offset: int = 0
    ) -> list[dict[str, Any]]:
        return non_communicating(self.engine, now, silent_for, limit, offset)

    def count_silent(self, now: datetime, silent_for: timedelta) -> int:
        return count_silent(self.engine, now, silent_for)

    def connectivity(self, now: datetime) -> list[dict[str, Any]]:
        return connectivity(self.engine, now)

    def usage(
        self, level: Level, first: date, last: date, limit: int | None = None, offset: int = 0
    ) -> list[dict[str, Any]]:
        return usage(self.engine, level, first, last, limit, offset)
