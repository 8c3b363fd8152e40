"""PostgreSQL's readings by month: partitions made ahead, listed, and old months retired.

Readings are range-partitioned on ``interval_start``, one partition per IST calendar month
(the utility's billing month), so a month is stored, indexed, maintained and finally dropped
as one piece: retention is a ``DROP TABLE`` of a month, never a ``DELETE`` of millions of rows,
and a query for one meter's day reads only the month it falls in.

A ``DEFAULT`` partition takes any reading whose month has no partition yet (a meter whose clock
is years off, late data for a month already retired, a partition job that did not run): the
head-end must never fail a batch, and so never leave a meter's frames unacknowledged, for want
of a partition. When that month's partition is made later, its rows move out of the default.

SQLite has no partitions; these functions are for PostgreSQL stores only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bijli.kernel.time import IST

TABLE = "readings"
DEFAULT_PARTITION = f"{TABLE}_default"
MONTHS_BEHIND = 1
MONTHS_AHEAD = 3
LOCK_KEY = "bijli.readings.partitions"
"""Advisory lock taken while partitions change, so two jobs never race each other."""
LOCK_TIMEOUT = "10s"
"""How long a change waits for the table's lock before it gives up (and leaves ingest alone)."""

_BOUNDS = re.compile(r"FOR VALUES FROM \('([^']+)'\) TO \('([^']+)'\)")


class NotPartitioned(RuntimeError):
    """The store's readings table is not partitioned (SQLite, or a schema before 0004)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Partition:
    """One partition of the readings table: a month, or the default that takes the rest."""

    name: str
    start: datetime | None
    """First instant it holds (UTC); None for the default partition."""
    end: datetime | None
    """First instant after it (UTC); None for the default partition."""
    rows_estimate: int
    """The planner's row count (-1 until the partition was first analysed)."""
    bytes: int
    """Table, indexes and TOAST on disk."""

    @property
    def month(self) -> str:
        """``YYYY-MM`` of the IST month it holds, or ``DEFAULT``."""
        return "DEFAULT" if self.start is None else month_of(self.start).strftime("%Y-%m")


@dataclass(frozen=True, slots=True, kw_only=True)
class Retention:
    """What a retention run dropped (or, in a dry run, would drop)."""

    cutoff: datetime
    """Readings before this instant (the start of an IST month) are retired."""
    dropped: list[Partition]
    default_rows_deleted: int
    dry_run: bool


def month_of(moment: datetime) -> date:
    """The first day of the IST month a moment falls in."""
    day = moment.astimezone(IST).date()
    return day.replace(day=1)


def add_months(month: date, n: int) -> date:
    """The first day of the month `n` months after (or before) `month`."""
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def month_start(month: date) -> datetime:
    """Midnight IST on the first of `month`, as aware UTC."""
    return datetime(month.year, month.month, 1, tzinfo=IST).astimezone(UTC)


def partition_name(month: date) -> str:
    return f"{TABLE}_p{month.year:04d}_{month.month:02d}"


def window(now: datetime, behind: int = MONTHS_BEHIND, ahead: int = MONTHS_AHEAD) -> list[date]:
    """The months from `behind` before the current IST month to `ahead` after it."""
    current = month_of(now)
    return [add_months(current, n) for n in range(-behind, ahead + 1)]


def is_partitioned(conn: Connection) -> bool:
    """Whether this store's readings table is partitioned (PostgreSQL from revision 0004)."""
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.execute(
        sa.text("SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(:t)"), {"t": TABLE}
    ).scalar()
    return kind == "p"


def _require(conn: Connection) -> None:
    if conn.dialect.name != "postgresql":
        raise NotPartitioned(f"this store is {conn.dialect.name}: one readings table; partitions are for PostgreSQL")
    if not is_partitioned(conn):
        raise NotPartitioned("the readings table is not partitioned yet: run `bijli db upgrade` first")


