"""SQL for meter data management: finding incomplete meters, their neighbours and profiles."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bijli.adapters.db import schema as t
from bijli.headend.meters import MeterStatus


def incomplete_meters(conn: Connection, first: datetime, last: datetime, expected: int) -> list[str]:
    """Commissioned meters with fewer than `expected` readings (actual or estimated) in [first, last]."""
    r = t.readings.c
    counts = (
        sa.select(r.meter_id, sa.func.count().label("n"))
        .where(r.interval_start >= first, r.interval_start <= last)
        .group_by(r.meter_id)
        .subquery()
    )
    q = (
        sa.select(t.meters.c.meter_id)
        .select_from(t.meters.outerjoin(counts, counts.c.meter_id == t.meters.c.meter_id))
        .where(t.meters.c.status == MeterStatus.COMMISSIONED.value, sa.func.coalesce(counts.c.n, 0) < expected)
        .order_by(t.meters.c.meter_id)
    )
    return list(conn.execute(q).scalars())


def readings_between(
    conn: Connection, meter_ids: Sequence[str], first: datetime, last: datetime
) -> dict[str, list[Any]]:
    """Each meter's readings in [first, last], oldest first."""
    r = t.readings.c
    q = (
        sa.select(r.meter_id, r.interval_start, r.import_wh, r.import_wh_total, r.quality)
        .where(r.meter_id.in_(list(meter_ids)), r.interval_start >= first, r.interval_start <= last)
        .order_by(r.meter_id, r.interval_start)
    )
    found: dict[str, list[Any]] = defaultdict(list)
    for row in conn.execute(q):
        found[row.meter_id].append(row)
    return found


def last_seen(conn: Connection, meter_ids: Sequence[str]) -> dict[str, datetime | None]:
    q = sa.select(t.meter_state.c.meter_id, t.meter_state.c.last_seen).where(
        t.meter_state.c.meter_id.in_(list(meter_ids))
    )
    return {row.meter_id: row.last_seen for row in conn.execute(q)}


def insert_estimates(conn: Connection, rows: Sequence[dict[str, Any]]) -> set[tuple[str, datetime]]:
    """Estimated readings; a real one stored meanwhile wins (the estimate is not written).

    Returns the (meter, interval start) of the estimates written.
    """
    if not rows:
        return set()
    r = t.readings.c
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(t.readings)
        .on_conflict_do_nothing(index_elements=["meter_id", "interval_start"])
        .returning(r.meter_id, r.interval_start)
    )
    return {(row.meter_id, row.interval_start) for row in conn.execute(stmt, list(rows))}
