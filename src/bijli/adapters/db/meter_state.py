"""The meter_state table group: what the head-end keeps of each meter between frames (frame
counters, last seen, the newest status report) and what settlement and VEE read of it.

On PostgreSQL a batch's counters and status reports go in by one ``UPDATE … FROM unnest(…)``,
so a meter that sent both a reading and a status report gets one new row version, not two.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bijli.adapters.db import schema as t
from bijli.adapters.db.arrays import Columns, literal
from bijli.adapters.db.sql import among, is_pg, raw
from bijli.headend.model import MeterRecord
from bijli.headend.records import CounterUpdate, StatusReport
from bijli.kernel.time import utc_from_epoch
from bijli.mdm.ports import MeterSupply
from bijli.prepaid.model import Connection as Supply
from bijli.prepaid.tariff import Tariff

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
STATUS_VALUES = tuple(n for n, _ in STATUS.columns[2:])
"""The meter_state columns a status report sets (besides its frame counter)."""
_PG_UPDATE_STATUS = (
    "UPDATE meter_state AS s SET status_fc = u.b_fc, "
    + ", ".join(f"{n} = {STATUS.value(n)}" for n in STATUS_VALUES)
    + f" FROM {STATUS.source()} WHERE s.meter_id = u.b_meter AND s.status_fc < u.b_fc"
)
METERS = Columns(COUNTERS.columns + STATUS.columns[1:])
_NEWER_STATUS = "u.b_fc > s.status_fc"
_PG_UPDATE_METERS = (
    "UPDATE meter_state AS s SET last_fc = u.last_fc, fc_window = u.fc_window, last_seen = %(now)s, "
    f"last_interval = GREATEST(s.last_interval, {METERS.value('latest')}), "
    f"status_fc = CASE WHEN {_NEWER_STATUS} THEN u.b_fc ELSE s.status_fc END, "
    + ", ".join(f"{n} = CASE WHEN {_NEWER_STATUS} THEN {METERS.value(n)} ELSE s.{n} END" for n in STATUS_VALUES)
    + f" FROM {METERS.source()} WHERE s.meter_id = u.meter_id"
)
_PG_COUNTERS = (
    "SELECT s.meter_id, m.status, s.last_fc, s.fc_window FROM meter_state AS s "
    "JOIN meters AS m ON m.meter_id = s.meter_id "
    "WHERE s.meter_id = ANY(CAST(%(ids)s AS text[])) ORDER BY s.meter_id FOR UPDATE OF s"
)


def _status_row(r: StatusReport) -> dict[str, Any]:
    return {
        "b_meter": r.meter_id,
        "b_fc": r.fc,
        "active_sim": r.active_sim,
        "operator": r.operator,
        "rssi_dbm": r.rssi_dbm,
        "relay": r.relay,
        "balance_mirror_paise": r.balance_mirror_paise,
        "failovers": r.failovers,
        "sim1_s": r.sim1_s,
        "sim2_s": r.sim2_s,
        "switched_at": r.switched_at,
    }


class SqlMeterState:
    """The `meter_state` table, with the meters and accounts it is read beside."""

    def __init__(self, conn: Connection, tariffs: Mapping[str, Tariff]) -> None:
        self.conn = conn
        self._tariffs = tariffs

    def counters_for(self, meter_ids: Iterable[str]) -> dict[str, MeterRecord]:
        ids = sorted(set(meter_ids))
        if not ids:
            return {}
        if is_pg(self.conn):
            return {
                m: MeterRecord(m, status, last_fc, None, fc_window=window)
                for m, status, last_fc, window in raw(self.conn, _PG_COUNTERS, {"ids": literal("text", ids)})
            }
        return {m: MeterRecord(m, s.status, s.last_fc, None, fc_window=s.fc_window) for m, s in self._rows(ids)}

    def supplies(self, meter_ids: Iterable[str]) -> dict[str, MeterSupply]:
        ids = sorted(set(meter_ids))
        if not ids:
            return {}
        s, a = t.meter_state.c, t.accounts.c
        q = (
            sa.select(s.meter_id, s.relay, a.account_no, a.sanctioned_load_w, a.tariff_code)
            .join(t.accounts, a.meter_id == s.meter_id, isouter=True)
            .where(among(self.conn, s.meter_id, ids))
        )
        tariffs = self._tariffs
        return {
            m: MeterSupply(
                m,
                None
                if account_no is None
                else Supply(account_no=account_no, meter_id=m, sanctioned_load_w=load, tariff=tariffs[code]),
                relay,
            )
            for m, relay, account_no, load, code in self.conn.execute(q).all()
        }

    def _rows(self, ids: list[str]) -> list[tuple[str, MeterRecord]]:
        if not ids:
            return []
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
            .order_by(t.meters.c.meter_id)
        )
        found = []
        for row in self.conn.execute(q).all():
            supply = None
            if row.account_no is not None:
                supply = Supply(
                    account_no=row.account_no,
                    meter_id=row.meter_id,
                    sanctioned_load_w=row.sanctioned_load_w,
                    tariff=self._tariffs[row.tariff_code],
                )
            record = MeterRecord(
                row.meter_id, row.status, row.last_fc, supply, fc_window=row.fc_window, relay=row.relay
            )
            found.append((row.meter_id, record))
        return found

    def last_seen(self, meter_ids: Sequence[str]) -> dict[str, datetime | None]:
        s = t.meter_state.c
        q = sa.select(s.meter_id, s.last_seen).where(s.meter_id.in_(list(meter_ids)))
        return {row.meter_id: row.last_seen for row in self.conn.execute(q)}

    def update(self, counters: Sequence[CounterUpdate], statuses: Sequence[StatusReport], now: datetime) -> None:
        if not is_pg(self.conn):
            self._counters_row_by_row(counters, now)
            self._status([_status_row(r) for r in statuses])
            return
        by_meter = {r.meter_id: r for r in statuses}
        if counters:
            ids = [c.meter_id for c in counters]
            params: dict[str, Any] = COUNTERS.fields(counters)
            rows = [_status_row(by_meter[m]) if m in by_meter else None for m in ids]
            for name, kind in STATUS.columns[1:]:
                params[name] = literal(kind, [None if row is None else row[name] for row in rows])
            raw(self.conn, _PG_UPDATE_METERS, {**params, "now": now})
            for m in ids:
                by_meter.pop(m, None)
        self._status([_status_row(r) for r in by_meter.values()])  # none: a status report comes with its counter

    def _counters_row_by_row(self, counters: Sequence[CounterUpdate], now: datetime) -> None:
        if not counters:
            return
        s = t.meter_state.c
        self.conn.execute(
            t.meter_state.update()
            .where(s.meter_id == sa.bindparam("b_meter"))
            .values(last_fc=sa.bindparam("b_fc"), fc_window=sa.bindparam("b_window"), last_seen=now),
            [{"b_meter": c.meter_id, "b_fc": c.last_fc, "b_window": c.fc_window} for c in counters],
        )
        latest = [c for c in counters if c.latest is not None]
        if not latest:
            return
        new = sa.bindparam("b_interval", type_=t.UtcDateTime())
        self.conn.execute(  # late data never moves a meter's latest interval back
            t.meter_state.update()
            .where(s.meter_id == sa.bindparam("b_meter"))
            .values(
                last_interval=sa.case((s.last_interval.is_(None) | (s.last_interval < new), new), else_=s.last_interval)
            ),
            [{"b_meter": c.meter_id, "b_interval": utc_from_epoch(c.latest)} for c in latest if c.latest is not None],
        )

    def _status(self, rows: Sequence[dict[str, Any]]) -> None:
        """Status reports, each taken only if newer than the stored one."""
        if not rows:
            return
        if is_pg(self.conn):
            raw(self.conn, _PG_UPDATE_STATUS, STATUS.params(rows))
            return
        s = t.meter_state.c
        stmt = (
            t.meter_state.update()
            .where(s.meter_id == sa.bindparam("b_meter"), s.status_fc < sa.bindparam("b_fc"))
            .values(status_fc=sa.bindparam("b_fc"), **{c: sa.bindparam(c) for c in STATUS_VALUES})
        )
        self.conn.execute(
            stmt,
            [
                {**row, "switched_at": None if row["switched_at"] is None else utc_from_epoch(row["switched_at"])}
                for row in rows
            ],
        )
