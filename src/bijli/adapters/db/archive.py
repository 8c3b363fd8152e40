"""A closed month of readings moved out of PostgreSQL into Parquet files, and read back.

`archive_month` writes one IST month's readings (PostgreSQL; the month's partition, see
`partitions`) to Parquet (zstd), a file per range of meters, each sorted by meter then
interval so that every column compresses: the meter id is dictionary-coded (one run per
meter), times and the cumulative register are delta-coded. Before the partition is dropped
every file is read back and checked against the source: PostgreSQL adds up each meter's rows
(count and the sum of every column) in the same range and the file's figures must be equal
meter by meter. The files (path, rows, bytes, meters, checksum of the per-meter figures) are
recorded in ``reading_archives``, in the same transaction that drops the partition.

`ArchiveReader` answers a meter's readings from the files, reading only the row groups
whose meter range holds the meter (the files' own statistics), so the readings API goes on
answering for an archived month.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import itertools
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bijli.adapters.db import partitions
from bijli.adapters.db import schema as t
from bijli.adapters.db.archive_tables import reading_archives
from bijli.adapters.db.settlement_queue import _decoder as _queue_decoder

METERS_PER_FILE = 2000
ROW_GROUP = 65_536
"""Rows per row group: a meter's day is read by decompressing one group (or two)."""
ZSTD_LEVEL = 9

_INT_COLUMNS = ("import_wh", "import_vah", "export_wh", "voltage_dv", "current_ma", "import_wh_total", "flags")
SCHEMA = pa.schema(
    [
        ("meter_id", pa.string()),
        ("interval_start", pa.timestamp("us", tz="UTC")),
        ("import_wh", pa.int32()),
        ("import_vah", pa.int32()),
        ("export_wh", pa.int32()),
        ("voltage_dv", pa.int32()),
        ("current_ma", pa.int32()),
        ("import_wh_total", pa.int64()),
        ("quality", pa.string()),
        ("received_at", pa.timestamp("us", tz="UTC")),
        ("flags", pa.int32()),
    ]
)
_CSV_TYPES = {
    "meter_id": pa.string(),
    "interval_start": pa.int64(),
    "received_at": pa.int64(),
    "quality": pa.string(),
    **{c: pa.int64() for c in _INT_COLUMNS},
}
_EXPORT = (
    "SELECT meter_id, (extract(epoch FROM interval_start) * 1000000)::bigint, import_wh, import_vah, "
    "export_wh, voltage_dv, current_ma, import_wh_total, quality, "
    "(extract(epoch FROM received_at) * 1000000)::bigint, flags FROM {table} WHERE {where}"
)
_SUMS = (
    "SELECT meter_id, count(*), sum((extract(epoch FROM interval_start) * 1000000)::bigint), "
    + ", ".join(f"sum({c})" for c in _INT_COLUMNS)
    + ", sum((extract(epoch FROM received_at) * 1000000)::bigint), "
    "sum(length(quality) + ascii(quality)) FROM {table} WHERE {where} GROUP BY meter_id"
)
_DIGEST_FIELDS = ("rows", "interval_start", *_INT_COLUMNS, "received_at", "quality")


class ArchiveRefused(RuntimeError):
    """The month cannot be archived (open, unsettled, already archived, or not there)."""


class ArchiveMismatch(RuntimeError):
    """A written file does not match the source: nothing was dropped."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveFile:
    path: str
    first_meter: str
    last_meter: str
    meters: int
    rows: int
    bytes: int
    checksum: str
    """sha256 of the file's per-meter figures (rows and the sum of each column), as verified."""


@dataclass(slots=True, kw_only=True)
class ArchiveResult:
    month: str
    partition: str
    rows: int = 0
    source_bytes: int = 0
    files: list[ArchiveFile] = field(default_factory=list)
    dropped: bool = False

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    @property
    def bytes_per_reading(self) -> float:
        return self.bytes / self.rows if self.rows else 0.0