def partitions(conn: Connection) -> list[Partition]:
    """The readings table's partitions, months in order, the default last."""
    _require(conn)
    rows = conn.execute(
        sa.text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), c.reltuples::bigint, "
            "pg_total_relation_size(c.oid) "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:t)"
        ),
        {"t": TABLE},
    ).all()
    found = []
    for name, bound, tuples, size in rows:
        start = end = None
        match = _BOUNDS.search(bound)
        if match:
            start, end = (datetime.fromisoformat(v).astimezone(UTC) for v in match.groups())
        found.append(Partition(name=name, start=start, end=end, rows_estimate=int(tuples), bytes=int(size)))
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(found, key=lambda p: (p.start or far, p.name))


def _lock(conn: Connection) -> None:
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": LOCK_KEY})
    conn.execute(sa.text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))


def ensure(conn: Connection, months: Iterable[date]) -> list[str]:
    """Make the partitions of `months` that are missing; the names of those made.

    Runs in the caller's transaction. A new month's table is made on its own, filled with any
    of its readings that went to the default partition meanwhile, then attached: attaching
    locks the parent far more lightly than ``CREATE TABLE … PARTITION OF``, so ingest goes on.
    """
    _require(conn)
    _lock(conn)
    existing = partitions(conn)
    has_default = any(p.start is None for p in existing)
    made = []
    for month in sorted(set(months)):
        lo, hi = month_start(month), month_start(add_months(month, 1))
        if any(p.start is not None and p.end is not None and p.start < hi and lo < p.end for p in existing):
            continue
        name = partition_name(month)
        bounds = {"lo": lo, "hi": hi}
        conn.execute(sa.text(f'CREATE TABLE "{name}" (LIKE "{TABLE}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)'))
        if has_default:
            conn.execute(
                sa.text(
                    f'WITH moved AS (DELETE FROM "{DEFAULT_PARTITION}" '
                    "WHERE interval_start >= :lo AND interval_start < :hi RETURNING *) "
                    f'INSERT INTO "{name}" SELECT * FROM moved'
                ),
                bounds,
            )
        conn.execute(
            sa.text(f'ALTER TABLE "{TABLE}" ATTACH PARTITION "{name}" FOR VALUES FROM ({_ts(lo)}) TO ({_ts(hi)})')
        )
        made.append(name)
    return made


def ensure_default(conn: Connection) -> bool:
    """Make the default partition if it is missing; whether it was made."""
    _require(conn)
    if any(p.start is None for p in partitions(conn)):
        return False
    _lock(conn)
    conn.execute(sa.text(f'CREATE TABLE "{DEFAULT_PARTITION}" PARTITION OF "{TABLE}" DEFAULT'))
    return True


def retire(conn: Connection, keep_months: int, now: datetime, *, dry_run: bool = False) -> Retention:
    """Detach and drop the month partitions that end before the last `keep_months` months.

    The current IST month is never counted and never touched: with ``keep_months=3`` in
    November, August, September and October are kept along with November itself, and July and
    earlier go. Readings that old waiting in the default partition are deleted too. Nothing
    newer than the cut-off is touched. Runs in the caller's transaction.
    """
    if keep_months < 1:
        raise ValueError("keep at least one month besides the current one")
    _require(conn)
    _lock(conn)
    cutoff = month_start(add_months(month_of(now), -keep_months))
    old = [p for p in partitions(conn) if p.end is not None and p.end <= cutoff]
    count = f'SELECT count(*) FROM "{DEFAULT_PARTITION}" WHERE interval_start < :cutoff'
    has_default = conn.execute(sa.text("SELECT to_regclass(:d) IS NOT NULL"), {"d": DEFAULT_PARTITION}).scalar()
    strays = int(conn.execute(sa.text(count), {"cutoff": cutoff}).scalar_one()) if has_default else 0
    if not dry_run:
        for p in old:
            conn.execute(sa.text(f'ALTER TABLE "{TABLE}" DETACH PARTITION "{p.name}"'))
            conn.execute(sa.text(f'DROP TABLE "{p.name}"'))
        if strays:
            conn.execute(
                sa.text(f'DELETE FROM "{DEFAULT_PARTITION}" WHERE interval_start < :cutoff'), {"cutoff": cutoff}
            )
    return Retention(cutoff=cutoff, dropped=old, default_rows_deleted=strays, dry_run=dry_run)


def _ts(moment: datetime) -> str:
    """A UTC instant as a SQL literal (partition bounds take no bind parameters)."""
    return "'" + moment.astimezone(UTC).isoformat() + "'"
