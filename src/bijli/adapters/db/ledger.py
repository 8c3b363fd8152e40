"""The ledger table group: the append-only ledger and each account's billing months."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bijli.adapters.db import schema as t
from bijli.adapters.db.arrays import Columns
from bijli.adapters.db.sql import among, insert_ignoring, is_pg, raw
from bijli.adapters.db.supply import mark_due
from bijli.prepaid.charging import MonthOpening
from bijli.prepaid.model import LedgerEntry
from bijli.prepaid.ports import MonthKey

LEDGER = Columns(
    (
        ("account_no", "text"),
        ("kind", "text"),
        ("amount_paise", "int"),
        ("reference", "text"),
        ("period_start", "epoch"),
        ("energy_wh", "int"),
        ("duty_paise", "int"),
        ("tariff_version", "text"),
    )
)
_PG_POST = (
    f"INSERT INTO ledger ({', '.join(n for n, _ in LEDGER.columns)}, posted_at) "
    f"SELECT {LEDGER.values()}, %(now)s FROM {LEDGER.source()} ON CONFLICT (reference) DO NOTHING"
)


class SqlLedger:
    """The `ledger` table; every entry's reference is unique, so each effect posts once."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def post(self, entries: Sequence[LedgerEntry], now: datetime) -> None:
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
                "tariff_version": e.tariff_version,
                "posted_at": now,
            }
            for e in entries
        ]
        mark_due(self.conn, (e.account_no for e in entries), now)  # a balance changed: supply looks again
        if is_pg(self.conn):  # one statement over arrays: settlement posts thousands at a time
            raw(self.conn, _PG_POST, {**LEDGER.params(rows), "now": now})
            return
        insert_ignoring(self.conn, t.ledger, rows, ["reference"])


class SqlBillingMonths:
    """The `billing_months` table: the register each account's month counts from."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def claim(self, candidates: Mapping[MonthKey, MonthOpening]) -> dict[MonthKey, MonthOpening]:
        if not candidates:
            return {}
        keys = sorted(candidates)
        insert_ignoring(
            self.conn,
            t.billing_months,
            [
                {
                    "account_no": a,
                    "month": m,
                    "opening_wh_total": candidates[(a, m)].wh_total,
                    "opening_read_at": candidates[(a, m)].read_at,
                }
                for a, m in keys
            ],
            ["account_no", "month"],
        )
        known = self.opened(keys)
        return {k: known[k] for k in candidates}

    def opened(self, keys: Iterable[MonthKey]) -> dict[MonthKey, MonthOpening]:
        wanted = set(keys)
        if not wanted:
            return {}
        b = t.billing_months.c
        q = (
            sa.select(b.account_no, b.month, b.opening_wh_total, b.opening_read_at)
            .where(among(self.conn, b.account_no, sorted({a for a, _ in wanted})), b.month.in_({m for _, m in wanted}))
            .order_by(b.account_no, b.month)  # locked in one order: no deadlock
        )
        if is_pg(self.conn):
            q = q.with_for_update()
        found = {
            (r.account_no, r.month): MonthOpening(int(r.opening_wh_total), r.opening_read_at)
            for r in self.conn.execute(q).all()
        }
        return {k: v for k, v in found.items() if k in wanted}

    def move(self, openings: Mapping[MonthKey, MonthOpening]) -> None:
        if not openings:
            return
        b = t.billing_months.c
        self.conn.execute(
            t.billing_months.update()
            .where(b.account_no == sa.bindparam("b_account"), b.month == sa.bindparam("b_month"))
            .values(opening_wh_total=sa.bindparam("b_total"), opening_read_at=sa.bindparam("b_at")),
            [
                {"b_account": a, "b_month": m, "b_total": o.wh_total, "b_at": o.read_at}
                for (a, m), o in sorted(openings.items())
            ],
        )