def parse_month(text: str) -> date:
    """``YYYY-MM`` as the first day of that month."""
    try:
        parsed = datetime.strptime(text, "%Y-%m")
    except ValueError as e:
        raise ArchiveRefused(f"--month must be YYYY-MM, not {text!r}") from e
    return parsed.date().replace(day=1)


def _refuse_open(conn: Connection, month: date, now: datetime) -> partitions.Partition:
    label = f"{month:%Y-%m}"
    if month >= partitions.month_of(now):
        raise ArchiveRefused(f"{label} is not closed yet (it is {partitions.month_of(now):%Y-%m} in IST): not archived")
    lo, hi = partitions.month_start(month), partitions.month_start(partitions.add_months(month, 1))
    done = conn.execute(sa.select(sa.func.count()).where(reading_archives.c.month == label)).scalar_one()
    if done:
        raise ArchiveRefused(f"{label} is archived already")
    found = [p for p in partitions.partitions(conn) if p.start == lo and p.end == hi]
    if not found:
        raise ArchiveRefused(f"{label} has no partition of its own: nothing to archive")
    lo_s, hi_s = int(lo.timestamp()), int(hi.timestamp())
    for (blob,) in conn.execute(sa.select(t.settlement_queue.c.readings)):
        if any(lo_s <= at < hi_s for _, at, _ in _queue_decoder.decode(blob)):
            raise ArchiveRefused(f"{label} has readings still waiting for settlement: not archived")
    return found[0]


def _ranges(conn: Connection, per_file: int) -> list[tuple[str | None, str | None]]:
    """Meter-id ranges [lo, hi) covering every id (None: unbounded), `per_file` meters each."""
    ids = conn.execute(sa.text("SELECT meter_id FROM meters ORDER BY meter_id")).scalars().all()
    cuts = [ids[i] for i in range(per_file, len(ids), per_file)]
    bounds: list[str | None] = [None, *cuts, None]
    return list(itertools.pairwise(bounds))


def _where(lo: str | None, hi: str | None) -> tuple[str, dict[str, str]]:
    parts, params = ["true"], {}
    if lo is not None:
        parts.append("meter_id >= :lo")
        params["lo"] = lo
    if hi is not None:
        parts.append("meter_id < :hi")
        params["hi"] = hi
    return " AND ".join(parts), params


def _literal(where: str, params: dict[str, str]) -> str:
    for k, v in params.items():
        where = where.replace(f":{k}", "'" + v.replace("'", "''") + "'")
    return where


