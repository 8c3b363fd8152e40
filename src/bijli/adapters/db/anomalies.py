"""What the anomaly scores read: each consumer meter's day from the readings and events, and
its earlier days from the daily aggregates."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bijli.adapters.db import schema as t
from bijli.adapters.db.energy import serves_account
from bijli.kernel.time import ist_midnight
from bijli.protocol.events import EventCode
from bijli.vigilance.anomalies import MeterDay

NEUTRAL = (EventCode.NEUTRAL_MISSING, EventCode.NEUTRAL_DISTURBANCE)
REVERSE = (EventCode.CURRENT_REVERSE,)
HISTORY_DAYS = 14


class SqlAnomalyFacts:
    """Consumer meters' days for the anomaly scores."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def meter_days(self, day: date, area: str | None = None, transformer: str | None = None) -> list[MeterDay]:
        """Every consumer meter with readings on `day` (of one area or transformer, or all)."""
        start, end = ist_midnight(day), ist_midnight(day + timedelta(days=1))
        r, m = t.readings.c, t.meters.c
        zero = r.import_wh == 0
        q = (
            sa.select(
                r.meter_id,
                m.area,
                m.transformer,
                sa.func.sum(r.import_wh).label("wh"),
                sa.func.count().label("n"),
                sa.func.sum(sa.case((zero & (r.voltage_dv > 0), 1), else_=0)).label("zero_supply"),
                sa.func.sum(sa.case((zero & (r.current_ma > 0), 1), else_=0)).label("current_only"),
                sa.func.sum(r.export_wh).label("export_wh"),
            )
            .join(t.meters, m.meter_id == r.meter_id)
            .where(r.interval_start >= start, r.interval_start < end, serves_account(r.meter_id))
            .group_by(r.meter_id, m.area, m.transformer)
        )
        if area is not None:
            q = q.where(m.area == area)
        if transformer is not None:
            q = q.where(m.transformer == transformer)
        rows = self.conn.execute(q).all()
        if not rows:
            return []
        wanted = {row.meter_id for row in rows}
        d = t.meter_daily.c
        history: dict[str, dict[date, int]] = {}
        hq = sa.select(d.meter_id, d.day, d.wh).where(d.day >= day - timedelta(days=HISTORY_DAYS), d.day < day)
        if area is not None or transformer is not None:
            hq = hq.where(d.meter_id.in_(sorted(wanted)))
        for h in self.conn.execute(hq):
            if h.meter_id in wanted:
                history.setdefault(h.meter_id, {})[h.day] = int(h.wh)
        e = t.events.c
        codes = [int(c) for c in (*NEUTRAL, *REVERSE)]
        eq = (
            sa.select(e.meter_id, e.code, sa.func.count().label("n"))
            .where(e.occurred_at >= start, e.occurred_at < end, e.code.in_(codes))
            .group_by(e.meter_id, e.code)
        )
        neutral: dict[str, int] = {}
        reverse: dict[str, int] = {}
        for ev in self.conn.execute(eq):
            into = neutral if ev.code in {int(c) for c in NEUTRAL} else reverse
            into[ev.meter_id] = into.get(ev.meter_id, 0) + int(ev.n)
        return [
            MeterDay(
                meter_id=row.meter_id,
                area=row.area,
                transformer=row.transformer,
                day=day,
                wh=int(row.wh),
                intervals=int(row.n),
                zero_with_supply=int(row.zero_supply),
                current_without_energy=int(row.current_only),
                export_wh=int(row.export_wh),
                neutral_events=neutral.get(row.meter_id, 0),
                reverse_events=reverse.get(row.meter_id, 0),
                history=tuple(w for _, w in sorted(history.get(row.meter_id, {}).items())),
            )
            for row in sorted(rows, key=lambda r: r.meter_id)
        ]
