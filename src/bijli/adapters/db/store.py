"""The store's queries and writes. Every write of a batch runs in one transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from bijli.adapters.db import schema as t
from bijli.adapters.db.arrays import Columns, literal
from bijli.headend.meters import MeterStatus
from bijli.headend.model import MeterRecord
from bijli.kernel.time import INTERVAL, epoch, ist_day, month_key, utc_from_epoch
from bijli.prepaid.model import CHARGE_KINDS, EntryKind, LedgerEntry
from bijli.prepaid.model import Connection as Supply
from bijli.prepaid.tariff import Tariff
from bijli.protocol.frames import REGISTER_MODULUS

CHARGE_KIND_VALUES = tuple(k.value for k in CHARGE_KINDS)


def insert_ignoring(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]], keys: list[str]) -> None:
    """Insert rows, leaving any whose key is already stored as it is."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).on_conflict_do_nothing(index_elements=keys)
    conn.execute(stmt, list(rows))


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterRegistration:
    """A meter and its consumer's account, as commissioned (a transformer's meter has none)."""

    meter_id: str
    area: str
    feeder: str
    transformer: str
    phases: int
    installed_at: datetime
    account_no: str | None = None
    consumer_name: str = ""
    mobile: str = ""
    tariff_code: str = ""
    sanctioned_load_w: int = 0
    initial_register_wh: int | None = None
    """The import register at installation: the first month's charges count from it."""


READING_VALUES = (
    "import_wh",
    "import_vah",
    "export_wh",
    "voltage_dv",
    "current_ma",
    "import_wh_total",
    "quality",
    "received_at",
    "flags",
)


SETTLEMENT_CHUNK = 500
"""Readings per settlement queue row: a settlement transaction stays short (a fraction of a
second) however large the ingest batch was, so new messages never wait long behind one."""
_settlement_keys = msgspec.msgpack.Encoder()
_settlement_decoder = msgspec.msgpack.Decoder(list[tuple[str, int, int]])


