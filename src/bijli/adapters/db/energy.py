"""The energy accounting's table group: each transformer's day of intervals worked out from
the readings, and its stored balance (`energy_days`).

A transformer's own meter is the meter on it that serves no account (never installed on one:
`register_meters`); every other meter on it is a consumer's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bijli.adapters.db import schema as t
from bijli.adapters.db.energy_tables import energy_days
from bijli.adapters.db.sql import is_pg
from bijli.kernel.time import INTERVAL, INTERVALS_PER_DAY, ist_day, ist_midnight
from bijli.mdm.model import Quality
from bijli.network.balance import Slot, TransformerDay
from bijli.network.ports import DayRecord, StoredDay


def served() -> sa.Subquery:
    """Meters ever installed on an account: the consumers' (the rest are transformers')."""
    return sa.select(t.installations.c.meter_id).distinct().subquery("served")


def slots_to_json(slots: Sequence[Slot]) -> str:
    return json.dumps(
        [
            [
                s.supplied_wh,
                int(s.supplied_estimated),
                s.billed_wh,
                s.billed_estimated_wh,
                s.reporting,
                s.estimated,
                s.estimated_zero,
            ]
            for s in slots
        ],
        separators=(",", ":"),
    )


def slots_from_json(text: str) -> tuple[Slot, ...]:
    """Slots as stored (days stored before the estimated readings were counted have five figures)."""
    return tuple(
        Slot(
            supplied_wh=a,
            supplied_estimated=bool(b),
            billed_wh=c,
            billed_estimated_wh=d,
            reporting=e,
            estimated=f,
            estimated_zero=g,
        )
        for a, b, c, d, e, f, g in ([*row, 0, 0][:7] for row in json.loads(text))
    )


def stored_day(row: Any) -> StoredDay:
    return StoredDay(
        day=TransformerDay(
            transformer=row.transformer,
            feeder=row.feeder,
            area=row.area,
            day=row.day,
            consumers=row.consumers,
            slots=slots_from_json(row.slots),
        ),
        unexplained_w=row.unexplained_w,
        night_w=row.night_w,
        excess_w=row.excess_w,
        flagged=bool(row.flagged),
        computed_at=row.computed_at,
    )


class SqlEnergy:
    """Transformers' days: worked out from the readings, stored, read back."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def days_due(self, first: date, now: datetime, every: timedelta) -> list[date]:
        """IST days from `first` whose readings changed since their balance was last worked out
        (or never was), and not worked out within `every`. A change is seen in the daily
        aggregates settlement keeps, and, for today and yesterday, in any meter heard from since
        (readings not settled yet count too)."""
        d, e, s = t.meter_daily.c, energy_days.c, t.meter_state.c
        today = ist_day(now)
        changed: dict[date, datetime] = {
            row.day: row.changed_at
            for row in self.conn.execute(
                sa.select(d.day, sa.func.max(d.last_received_at).label("changed_at"))
                .where(d.day >= first, d.day <= today)
                .group_by(d.day)
            )
        }
        heard = self.conn.execute(sa.select(sa.func.max(s.last_seen))).scalar_one()
        if heard is not None:
            for day in (today - timedelta(days=1), today):
                if day >= first and heard >= ist_midnight(day):
                    changed[day] = max(changed.get(day, heard), heard)
        done: dict[date, datetime] = {
            row.day: row.computed_at
            for row in self.conn.execute(
                sa.select(e.day, sa.func.min(e.computed_at).label("computed_at")).where(e.day >= first).group_by(e.day)
            )
        }
        return sorted(
            day for day, at in changed.items() if day not in done or (done[day] <= at and done[day] <= now - every)
        )

    def transformer_days(self, day: date) -> list[TransformerDay]:
        """Every metered transformer's intervals of `day` from the stored readings (actual and
        estimated), with how many consumers' meters it serves that day."""
        start, end = ist_midnight(day), ist_midnight(day + timedelta(days=1))
        r, m = t.readings.c, t.meters.c
        s = served()
        is_dt = s.c.meter_id.is_(None)
        estimated = r.quality == Quality.ESTIMATED.value
        q = (
            sa.select(
                m.transformer,
                m.feeder,
                m.area,
                r.interval_start,
                is_dt.label("dt"),
                sa.func.sum(r.import_wh).label("wh"),
                sa.func.sum(sa.case((estimated, r.import_wh), else_=0)).label("estimated_wh"),
                sa.func.count().label("n"),
                sa.func.sum(sa.case((estimated, 1), else_=0)).label("estimated_n"),
                sa.func.sum(sa.case((sa.and_(estimated, r.import_wh == 0), 1), else_=0)).label("estimated_zero"),
            )
            .select_from(t.readings.join(t.meters, m.meter_id == r.meter_id).outerjoin(s, s.c.meter_id == r.meter_id))
            .where(r.interval_start >= start, r.interval_start < end)
            .group_by(m.transformer, m.feeder, m.area, r.interval_start, is_dt)
        )
        where: dict[str, tuple[str, str]] = {}
        supplied: dict[str, dict[int, tuple[int, bool]]] = {}
        billed: dict[str, dict[int, tuple[int, int, int, int, int]]] = {}
        for row in self.conn.execute(q):
            slot = int((row.interval_start - start) / INTERVAL)
            where[row.transformer] = (row.feeder, row.area)
            if row.dt:
                supplied.setdefault(row.transformer, {})[slot] = (int(row.wh), int(row.estimated_wh) > 0)
            else:
                billed.setdefault(row.transformer, {})[slot] = (
                    int(row.wh),
                    int(row.estimated_wh),
                    int(row.n),
                    int(row.estimated_n),
                    int(row.estimated_zero),
                )
        i = t.installations.c
        consumers: dict[str, int] = dict(
            self.conn.execute(
                sa.select(m.transformer, sa.func.count(sa.distinct(i.meter_id)))
                .join(t.meters, m.meter_id == i.meter_id)
                .where(i.installed_at < end, sa.or_(i.removed_at.is_(None), i.removed_at > start))
                .where(t.meters.c.transformer.in_(list(supplied)) if supplied else sa.false())
                .group_by(m.transformer)
            ).all()
        )
        out = []
        for transformer in sorted(supplied):
            ins, outs = supplied[transformer], billed.get(transformer, {})
            slots = []
            for n in range(INTERVALS_PER_DAY):
                wh_in, est_in = ins.get(n, (None, False))
                wh, est, reporting, estimated_n, estimated_zero = outs.get(n, (0, 0, 0, 0, 0))
                slots.append(
                    Slot(
                        supplied_wh=wh_in,
                        supplied_estimated=est_in,
                        billed_wh=wh,
                        billed_estimated_wh=est,
                        reporting=reporting,
                        estimated=estimated_n,
                        estimated_zero=estimated_zero,
                    )
                )
            feeder, area = where[transformer]
            out.append(
                TransformerDay(
                    transformer=transformer,
                    feeder=feeder,
                    area=area,
                    day=day,
                    consumers=int(consumers.get(transformer, 0)),
                    slots=tuple(slots),
                )
            )
        return out

    def save(self, records: Sequence[DayRecord], now: datetime) -> None:
        """Store (or replace) the transformers' days."""
        if not records:
            return
        rows = []
        for rec in records:
            b, td = rec.balance, rec.day
            rows.append(
                {
                    "transformer": td.transformer,
                    "day": td.day,
                    "feeder": td.feeder,
                    "area": td.area,
                    "consumers": td.consumers,
                    "supplied_wh": b.supplied_wh,
                    "supplied_estimated_wh": b.supplied_estimated_wh,
                    "billed_wh": b.billed_wh,
                    "billed_estimated_wh": b.billed_estimated_wh,
                    "intervals": b.intervals,
                    "consumer_intervals": b.consumer_intervals,
                    "slots": slots_to_json(td.slots),
                    "unexplained_w": rec.unexplained_w,
                    "night_w": rec.night_w,
                    "excess_w": rec.excess_w,
                    "flagged": rec.flagged,
                    "computed_at": now,
                }
            )
        insert = postgresql.insert(energy_days) if is_pg(self.conn) else sqlite.insert(energy_days)
        keep = {"transformer", "day"}
        stmt = insert.on_conflict_do_update(
            index_elements=["transformer", "day"],
            set_={c: insert.excluded[c] for c in rows[0] if c not in keep},
        )
        self.conn.execute(stmt, rows)

    def stored(
        self,
        first: date,
        last: date,
        transformer: str | None = None,
        feeder: str | None = None,
        area: str | None = None,
    ) -> list[StoredDay]:
        """Stored transformer days over [first, last] (of one transformer, feeder or area, or
        all), by day and transformer."""
        e = energy_days.c
        q = sa.select(energy_days).where(e.day >= first, e.day <= last)
        for column, value in ((e.transformer, transformer), (e.feeder, feeder), (e.area, area)):
            if value is not None:
                q = q.where(column == value)
        return [stored_day(row) for row in self.conn.execute(q.order_by(e.day, e.transformer))]

    def flagged(self, first: date, last: date) -> list[StoredDay]:
        """Flagged transformer days over [first, last], by day and transformer."""
        e = energy_days.c
        q = sa.select(energy_days).where(e.day >= first, e.day <= last, e.flagged).order_by(e.day, e.transformer)
        return [stored_day(row) for row in self.conn.execute(q)]

    def consumer_intervals(self, transformer: str, day: date) -> dict[str, list[int | None]]:
        """Each consumer meter's Wh per interval of `day` on the transformer (None: no reading)."""
        start, end = ist_midnight(day), ist_midnight(day + timedelta(days=1))
        r, m = t.readings.c, t.meters.c
        s = served()
        q = (
            sa.select(r.meter_id, r.interval_start, r.import_wh)
            .join(t.meters, m.meter_id == r.meter_id)
            .join(s, s.c.meter_id == r.meter_id)
            .where(m.transformer == transformer, r.interval_start >= start, r.interval_start < end)
        )
        out: dict[str, list[int | None]] = {}
        for row in self.conn.execute(q):
            series = out.setdefault(row.meter_id, [None] * INTERVALS_PER_DAY)
            series[int((row.interval_start - start) / INTERVAL)] = int(row.import_wh)
        return out
