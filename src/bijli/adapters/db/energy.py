"""The energy accounting's table group: each transformer's day of intervals worked out from
the readings, and its stored balance (`energy_days`).

A transformer's own meter is the meter on it that serves no account (never installed on one:
`register_meters`); every other meter on it is a consumer's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bijli.adapters.db import schema as t
from bijli.adapters.db.energy_tables import energy_days
from bijli.adapters.db.sql import is_pg
from bijli.kernel.time import INTERVAL, INTERVALS_PER_DAY, ist_day, ist_midnight
from bijli.mdm.model import EditAction, Quality
from bijli.network.balance import Slot, TransformerDay
from bijli.network.ports import DayRecord, StoredDay

ENERGY_EDITS = (EditAction.ESTIMATED.value, EditAction.REPLACED.value)
"""The reading edits that change a reading's energy (an estimate made, or replaced)."""


def serves_account(meter_id: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
    """The meter was installed on an account: a consumer's (the rest are transformers'). A
    semi-join the store answers by the installations' index, meter by meter or hashed."""
    i = t.installations.c
    return sa.exists().where(i.meter_id == meter_id)


SQLITE_NAMED_METERS = 10_000
"""SQLite takes a statement's parameters one by one (32,766 at most): beyond this many meters,
their transformers' day is read whole and the transformers picked out of it."""


def one_of(conn: Connection, meters: list[str]) -> Callable[[sa.ColumnElement[str]], sa.ColumnElement[bool]] | None:
    """A condition on a meter id column: one of these meters (on PostgreSQL one array
    parameter, however many; None: too many to name on SQLite)."""
    if is_pg(conn):
        named = sa.bindparam("meters", meters, type_=postgresql.ARRAY(sa.String))
        return lambda column: column == sa.any_(named)
    if len(meters) > SQLITE_NAMED_METERS:
        return None
    return lambda column: column.in_(meters)


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

    def due(self, first: date, now: datetime, every: timedelta) -> dict[date, set[str]]:
        """By IST day from `first`, the transformers whose meters' readings changed since that
        day of theirs was last worked out (or never was), and not worked out within `every`. A
        change is seen in the daily aggregates settlement keeps, in VEE's estimates (their
        edits), and in any of its meters heard from since, today, or yesterday if its day there is
        not whole yet (readings not settled yet count too)."""
        d, e, s, m, x = t.meter_daily.c, energy_days.c, t.meter_state.c, t.meters.c, t.reading_edits.c
        today = ist_day(now)
        changed: dict[tuple[str, date], datetime] = {}

        def seen(transformer: str, day: date, at: datetime | None) -> None:
            if at is not None and ((transformer, day) not in changed or changed[(transformer, day)] < at):
                changed[(transformer, day)] = at

        settled = (
            sa.select(m.transformer, d.day, sa.func.max(d.last_received_at).label("at"))
            .join(t.meters, m.meter_id == d.meter_id)
            .where(d.day >= first, d.day <= today)
            .group_by(m.transformer, d.day)
        )
        for row in self.conn.execute(settled):
            seen(row.transformer, row.day, row.at)
        days = [first + timedelta(days=n) for n in range((today - first).days + 1)]
        if days:
            start = ist_midnight(first)
            day_of = sa.case(
                *((x.interval_start < ist_midnight(day + timedelta(days=1)), n) for n, day in enumerate(days)),
                else_=len(days),
            ).label("n")
            estimated = (
                sa.select(m.transformer, day_of, sa.func.max(x.at).label("at"))
                .join(t.meters, m.meter_id == x.meter_id)
                .where(x.at >= start, x.interval_start >= start, x.action.in_(ENERGY_EDITS))
                .group_by(m.transformer, day_of)
            )
            for edits in self.conn.execute(estimated):
                if edits.n < len(days):
                    seen(edits.transformer, days[edits.n], edits.at)
        for day in (today - timedelta(days=1), today):
            if day < first:
                continue
            heard = (
                sa.select(m.transformer, sa.func.max(s.last_seen).label("at"))
                .join(t.meters, m.meter_id == s.meter_id)
                .where(s.last_seen >= ist_midnight(day))
                .group_by(m.transformer)
            )
            if day < today:  # a meter whose yesterday is whole (settled) has nothing of it left to send
                whole = sa.exists().where(d.meter_id == s.meter_id, d.day == day, d.intervals >= INTERVALS_PER_DAY)
                heard = heard.where(~whole)
            for last in self.conn.execute(heard):
                seen(last.transformer, day, last.at)
        done: dict[tuple[str, date], datetime] = {
            (row.transformer, row.day): row.computed_at
            for row in self.conn.execute(sa.select(e.transformer, e.day, e.computed_at).where(e.day >= first))
        }
        out: dict[date, set[str]] = {}
        for (transformer, day), at in changed.items():
            was = done.get((transformer, day))
            if was is None or (was <= at and was <= now - every):
                out.setdefault(day, set()).add(transformer)
        return {day: out[day] for day in sorted(out)}

    def transformer_days(self, day: date, transformers: Collection[str] | None = None) -> list[TransformerDay]:
        """The metered transformers' intervals of `day` (of these transformers, or of all) from
        the stored readings (actual and estimated), with how many consumers' meters each serves
        that day. Only the named transformers' meters' readings are read (by meter and time).

        The readings are added up per transformer and interval joined to `meters` alone; the
        transformers' own meters (a few hundred) are read apart and taken out of those sums.
        Telling a transformer's meter from a consumer's inside the big statement would join
        the installations to every reading, and the newest day's readings are beyond the
        planner's statistics (estimated at one row), so PostgreSQL may compare every reading
        with every installed meter: minutes for a day of 24,000 meters, where this takes
        seconds whatever the estimate."""
        start, end = ist_midnight(day), ist_midnight(day + timedelta(days=1))
        r, m, i = t.readings.c, t.meters.c, t.installations.c
        picked = sa.select(m.meter_id, m.transformer)
        if transformers is not None:
            picked = picked.where(m.transformer.in_(sorted(transformers)))
        transformer_of: dict[str, str] = {row.meter_id: row.transformer for row in self.conn.execute(picked)}
        if not transformer_of:
            return []
        # Their meters named, so the store reads those meters' day by the readings' key
        # (meter, interval).
        among = one_of(self.conn, list(transformer_of)) if transformers is not None else None
        serving = sa.select(i.meter_id).distinct()
        if among is not None:
            serving = serving.where(among(i.meter_id))
        consumers_meters = set(self.conn.execute(serving).scalars())
        own = sorted(meter for meter in transformer_of if meter not in consumers_meters)
        estimated = r.quality == Quality.ESTIMATED.value
        q = (
            sa.select(
                m.transformer,
                m.feeder,
                m.area,
                r.interval_start,
                sa.func.sum(r.import_wh).label("wh"),
                sa.func.sum(sa.case((estimated, r.import_wh), else_=0)).label("estimated_wh"),
                sa.func.count().label("n"),
                sa.func.sum(sa.case((estimated, 1), else_=0)).label("estimated_n"),
                sa.func.sum(sa.case((sa.and_(estimated, r.import_wh == 0), 1), else_=0)).label("estimated_zero"),
            )
            .select_from(t.readings.join(t.meters, m.meter_id == r.meter_id))
            .where(r.interval_start >= start, r.interval_start < end)
            .group_by(m.transformer, m.feeder, m.area, r.interval_start)
        )
        if among is not None:
            q = q.where(among(r.meter_id))
        elif transformers is not None:
            q = q.where(m.transformer.in_(sorted(transformers)))
        where: dict[str, tuple[str, str]] = {}
        every: dict[str, dict[int, tuple[int, int, int, int, int]]] = {}
        for row in self.conn.execute(q):
            where[row.transformer] = (row.feeder, row.area)
            every.setdefault(row.transformer, {})[int((row.interval_start - start) / INTERVAL)] = (
                int(row.wh),
                int(row.estimated_wh),
                int(row.n),
                int(row.estimated_n),
                int(row.estimated_zero),
            )
        supplied: dict[str, dict[int, tuple[int, bool]]] = {}
        theirs: dict[str, dict[int, tuple[int, int, int, int, int]]] = {}
        pick_own = one_of(self.conn, own)
        own_q = sa.select(r.meter_id, r.interval_start, r.import_wh, r.quality).where(
            r.interval_start >= start, r.interval_start < end
        )
        if own:
            own_q = own_q.where(pick_own(r.meter_id)) if pick_own is not None else own_q
            owned = set(own)
            for row in self.conn.execute(own_q):
                if row.meter_id not in owned:
                    continue
                transformer, slot = transformer_of[row.meter_id], int((row.interval_start - start) / INTERVAL)
                wh, est = int(row.import_wh), row.quality == Quality.ESTIMATED.value
                was_wh, was_est = supplied.setdefault(transformer, {}).get(slot, (0, False))
                supplied[transformer][slot] = (was_wh + wh, was_est or (est and wh > 0))
                t_wh, t_est_wh, t_n, t_est_n, t_zero = theirs.setdefault(transformer, {}).get(slot, (0, 0, 0, 0, 0))
                theirs[transformer][slot] = (
                    t_wh + wh,
                    t_est_wh + (wh if est else 0),
                    t_n + 1,
                    t_est_n + int(est),
                    t_zero + int(est and wh == 0),
                )
        billed: dict[str, dict[int, tuple[int, int, int, int, int]]] = {}
        for transformer, by_slot in every.items():
            taken = theirs.get(transformer, {})
            for slot, sums in by_slot.items():
                less = taken.get(slot, (0, 0, 0, 0, 0))
                left = tuple(a - b for a, b in zip(sums, less, strict=True))
                if left[2] > 0:  # a consumer's reading in the interval
                    billed.setdefault(transformer, {})[slot] = (left[0], left[1], left[2], left[3], left[4])
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

    def rejudge(self, records: Sequence[DayRecord]) -> None:
        """Store a new judgement of stored transformers' days (their losses split, excess and
        flag); their intervals, balance and when they were worked out stay as they are."""
        if not records:
            return
        e = energy_days.c
        stmt = (
            energy_days.update()
            .where(e.transformer == sa.bindparam("b_transformer"), e.day == sa.bindparam("b_day"))
            .values(
                unexplained_w=sa.bindparam("b_unexplained_w"),
                night_w=sa.bindparam("b_night_w"),
                excess_w=sa.bindparam("b_excess_w"),
                flagged=sa.bindparam("b_flagged"),
            )
        )
        self.conn.execute(
            stmt,
            [
                {
                    "b_transformer": rec.day.transformer,
                    "b_day": rec.day.day,
                    "b_unexplained_w": rec.unexplained_w,
                    "b_night_w": rec.night_w,
                    "b_excess_w": rec.excess_w,
                    "b_flagged": rec.flagged,
                }
                for rec in records
            ],
        )

    def stored(
        self,
        first: date,
        last: date,
        transformer: str | None = None,
        feeder: str | None = None,
        area: str | None = None,
        *,
        among: Collection[str] | None = None,
    ) -> list[StoredDay]:
        """Stored transformer days over [first, last] (of one transformer, feeder or area, or
        all; of these transformers only, if `among`), by day and transformer."""
        e = energy_days.c
        q = sa.select(energy_days).where(e.day >= first, e.day <= last)
        for column, value in ((e.transformer, transformer), (e.feeder, feeder), (e.area, area)):
            if value is not None:
                q = q.where(column == value)
        if among is not None:
            if not among:
                return []
            q = q.where(e.transformer.in_(sorted(among)))
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
        q = (
            sa.select(r.meter_id, r.interval_start, r.import_wh)
            .join(t.meters, m.meter_id == r.meter_id)
            .where(m.transformer == transformer, r.interval_start >= start, r.interval_start < end)
            .where(serves_account(r.meter_id))
        )
        out: dict[str, list[int | None]] = {}
        for row in self.conn.execute(q):
            series = out.setdefault(row.meter_id, [None] * INTERVALS_PER_DAY)
            series[int((row.interval_start - start) / INTERVAL)] = int(row.import_wh)
        return out