def among(conn: Connection, column: sa.ColumnElement[Any], values: Sequence[Any]) -> sa.ColumnElement[bool]:
    """`column` is one of `values`: one array parameter on PostgreSQL (a plan that does not
    grow with the list), a list of parameters elsewhere."""
    if conn.dialect.name == "postgresql":
        return column == sa.any_(sa.literal(list(values), postgresql.ARRAY(column.type)))
    return column.in_(values)


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
_PG_INSERT_READINGS = (
    f"WITH u AS (SELECT {READINGS.values()} FROM {READINGS.source()}), "
    f"fresh AS (INSERT INTO readings ({', '.join(n for n, _ in READINGS.columns)}, quality, received_at, flags) "
    "SELECT u.*, 'actual', %(received_at)s, 0 FROM u "
    "ON CONFLICT (meter_id, interval_start) DO NOTHING RETURNING meter_id, interval_start) "
    "SELECT u.meter_id, extract(epoch FROM u.interval_start)::bigint FROM u LEFT JOIN fresh "
    "ON fresh.meter_id = u.meter_id AND fresh.interval_start = u.interval_start WHERE fresh.meter_id IS NULL"
)
_PG_COPY_READINGS = (
    f"COPY readings ({', '.join(n for n, _ in READINGS.columns)}, quality, received_at, flags) "
    "FROM STDIN (FORMAT BINARY)"
)
_PG_COPY_TYPES = [
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
COUNTERS = Columns((("meter_id", "text"), ("last_fc", "int"), ("fc_window", "int"), ("latest", "epoch")))
STATUS = Columns(
    (
        ("b_meter", "text"),
        ("b_fc", "int"),
        ("active_sim", "int"),
        ("operator", "text"),
        ("rssi_dbm", "int"),
        ("relay", "int"),
        ("balance_mirror_paise", "int"),
        ("failovers", "int"),
        ("sim1_s", "int"),
        ("sim2_s", "int"),
        ("switched_at", "epoch"),
    )
)
_PG_UPDATE_STATUS = (
    "UPDATE meter_state AS s SET status_fc = u.b_fc, "
    + ", ".join(f"{n} = {STATUS.value(n)}" for n, _ in STATUS.columns[2:])
    + f" FROM {STATUS.source()} WHERE s.meter_id = u.b_meter AND s.status_fc < u.b_fc"
)
LEDGER = Columns(
    (
        ("account_no", "text"),
        ("kind", "text"),
        ("amount_paise", "int"),
        ("reference", "text"),
        ("period_start", "epoch"),
        ("energy_wh", "int"),
        ("duty_paise", "int"),
    )
)
_PG_POST = (
    f"INSERT INTO ledger ({', '.join(n for n, _ in LEDGER.columns)}, posted_at) "
    f"SELECT {LEDGER.values()}, %(now)s FROM {LEDGER.source()} ON CONFLICT (reference) DO NOTHING"
)
DAILY = Columns(
    (("meter_id", "text"), ("day", "date"), ("wh", "int"), ("intervals", "int"), ("last_received_at", "epoch"))
)
_PG_ADD_DAILY = (
    f"INSERT INTO meter_daily ({', '.join(n for n, _ in DAILY.columns)}) "
    f"SELECT {DAILY.values()} FROM {DAILY.source()} ON CONFLICT (meter_id, day) DO UPDATE SET "
    "wh = meter_daily.wh + excluded.wh, intervals = meter_daily.intervals + excluded.intervals, "
    "last_received_at = excluded.last_received_at"
)
METERS = Columns(COUNTERS.columns + STATUS.columns[1:])
_NEWER_STATUS = "u.b_fc > s.status_fc"
_PG_UPDATE_METERS = (
    "UPDATE meter_state AS s SET last_fc = u.last_fc, fc_window = u.fc_window, last_seen = %(now)s, "
    f"last_interval = GREATEST(s.last_interval, {METERS.value('latest')}), "
    f"status_fc = CASE WHEN {_NEWER_STATUS} THEN u.b_fc ELSE s.status_fc END, "
    + ", ".join(f"{n} = CASE WHEN {_NEWER_STATUS} THEN {METERS.value(n)} ELSE s.{n} END" for n, _ in STATUS.columns[2:])
    + f" FROM {METERS.source()} WHERE s.meter_id = u.meter_id"
)
_PG_COUNTERS = (
    "SELECT s.meter_id, m.status, s.last_fc, s.fc_window FROM meter_state AS s "
    "JOIN meters AS m ON m.meter_id = s.meter_id "
    "WHERE s.meter_id = ANY(CAST(%(ids)s AS text[])) ORDER BY s.meter_id FOR UPDATE OF s"
)


def earliest(a: int, b: int) -> int:
    """Of two readings of a register that rolls over, the one taken first (they are close)."""
    return a if (b - a) % REGISTER_MODULUS < REGISTER_MODULUS // 2 else b


class StoreTx:
    """One transaction's worth of store operations."""

    def __init__(self, conn: Connection, tariffs: Mapping[str, Tariff]) -> None:
        self.conn = conn
        self._tariffs = tariffs

    @property
    def _pg(self) -> bool:
        return self.conn.dialect.name == "postgresql"

    def counters_for(self, meter_ids: Iterable[str]) -> dict[str, MeterRecord]:
        """What ingest needs of these meters (status and frame counters, no account), locked
        until commit in one order (workers never deadlock)."""
        ids = sorted(set(meter_ids))
        if not ids:
            return {}
        if not self._pg:
            return self.meter_records(ids)
        return {
            m: MeterRecord(m, status, last_fc, None, fc_window=window)
            for m, status, last_fc, window in self._raw(_PG_COUNTERS, {"ids": literal("text", ids)})
        }

    def _raw(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """A statement straight on the driver's cursor, in this transaction (hot paths)."""
        cursor = self.conn.connection.cursor()
        try:
            cursor.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []
        finally:
            cursor.close()

    def meter_records(self, meter_ids: Iterable[str], lock: bool = True) -> dict[str, MeterRecord]:
        """What the head-end knows of these meters; `lock` holds their counters until commit."""
        ids = sorted(set(meter_ids))
        if not ids:
            return {}
        q = (
            sa.select(
                t.meters.c.meter_id,
                t.meters.c.status,
                t.meter_state.c.last_fc,
                t.meter_state.c.fc_window,
                t.meter_state.c.relay,
                t.accounts.c.account_no,
                t.accounts.c.sanctioned_load_w,
                t.accounts.c.tariff_code,
            )
            .join(t.meter_state, t.meter_state.c.meter_id == t.meters.c.meter_id)
            .join(t.accounts, t.accounts.c.meter_id == t.meters.c.meter_id, isouter=True)
            .where(among(self.conn, t.meters.c.meter_id, ids))
            .order_by(t.meters.c.meter_id)  # workers lock meters in one order: no deadlock
        )
        if lock and self._pg:
            q = q.with_for_update(of=t.meter_state)
        found = {}
        for row in self.conn.execute(q):
            supply = None
            if row.account_no is not None:
                supply = Supply(
                    account_no=row.account_no,
                    meter_id=row.meter_id,
                    sanctioned_load_w=row.sanctioned_load_w,
                    tariff=self._tariffs[row.tariff_code],
                )
            found[row.meter_id] = MeterRecord(
                row.meter_id, row.status, row.last_fc, supply, fc_window=row.fc_window, relay=row.relay
            )
        return found

    def readings_around(self, keys: Iterable[tuple[str, datetime]]) -> dict[tuple[str, datetime], Any]:
        """Stored readings at these (meter, interval) keys and the interval before each."""
        by_meter: dict[str, list[datetime]] = {}
        for meter_id, start in keys:
            by_meter.setdefault(meter_id, []).append(start)
        if not by_meter:
            return {}
        lo = min(min(v) for v in by_meter.values()) - INTERVAL
        hi = max(max(v) for v in by_meter.values())
        r = t.readings.c
        q = sa.select(
            r.meter_id,
            r.interval_start,
            r.quality,
            r.import_wh,
            r.import_vah,
            r.export_wh,
            r.voltage_dv,
            r.current_ma,
            r.import_wh_total,
            r.flags,
        ).where(among(self.conn, r.meter_id, sorted(by_meter)), r.interval_start.between(lo, hi))
        return {(row.meter_id, row.interval_start): row for row in self.conn.execute(q)}

    def replace_readings(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Put actual readings in place of estimates."""
        if not rows:
            return
        r = t.readings.c
        values: dict[str, Any] = {c: sa.bindparam(f"v_{c}") for c in READING_VALUES}
        stmt = (
            t.readings.update()
            .where(r.meter_id == sa.bindparam("k_meter"), r.interval_start == sa.bindparam("k_start"))
            .values(**values)
        )
        self.conn.execute(
            stmt,
            [
                {
                    "k_meter": row["meter_id"],
                    "k_start": row["interval_start"],
                    **{f"v_{c}": row[c] for c in READING_VALUES},
                }
                for row in rows
            ],
        )

    def record_edits(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self.conn.execute(t.reading_edits.insert(), list(rows))

    def add_daily(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Add actual energy to each meter's day (rows: meter_id, day, wh, intervals, last_received_at)."""
        if not rows:
            return
        if self._pg:  # one statement over arrays, which must name each (meter, day) once
            merged: dict[tuple[str, Any], dict[str, Any]] = {}
            for row in rows:
                key = (row["meter_id"], row["day"])
                if key in merged:
                    into = merged[key]
                    into["wh"] += row["wh"]
                    into["intervals"] += row["intervals"]
                    into["last_received_at"] = max(into["last_received_at"], row["last_received_at"])
                else:
                    merged[key] = dict(row)
            self._raw(_PG_ADD_DAILY, DAILY.params(list(merged.values())))
            return
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(t.meter_daily)
        stmt = stmt.on_conflict_do_update(
            index_elements=["meter_id", "day"],
            set_={
                "wh": t.meter_daily.c.wh + stmt.excluded.wh,
                "intervals": t.meter_daily.c.intervals + stmt.excluded.intervals,
                "last_received_at": stmt.excluded.last_received_at,
            },
        )
        self.conn.execute(stmt, list(rows))

    def log_batch(self, row: Mapping[str, Any]) -> None:
        self.conn.execute(t.ingest_batches.insert(), [dict(row)])

    def insert_readings(self, rows: Sequence[Mapping[str, Any]]) -> None:
        insert_ignoring(self.conn, t.readings, rows, ["meter_id", "interval_start"])

    def store_readings(self, rows: Sequence[Mapping[str, Any]], now: datetime) -> set[tuple[str, int]]:
        """Insert actual readings (`interval_start` in epoch seconds) whose (meter, interval)
        is not stored yet; the keys of those that were (duplicates, or estimates to replace).

        On PostgreSQL the batch goes in by COPY when none of it is stored yet (the usual
        case), otherwise by one INSERT over arrays that passes over what is stored.
        """
        if not rows:
            return set()
        if self._pg:
            if self._copy_readings(rows, now):
                return set()
            params: dict[str, Any] = READINGS.params(rows)
            params["received_at"] = now
            return {(m, at) for m, at in self._raw(_PG_INSERT_READINGS, params)}
        r = t.readings.c
        stmt = (
            sqlite.insert(t.readings)
            .on_conflict_do_nothing(index_elements=["meter_id", "interval_start"])
            .returning(r.meter_id, r.interval_start)
        )
        full = [
            {**row, "interval_start": utc_from_epoch(row["interval_start"]), "quality": "actual", "received_at": now}
            for row in rows
        ]
        fresh = {(m, epoch(at)) for m, at in self.conn.execute(stmt, full)}
        return {(row["meter_id"], row["interval_start"]) for row in rows} - fresh

    def _copy_readings(self, rows: Sequence[Mapping[str, Any]], now: datetime) -> bool:
        """COPY the batch straight in, if none of it is stored yet (the usual case); False,
        with nothing written, if some (meter, interval) already is."""
        starts: dict[int, datetime] = {}
        cursor = self.conn.connection.cursor()
        try:
            cursor.execute("SAVEPOINT copy_readings")
            try:
                with cursor.copy(_PG_COPY_READINGS) as copy:
                    copy.set_types(_PG_COPY_TYPES)
                    for row in rows:
                        at = row["interval_start"]
                        start = starts.get(at) or starts.setdefault(at, utc_from_epoch(at))
                        copy.write_row(
                            (
                                row["meter_id"],
                                start,
                                row["import_wh"],
                                row["import_vah"],
                                row["export_wh"],
                                row["voltage_dv"],
                                row["current_ma"],
                                row["import_wh_total"],
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

    def readings_at(self, keys: Iterable[tuple[str, datetime]]) -> dict[tuple[str, datetime], Any]:
        """The stored readings at exactly these (meter, interval) keys."""
        wanted = set(keys)
        return {k: row for k, row in self.readings_around(wanted).items() if k in wanted}

    def set_flags(self, rows: Sequence[tuple[str, datetime, int]]) -> None:
        """Set the validation flags of these stored readings (meter, interval, flags)."""
        if not rows:
            return
        r = t.readings.c
        stmt = (
            t.readings.update()
            .where(r.meter_id == sa.bindparam("k_meter"), r.interval_start == sa.bindparam("k_start"))
            .values(flags=sa.bindparam("v_flags"))
        )
        self.conn.execute(stmt, [{"k_meter": m, "k_start": at, "v_flags": f} for m, at, f in sorted(rows)])

    def update_meters(
        self, counters: Sequence[Mapping[str, Any]], statuses: Sequence[Mapping[str, Any]], now: datetime
    ) -> None:
        """Per meter that sent an authentic frame (`counters`): `meter_id`, its frame counter
        and replay window (`last_fc`, `fc_window`) and its `latest` new interval (epoch
        seconds, or None), seen `now`; and the batch's newest status reports (`statuses`:
        `b_meter`, `b_fc`, columns), each taken only if newer than the stored one.

        On PostgreSQL one statement, so a meter that sent both a reading and a status report
        gets one new row version, not two.
        """
        if not self._pg:
            self._update_counters_row_by_row(counters, now)
            self.update_status(statuses)
            return
        by_meter = {row["b_meter"]: row for row in statuses}
        if counters:
            ids = [row["meter_id"] for row in counters]
            params: dict[str, Any] = COUNTERS.params(counters)
            for name, kind in STATUS.columns[1:]:
                params[name] = literal(kind, [by_meter[m][name] if m in by_meter else None for m in ids])
            self._raw(_PG_UPDATE_METERS, {**params, "now": now})
            for m in ids:
                by_meter.pop(m, None)
        self.update_status(list(by_meter.values()))  # none: a status report comes with its counter

    def _update_counters_row_by_row(self, rows: Sequence[Mapping[str, Any]], now: datetime) -> None:
        if not rows:
            return
        self.update_state(
            [
                {"b_meter": r["meter_id"], "last_fc": r["last_fc"], "fc_window": r["fc_window"], "last_seen": now}
                for r in rows
            ]
        )
        self.advance_last_interval(
            {r["meter_id"]: utc_from_epoch(r["latest"]) for r in rows if r["latest"] is not None}
        )

    def enqueue_settlement(self, items: Sequence[tuple[str, int, int]], now: datetime) -> None:
        """Leave these actual readings (meter, interval start, when the meter sent it; epoch
        seconds) for settlement: validation, charges, aggregates."""
        chunks = [items[at : at + SETTLEMENT_CHUNK] for at in range(0, len(items), SETTLEMENT_CHUNK)]
        if chunks:
            self.conn.execute(
                t.settlement_queue.insert(),
                [{"enqueued_at": now, "readings": _settlement_keys.encode(chunk)} for chunk in chunks],
            )

    def claim_settlement(self, limit: int) -> list[tuple[int, list[tuple[str, datetime, int]]]]:
        """The oldest waiting batches (up to `limit`), held until this transaction ends;
        batches another settler holds are passed over."""
        q = t.settlement_queue.c
        query = sa.select(q.id, q.readings).order_by(q.id).limit(limit)
        if self._pg:
            query = query.with_for_update(skip_locked=True)
        return [
            (row.id, [(m, utc_from_epoch(at), sent) for m, at, sent in _settlement_decoder.decode(row.readings)])
            for row in self.conn.execute(query)
        ]

    def settled(self, ids: Sequence[int]) -> None:
        if ids:
            self.conn.execute(t.settlement_queue.delete().where(t.settlement_queue.c.id.in_(ids)))

    def registers_at(self, keys: Iterable[tuple[str, datetime]]) -> dict[tuple[str, datetime], int]:
        """The import register at the end of these (meter, interval) readings, where stored."""
        wanted = set(keys)
        if not wanted:
            return {}
        r = t.readings.c
        q = sa.select(r.meter_id, r.interval_start, r.import_wh_total).where(
            r.meter_id.in_(sorted({m for m, _ in wanted})),
            r.interval_start.in_(sorted({s for _, s in wanted})),
            r.quality == "actual",
        )
        return {(row.meter_id, row.interval_start): row.import_wh_total for row in self.conn.execute(q)}

    def month_openings(self, candidates: Mapping[tuple[str, str], int]) -> dict[tuple[str, str], int]:
        """Each (account, month)'s register at the month's start: the earliest seen so far.

        The months' rows stay locked until commit (in one order), so two settlers never
        charge one account's month at once.
        """
        if not candidates:
            return {}
        keys = sorted(candidates)
        insert_ignoring(
            self.conn,
            t.billing_months,
            [{"account_no": a, "month": m, "opening_wh_total": candidates[(a, m)]} for a, m in keys],
            ["account_no", "month"],
        )
        b = t.billing_months.c
        q = (
            sa.select(b.account_no, b.month, b.opening_wh_total)
            .where(among(self.conn, b.account_no, sorted({a for a, _ in keys})), b.month.in_({m for _, m in keys}))
            .order_by(b.account_no, b.month)
        )
        if self._pg:
            q = q.with_for_update()
        known = {(r.account_no, r.month): r.opening_wh_total for r in self.conn.execute(q)}
        updates = []
        for key in keys:
            low = candidates[key]
            if earliest(low, known[key]) != known[key]:
                updates.append({"b_account": key[0], "b_month": key[1], "b_low": low})
                known[key] = low
        if updates:
            self.conn.execute(
                t.billing_months.update()
                .where(b.account_no == sa.bindparam("b_account"), b.month == sa.bindparam("b_month"))
                .values(opening_wh_total=sa.bindparam("b_low")),
                updates,
            )
        return {k: known[k] for k in candidates}

    def post(self, entries: Sequence[LedgerEntry], now: datetime) -> None:
        """Append ledger entries; an entry whose reference is already posted is left alone."""
        if not entries:
            return
        rows = [
            {
                "account_no": e.account_no,
                "kind": e.kind.value,
                "amount_paise": e.amount_paise,
                "reference": e.reference,
                "period_start": e.period_start,
                "energy_wh": e.energy_wh,
                "duty_paise": e.duty_paise,
                "posted_at": now,
            }
            for e in entries
        ]
        if self._pg:  # one statement over arrays: settlement posts thousands at a time
            self._raw(_PG_POST, {**LEDGER.params(rows), "now": now})
            return
        insert_ignoring(self.conn, t.ledger, rows, ["reference"])

    def insert_days(self, rows: Sequence[Mapping[str, Any]]) -> None:
        insert_ignoring(self.conn, t.daily_registers, rows, ["meter_id", "day_start"])

    def insert_redemptions(self, rows: Sequence[Mapping[str, Any]]) -> None:
        insert_ignoring(self.conn, t.token_redemptions, rows, ["meter_id", "token_id"])

    def insert_events(self, rows: Sequence[Mapping[str, Any]]) -> None:
        insert_ignoring(self.conn, t.events, rows, ["meter_id", "code", "occurred_at"])

    def quarantine(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self.conn.execute(t.quarantine.insert(), list(rows))

    def update_state(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Per meter: `b_meter` plus the meter_state columns to set."""
        groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
        for row in rows:
            groups.setdefault(tuple(sorted(row)), []).append(row)
        for columns, group in groups.items():
            values: dict[str, Any] = {c: sa.bindparam(c) for c in columns if c != "b_meter"}
            stmt = t.meter_state.update().where(t.meter_state.c.meter_id == sa.bindparam("b_meter"))
            self.conn.execute(stmt.values(**values), group)

    def update_status(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Status reports (`b_meter`, `b_fc`, columns), each taken only if newer than the stored one."""
        if not rows:
            return
        if self._pg:
            self._raw(_PG_UPDATE_STATUS, STATUS.params(rows))
            return
        s = t.meter_state.c
        columns = [c for c in rows[0] if not c.startswith("b_")]
        stmt = (
            t.meter_state.update()
            .where(s.meter_id == sa.bindparam("b_meter"), s.status_fc < sa.bindparam("b_fc"))
            .values(status_fc=sa.bindparam("b_fc"), **{c: sa.bindparam(c) for c in columns})
        )
        self.conn.execute(stmt, list(rows))

    def advance_last_interval(self, latest: Mapping[str, datetime]) -> None:
        """Move each meter's latest interval forward (late data never moves it back)."""
        if not latest:
            return
        s = t.meter_state.c
        new = sa.bindparam("b_interval", type_=t.UtcDateTime())
        stmt = (
            t.meter_state.update()
            .where(s.meter_id == sa.bindparam("b_meter"))
            .values(
                last_interval=sa.case((s.last_interval.is_(None) | (s.last_interval < new), new), else_=s.last_interval)
            )
        )
        self.conn.execute(stmt, [{"b_meter": m, "b_interval": at} for m, at in latest.items()])

    def register(
        self, registrations: Sequence[MeterRegistration], openings: Sequence[LedgerEntry], now: datetime
    ) -> int:
        """Commission meters with their accounts and opening balances; known ones are kept."""
        known = set(
            self.conn.execute(
                sa.select(t.meters.c.meter_id).where(t.meters.c.meter_id.in_([r.meter_id for r in registrations]))
            ).scalars()
        )
        fresh = [r for r in registrations if r.meter_id not in known]
        if not fresh:
            return 0
        self.conn.execute(
            t.meters.insert(),
            [
                {
                    "meter_id": r.meter_id,
                    "area": r.area,
                    "feeder": r.feeder,
                    "transformer": r.transformer,
                    "phases": r.phases,
                    "status": MeterStatus.COMMISSIONED.value,
                    "installed_at": r.installed_at,
                }
                for r in fresh
            ],
        )
        self.conn.execute(t.meter_state.insert(), [{"meter_id": r.meter_id, "last_fc": 0} for r in fresh])
        with_account = [r for r in fresh if r.account_no is not None]
        if not with_account:
            return len(fresh)
        self.conn.execute(
            t.accounts.insert(),
            [
                {
                    "account_no": r.account_no,
                    "meter_id": r.meter_id,
                    "consumer_name": r.consumer_name,
                    "mobile": r.mobile,
                    "tariff_code": r.tariff_code,
                    "sanctioned_load_w": r.sanctioned_load_w,
                    "opened_at": r.installed_at,
                }
                for r in with_account
            ],
        )
        fresh_accounts = {r.account_no for r in fresh}
        self.post([e for e in openings if e.account_no in fresh_accounts], now)
        insert_ignoring(
            self.conn,
            t.billing_months,
            [
                {
                    "account_no": r.account_no,
                    "month": month_key(ist_day(r.installed_at)),
                    "opening_wh_total": r.initial_register_wh,
                }
                for r in with_account
                if r.initial_register_wh is not None
            ],
            ["account_no", "month"],
        )
        return len(fresh)


class Store:
    """The store over one engine; `transaction()` gives a StoreTx."""

    def __init__(self, engine: Engine, tariffs: Mapping[str, Tariff]) -> None:
        self.engine = engine
        self.tariffs = tariffs

    @contextmanager
    def transaction(self) -> Iterator[StoreTx]:
        with self.engine.begin() as conn:
            yield StoreTx(conn, self.tariffs)

    def dispose(self) -> None:
        self.engine.dispose()


__all__ = ["CHARGE_KIND_VALUES", "EntryKind", "MeterRegistration", "Store", "StoreTx"]