class _CopyStream(io.RawIOBase):
    """A COPY TO's output as a file, for pyarrow's CSV reader."""

    def __init__(self, chunks: Iterator[Any]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while len(self._buffer) < len(b):
            batch = [bytes(c) for _, c in zip(range(4096), self._chunks, strict=False)]
            if not batch:
                break
            self._buffer += b"".join(batch)
        n = min(len(b), len(self._buffer))
        b[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


def _export(conn: Connection, table: str, where: str) -> pa.Table:
    raw = conn.connection.dbapi_connection
    assert raw is not None
    sql = f"COPY ({_EXPORT.format(table=table, where=where)}) TO STDOUT (FORMAT csv)"
    with raw.cursor() as cur, cur.copy(sql) as copy:  # type: ignore[attr-defined]
        stream = io.BufferedReader(_CopyStream(iter(copy)), buffer_size=1 << 20)
        options = pacsv.ReadOptions(column_names=list(SCHEMA.names), block_size=1 << 24)
        table_ = pacsv.read_csv(
            stream, read_options=options, convert_options=pacsv.ConvertOptions(column_types=_CSV_TYPES)
        )
    return _typed(table_)


def _typed(raw: pa.Table) -> pa.Table:
    columns = []
    for f in SCHEMA:
        column = raw.column(f.name)
        column = column.cast(pa.timestamp("us")).cast(f.type) if pa.types.is_timestamp(f.type) else column.cast(f.type)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=SCHEMA).sort_by(
        [("meter_id", "ascending"), ("interval_start", "ascending")]
    )


def file_figures(table: pa.Table) -> dict[str, tuple[int, ...]]:
    """Each meter's rows and the sum of every column, as PostgreSQL adds them up."""
    quality = pc.add(pc.utf8_length(table.column("quality")), _first_code(table.column("quality")))
    work = pa.table(
        {
            "meter_id": table.column("meter_id"),
            "interval_start": table.column("interval_start").cast(pa.int64()),
            **{c: table.column(c).cast(pa.int64()) for c in _INT_COLUMNS},
            "received_at": table.column("received_at").cast(pa.int64()),
            "quality": quality.cast(pa.int64()),
        }
    )
    summed = ["interval_start", *_INT_COLUMNS, "received_at", "quality"]
    grouped = work.group_by("meter_id").aggregate([("meter_id", "count"), *[(c, "sum") for c in summed]])
    meters = grouped.column("meter_id").to_pylist()
    counts = grouped.column("meter_id_count").to_pylist()
    sums = [grouped.column(f"{c}_sum").to_pylist() for c in summed]
    return {m: (counts[i], *(s[i] for s in sums)) for i, m in enumerate(meters)}


def _first_code(column: pa.ChunkedArray) -> pa.ChunkedArray:
    values = column.unique().to_pylist()
    codes = {v: ord(v[0]) if v else 0 for v in values}
    return pc.take(pa.array([codes[v] for v in values], pa.int64()), pc.index_in(column, pa.array(values)))


def _source_figures(conn: Connection, table: str, where: str, params: dict[str, str]) -> dict[str, tuple[int, ...]]:
    rows = conn.execute(sa.text(_SUMS.format(table=table, where=where)), params).all()
    return {m: tuple(int(v) for v in rest) for m, *rest in rows}


def _checksum(figures: dict[str, tuple[int, ...]]) -> str:
    text = json.dumps({"fields": _DIGEST_FIELDS, "meters": sorted(figures.items())}, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _write(table: pa.Table, path: Path) -> None:
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(
        table,
        tmp,
        compression="zstd",
        compression_level=ZSTD_LEVEL,
        row_group_size=ROW_GROUP,
        use_dictionary=["meter_id", "quality"],
        column_encoding={
            "interval_start": "DELTA_BINARY_PACKED",
            "received_at": "DELTA_BINARY_PACKED",
            "import_wh_total": "DELTA_BINARY_PACKED",
        },
        write_statistics=["meter_id", "interval_start"],
    )
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    tmp.replace(path)


def archive_month(
    engine: Engine,
    month: date,
    directory: Path,
    now: datetime,
    *,
    meters_per_file: int = METERS_PER_FILE,
    progress: Callable[[int, int, int], None] | None = None,
) -> ArchiveResult:
    """Write `month` to Parquet under `directory`, verify, record it and drop its partition.

    `progress(files_done, files, rows_so_far)` is called after each file. Raises
    `ArchiveRefused` for an open month and `ArchiveMismatch` when a file does not read back as
    the source; in both cases the partition stays.
    """
    label = f"{month:%Y-%m}"
    with engine.connect() as conn:
        part = _refuse_open(conn, month, now)
        ranges = _ranges(conn, meters_per_file)
        source_rows = int(conn.execute(sa.text(f'SELECT count(*) FROM "{part.name}"')).scalar_one())
    result = ArchiveResult(month=label, partition=part.name, source_bytes=part.bytes)
    target = directory / label
    target.mkdir(parents=True, exist_ok=True)
    for n, (lo, hi) in enumerate(ranges):
        where, params = _where(lo, hi)
        with engine.connect() as conn:
            conn.execute(sa.text("SET work_mem = '256MB'"))
            table = _export(conn, f'"{part.name}"', _literal(where, params))
            source = _source_figures(conn, f'"{part.name}"', where, params)
            conn.rollback()
        if table.num_rows:
            path = target / f"readings-{label}-{n:04d}.parquet"
            _write(table, path)
            written = file_figures(pq.read_table(path))
            if written != source:
                path.unlink()
                bad = sorted(set(written.items()) ^ set(source.items()))[:3]
                raise ArchiveMismatch(f"{path.name} does not match {part.name}: {bad}; the partition stays")
            meters = table.column("meter_id")
            result.files.append(
                ArchiveFile(
                    path=str(path.resolve()),
                    first_meter=str(meters[0]),
                    last_meter=str(meters[-1]),
                    meters=len(written),
                    rows=table.num_rows,
                    bytes=path.stat().st_size,
                    checksum=_checksum(written),
                )
            )
            result.rows += table.num_rows
        elif source:
            raise ArchiveMismatch(f"the export of {part.name} for meters [{lo}, {hi}) came back empty")
        if progress:
            progress(n + 1, len(ranges), result.rows)
    with engine.begin() as conn:
        partitions._lock(conn)
        again = int(conn.execute(sa.text(f'SELECT count(*) FROM "{part.name}"')).scalar_one())
        if again != source_rows or result.rows != source_rows:
            raise ArchiveMismatch(
                f"{part.name} holds {again:,} readings, {source_rows:,} when the archive began and "
                f"{result.rows:,} in the files; the partition stays"
            )
        conn.execute(
            reading_archives.insert(),
            [
                {
                    "month": label,
                    "path": f.path,
                    "first_meter": f.first_meter,
                    "last_meter": f.last_meter,
                    "meters": f.meters,
                    "rows": f.rows,
                    "bytes": f.bytes,
                    "checksum": f.checksum,
                    "archived_at": now,
                }
                for f in result.files
            ],
        )
        conn.execute(sa.text(f'ALTER TABLE "{partitions.TABLE}" DETACH PARTITION "{part.name}"'))
        conn.execute(sa.text(f'DROP TABLE "{part.name}"'))
    result.dropped = True
    return result


# ---------------------------------------------------------------------- reading it back


@dataclass(frozen=True, slots=True)
class _Indexed:
    file: pq.ParquetFile
    firsts: list[str]
    lasts: list[str]


class ArchiveReader:
    """A meter's archived readings, from the files `reading_archives` records."""

    def __init__(self) -> None:
        self._files: dict[str, _Indexed] = {}
        self._lock = threading.Lock()

    def _open(self, path: str) -> _Indexed:
        with self._lock:
            found = self._files.get(path)
            if found is None:
                pf = pq.ParquetFile(path)
                column = pf.schema_arrow.get_field_index("meter_id")
                firsts, lasts = [], []
                for i in range(pf.metadata.num_row_groups):
                    stats = pf.metadata.row_group(i).column(column).statistics
                    firsts.append(str(stats.min))
                    lasts.append(str(stats.max))
                found = self._files[path] = _Indexed(pf, firsts, lasts)
            return found

    def readings(self, conn: Connection, meter_id: str, start: datetime, end: datetime) -> pa.Table | None:
        """The meter's archived rows with interval_start in [start, end), or None if none apply."""
        a = reading_archives.c
        lo_month = f"{partitions.month_of(start):%Y-%m}"
        hi_month = f"{partitions.month_of(end):%Y-%m}"
        paths = (
            conn.execute(
                sa.select(a.path).where(
                    a.month >= lo_month, a.month <= hi_month, a.first_meter <= meter_id, a.last_meter >= meter_id
                )
            )
            .scalars()
            .all()
        )
        if not paths:
            return None
        tables = []
        for path in paths:
            ix = self._open(path)
            left = bisect.bisect_left(ix.lasts, meter_id)
            groups = []
            for g in range(left, len(ix.firsts)):
                if ix.firsts[g] > meter_id:
                    break
                groups.append(g)
            if not groups:
                continue
            part = ix.file.read_row_groups(groups)
            mask = pc.and_(
                pc.equal(part.column("meter_id"), meter_id),
                pc.and_(
                    pc.greater_equal(
                        part.column("interval_start"),
                        pa.scalar(start.astimezone(UTC), SCHEMA.field("interval_start").type),
                    ),
                    pc.less(
                        part.column("interval_start"),
                        pa.scalar(end.astimezone(UTC), SCHEMA.field("interval_start").type),
                    ),
                ),
            )
            tables.append(part.filter(mask))
        return pa.concat_tables(tables) if tables else None
