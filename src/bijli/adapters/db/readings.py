"""The readings table group: interval readings, their edit log, and each meter's daily usage.

On PostgreSQL a batch of new readings goes in by one binary COPY (inside a savepoint); if any
of it is stored already, the savepoint is rolled back and one INSERT over arrays takes the
batch instead and says which were there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bijli.adapters.db import schema as t
from bijli.adapters.db.arrays import Columns
from bijli.adapters.db.sql import among, is_pg, raw
from bijli.kernel.time import INTERVAL, epoch, utc_from_epoch
from bijli.mdm.meters import MeterStatus
from bijli.mdm.model import DayUsage, EpochKey, IntervalRow, Quality, ReadingEdit, ReadingKey, StoredReading

READINGS = Columns(
    (
        ("meter_id", "text"),
        ("interval_start", "epoch"),
        ("import_wh", "int"),
        ("import_vah", "int"),
        ("export_wh", "int"),
        ("voltage_dv", "int"),
        ("current_ma", "int"),
        ("import_wh_total", "int"),
    )
)
_NAMES = ", ".join(n for n, _ in READINGS.columns)
_PG_INSERT_READINGS = (
    f"WITH u AS (SELECT {READINGS.values()} FROM {READINGS.source()}), "
    f"fresh AS (INSERT INTO readings ({_NAMES}, quality, received_at, flags) "
    "SELECT u.*, 'actual', %(received_at)s, 0 FROM u "
    "ON CONFLICT (meter_id, interval_start) DO NOTHING RETURNING meter_id, interval_start) "
    "SELECT u.meter_id, extract(epoch FROM u.interval_start)::bigint FROM u LEFT JOIN fresh "
    "ON fresh.meter_id = u.meter_id AND fresh.interval_start = u.interval_start WHERE fresh.meter_id IS NULL"
)
PG_COPY_READINGS = f"COPY readings ({_NAMES}, quality, received_at, flags) FROM STDIN (FORMAT BINARY)"
PG_COPY_TYPES = [
    "varchar",
    "timestamptz",
    "int4",
    "int4",
    "int4",
    "int4",
    "int4",
    "int8",
    "varchar",
    "timestamptz",
    "int4",
]
DAILY = Columns(
    (
        ("meter_id", "text"),
        ("day", "date"),
        ("wh", "int"),
        ("intervals", "int"),
        ("last_received_at", "epoch"),
        ("in_8h", "int"),
        ("in_24h", "int"),
    )
)
_PG_ADD_DAILY = (
    f"INSERT INTO meter_daily ({', '.join(n for n, _ in DAILY.columns)}) "
    f"SELECT {DAILY.values()} FROM {DAILY.source()} ON CONFLICT (meter_id, day) DO UPDATE SET "
    "wh = meter_daily.wh + excluded.wh, intervals = meter_daily.intervals + excluded.intervals, "
    "last_received_at = excluded.last_received_at, in_8h = meter_daily.in_8h + excluded.in_8h, "
    "in_24h = meter_daily.in_24h + excluded.in_24h"
)
_STORED = (
    "meter_id",
    "interval_start",
    "import_wh",
    "import_vah",
    "export_wh",
    "voltage_dv",
    "current_ma",
    "import_wh_total",
    "quality",
    "flags",
    "received_at",
)
_VALUES = _STORED[2:]


def _stored(row: Any) -> StoredReading:
    """A row selected as `_STORED` (its columns in that order)."""
    meter_id, start, wh, vah, export, voltage, current, total, quality, flags, received = row
    return StoredReading(
        meter_id=meter_id,
        interval_start=start,
        import_wh=wh,
        import_vah=vah,
        export_wh=export,
        voltage_dv=voltage,
        current_ma=current,
        import_wh_total=total,
        quality=quality,
        flags=flags,
        received_at=received,
    )


def _columns(reading: StoredReading) -> dict[str, Any]:
    return {c: getattr(reading, c) for c in _STORED}


def copy_rows(conn: Connection, rows: Sequence[IntervalRow], now: datetime) -> bool:
    """COPY readings straight in, if none of them is stored yet (the usual case); False, with
    nothing written, if some (meter, interval) already is."""
    starts: dict[int, datetime] = {}
    cursor = conn.connection.cursor()
    try:
        cursor.execute("SAVEPOINT copy_readings")
        try:
            with cursor.copy(PG_COPY_READINGS) as copy:
                copy.set_types(PG_COPY_TYPES)
                for r in rows:
                    at = r.interval_start
                    start = starts.get(at) or starts.setdefault(at, utc_from_epoch(at))
                    copy.write_row(
                        (
                            r.meter_id,
                            start,
                            r.import_wh,
                            r.import_vah,
                            r.export_wh,
                            r.voltage_dv,
                            r.current_ma,
                            r.import_wh_total,
                            "actual",
                            now,
                            0,
                        )
                    )
        except psycopg.errors.UniqueViolation:
            cursor.execute("ROLLBACK TO SAVEPOINT copy_readings")
            return False
        cursor.execute("RELEASE SAVEPOINT copy_readings")
        return True
    finally:
        cursor.close()


class SqlReadings:
    """The `readings` table."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def store(self, rows: Sequence[IntervalRow], now: datetime) -> set[EpochKey]:
        if not rows:
            return set()
        if is_pg(self.conn):
            if copy_rows(self.conn, rows, now):
                return set()
            params: dict[str, Any] = READINGS.fields(rows)
            params["received_at"] = now
            return {(m, at) for m, at in raw(self.conn, _PG_INSERT_READINGS, params)}
        r = t.readings.c
        stmt = (
            sqlite.insert(t.readings)
            .on_conflict_do_nothing(index_elements=["meter_id", "interval_start"])
            .returning(r.meter_id, r.interval_start)
        )
        full = [
            {
                "meter_id": row.meter_id,
                "interval_start": utc_from_epoch(row.interval_start),
                "import_wh": row.import_wh,
                "import_vah": row.import_vah,
                "export_wh": row.export_wh,
                "voltage_dv": row.voltage_dv,
                "current_ma": row.current_ma,
                "import_wh_total": row.import_wh_total,
                "quality": Quality.ACTUAL.value,
                "received_at": now,
            }
            for row in rows
        ]
        fresh = {(m, epoch(at)) for m, at in self.conn.execute(stmt, full)}
        return {row.key for row in rows} - fresh

    def around(self, keys: Iterable[ReadingKey]) -> dict[ReadingKey, StoredReading]:
        by_meter: dict[str, list[datetime]] = {}
        for meter_id, start in keys:
            by_meter.setdefault(meter_id, []).append(start)
        if not by_meter:
            return {}
        lo = min(min(v) for v in by_meter.values()) - INTERVAL
        hi = max(max(v) for v in by_meter.values())
        r = t.readings.c
        q = sa.select(*(r[c] for c in _STORED)).where(
            among(self.conn, r.meter_id, sorted(by_meter)), r.interval_start.between(lo, hi)
        )
        return {(row[0], row[1]): _stored(row) for row in self.conn.execute(q).all()}

    def at(self, keys: Iterable[ReadingKey]) -> dict[ReadingKey, StoredReading]:
        wanted = set(keys)
        return {k: row for k, row in self.around(wanted).items() if k in wanted}

    def replace(self, readings: Sequence[StoredReading]) -> None:
        if not readings:
            return
        r = t.readings.c
        stmt = (
            t.readings.update()
            .where(r.meter_id == sa.bindparam("k_meter"), r.interval_start == sa.bindparam("k_start"))
            .values(**{c: sa.bindparam(f"v_{c}") for c in _VALUES})
        )
        self.conn.execute(
            stmt,
            [
                {"k_meter": x.meter_id, "k_start": x.interval_start, **{f"v_{c}": getattr(x, c) for c in _VALUES}}
                for x in readings
            ],
        )

    def set_flags(self, flags: Sequence[tuple[str, datetime, int]]) -> None:
        if not flags:
            return
        r = t.readings.c
        stmt = (
            t.readings.update()
            .where(r.meter_id == sa.bindparam("k_meter"), r.interval_start == sa.bindparam("k_start"))
            .values(flags=sa.bindparam("v_flags"))
        )
        self.conn.execute(stmt, [{"k_meter": m, "k_start": at, "v_flags": f} for m, at, f in sorted(flags)])

    def registers_at(self, keys: Iterable[ReadingKey]) -> dict[ReadingKey, int]:
        wanted = set(keys)
        if not wanted:
            return {}
        r = t.readings.c
        q = sa.select(r.meter_id, r.interval_start, r.import_wh_total).where(
            r.meter_id.in_(sorted({m for m, _ in wanted})),
            r.interval_start.in_(sorted({s for _, s in wanted})),
            r.quality == Quality.ACTUAL.value,
        )
        found = {(row.meter_id, row.interval_start): row.import_wh_total for row in self.conn.execute(q)}
        return {k: v for k, v in found.items() if k in wanted}

    def incomplete_meters(self, first: datetime, last: datetime, expected: int) -> list[str]:
        r, m = t.readings.c, t.meters.c
        counts = (
            sa.select(r.meter_id, sa.func.count().label("n"), sa.func.min(r.interval_start).label("since"))
            .where(r.interval_start >= first, r.interval_start <= last)
            .group_by(r.meter_id)
            .subquery()
        )
        n = sa.func.coalesce(counts.c.n, 0)
        short = self.conn.execute(
            sa.select(m.meter_id, n, counts.c.since)
            .select_from(t.meters.outerjoin(counts, counts.c.meter_id == m.meter_id))
            .where(m.status == MeterStatus.COMMISSIONED.value, n < expected)
            .order_by(m.meter_id)
        ).all()
        late = sorted(meter for meter, _, since in short if since is None or since > first)
        earlier: set[str] = set()
        for chunk in range(0, len(late), 1000):  # which of those reported before the window
            part = late[chunk : chunk + 1000]
            before = sa.exists().where(r.meter_id == m.meter_id, r.interval_start < first)
            earlier.update(self.conn.execute(sa.select(m.meter_id).where(m.meter_id.in_(part), before)).scalars())

        def missing(meter: str, count: int, since: datetime | None) -> bool:
            if meter in earlier:
                return True
            return since is not None and count < (last - max(first, since)) // INTERVAL + 1  # from its first

        return [meter for meter, count, since in short if missing(meter, count, since)]

    def between(self, meter_ids: Sequence[str], first: datetime, last: datetime) -> dict[str, list[StoredReading]]:
        r = t.readings.c
        q = (
            sa.select(*(r[c] for c in _STORED))
            .where(r.meter_id.in_(list(meter_ids)), r.interval_start >= first, r.interval_start <= last)
            .order_by(r.meter_id, r.interval_start)
        )
        found: dict[str, list[StoredReading]] = {}
        for row in self.conn.execute(q):
            found.setdefault(row.meter_id, []).append(_stored(row))
        return found

    def add_estimates(self, readings: Sequence[StoredReading]) -> set[ReadingKey]:
        if not readings:
            return set()
        r = t.readings.c
        dialect = postgresql if is_pg(self.conn) else sqlite
        stmt = (
            dialect.insert(t.readings)
            .on_conflict_do_nothing(index_elements=["meter_id", "interval_start"])
            .returning(r.meter_id, r.interval_start)
        )
        return {(row.meter_id, row.interval_start) for row in self.conn.execute(stmt, [_columns(x) for x in readings])}


class SqlReadingEdits:
    """The `reading_edits` table: the audit of every estimate, replacement and flag."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def record(self, edits: Sequence[ReadingEdit]) -> None:
        if edits:
            self.conn.execute(
                t.reading_edits.insert(),
                [
                    {
                        "meter_id": e.meter_id,
                        "interval_start": e.interval_start,
                        "action": e.action.value,
                        "before": e.before,
                        "after": e.after,
                        "reason": e.reason,
                        "at": e.at,
                    }
                    for e in edits
                ],
            )


class SqlDailyUsage:
    """The `meter_daily` table: each meter's actual energy per IST day, and its intervals
    received within 8 h and 24 h of the day's end (the collection report's figures)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, days: Sequence[DayUsage]) -> None:
        if not days:
            return
        merged: dict[tuple[str, Any], dict[str, Any]] = {}  # one row per (meter, day) per statement
        for d in days:
            into = merged.get((d.meter_id, d.day))
            if into is None:
                merged[(d.meter_id, d.day)] = {
                    "meter_id": d.meter_id,
                    "day": d.day,
                    "wh": d.wh,
                    "intervals": d.intervals,
                    "last_received_at": d.last_received_at,
                    "in_8h": d.in_8h,
                    "in_24h": d.in_24h,
                }
            else:
                into["wh"] += d.wh
                into["intervals"] += d.intervals
                into["last_received_at"] = max(into["last_received_at"], d.last_received_at)
                into["in_8h"] += d.in_8h
                into["in_24h"] += d.in_24h
        rows = list(merged.values())
        if is_pg(self.conn):  # one statement over arrays
            raw(self.conn, _PG_ADD_DAILY, DAILY.params(rows))
            return
        stmt = sqlite.insert(t.meter_daily)
        stmt = stmt.on_conflict_do_update(
            index_elements=["meter_id", "day"],
            set_={
                "wh": t.meter_daily.c.wh + stmt.excluded.wh,
                "intervals": t.meter_daily.c.intervals + stmt.excluded.intervals,
                "last_received_at": stmt.excluded.last_received_at,
                "in_8h": t.meter_daily.c.in_8h + stmt.excluded.in_8h,
                "in_24h": t.meter_daily.c.in_24h + stmt.excluded.in_24h,
            },
        )
        self.conn.execute(stmt, rows)
