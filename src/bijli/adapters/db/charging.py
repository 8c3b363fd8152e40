"""What charging reads and writes besides the ledger: the accounts' installations, registers
from before a month, and each account's running charge per day (`day_charges`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from types import ModuleType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bijli.adapters.db import schema as t
from bijli.adapters.db.arrays import Columns
from bijli.adapters.db.sql import among, is_pg, raw
from bijli.adapters.db.supply import mark_charged, mark_due
from bijli.kernel.time import INTERVAL
from bijli.mdm.model import Quality
from bijli.prepaid.charging import Account, DayCharge, Installation, Metered, MonthOpening, OpenDay
from bijli.prepaid.ports import DayKey
from bijli.prepaid.tariff import Tariff

LastBefore = tuple[str, datetime, datetime]


class SqlRegisters:
    """Registers and actual readings from `readings`, as charging asks for them."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def last_before(self, keys: Iterable[LastBefore]) -> dict[LastBefore, MonthOpening]:
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        if is_pg(self.conn):  # one statement: a month's first round opens every account's month
            rows = raw(
                self.conn,
                "SELECT k.meter_id, k.installed, k.start, r.import_wh_total, r.interval_start "
                "FROM unnest(CAST(%(m)s AS text[]), CAST(%(i)s AS timestamptz[]), CAST(%(s)s AS timestamptz[])) "
                "AS k(meter_id, installed, start) CROSS JOIN LATERAL ("
                " SELECT import_wh_total, interval_start FROM readings WHERE meter_id = k.meter_id"
                " AND interval_start > k.installed - interval '15 minutes' AND interval_start < k.start"
                " AND quality = %(actual)s ORDER BY interval_start DESC LIMIT 1) r",
                {
                    "m": [m for m, _, _ in wanted],
                    "i": [i for _, i, _ in wanted],
                    "s": [s for _, _, s in wanted],
                    "actual": Quality.ACTUAL.value,
                },
            )
            # Aware datetimes compare (and hash) as instants, whatever zone the driver gives.
            return {(m, i, s): MonthOpening(int(total), at + INTERVAL) for m, i, s, total, at in rows}
        r = t.readings.c
        found = {}
        for key in wanted:
            meter, installed, start = key
            row = self.conn.execute(
                sa.select(r.import_wh_total, r.interval_start)
                .where(
                    r.meter_id == meter,
                    r.interval_start > installed - INTERVAL,
                    r.interval_start < start,
                    r.quality == Quality.ACTUAL.value,
                )
                .order_by(r.interval_start.desc())
                .limit(1)
            ).first()
            if row is not None:
                found[key] = MonthOpening(int(row.import_wh_total), row.interval_start + INTERVAL)
        return found

    def metered(self, meter_ids: Sequence[str], start: datetime, end: datetime) -> list[Metered]:
        if not meter_ids:
            return []
        r = t.readings.c
        q = (
            sa.select(r.meter_id, r.interval_start, r.import_wh, r.import_wh_total)
            .where(
                among(self.conn, r.meter_id, sorted(meter_ids)),
                r.interval_start >= start,
                r.interval_start < end,
                r.quality == Quality.ACTUAL.value,
            )
            .order_by(r.interval_start, r.meter_id)
        )
        return [Metered(m, at, int(wh), int(total)) for m, at, wh, total in self.conn.execute(q)]


class SqlInstallations:
    """The accounts a meter was installed on (`installations`), each with its connection
    (`accounts`) and every installation of it, oldest first."""

    def __init__(self, conn: Connection, tariffs: Mapping[str, Tariff]) -> None:
        self.conn = conn
        self._tariffs = tariffs

    def of_account(self, account_no: str) -> Account | None:
        return self._accounts(sa.select(sa.literal(account_no)).scalar_subquery()).get(account_no)

    def accounts_of(self, meter_ids: Iterable[str]) -> dict[str, Account]:
        ids = sorted(set(meter_ids))
        if not ids:
            return {}
        i = t.installations.c
        return self._accounts(
            sa.select(i.account_no).where(among(self.conn, i.meter_id, ids)).distinct().scalar_subquery()
        )

    def _accounts(self, held: sa.ScalarSelect[Any]) -> dict[str, Account]:
        i, a = t.installations.c, t.accounts.c
        q = (
            sa.select(
                a.account_no,
                a.sanctioned_load_w,
                a.tariff_code,
                i.meter_id,
                i.installed_at,
                i.opening_wh_total,
                i.removed_at,
                i.closing_wh_total,
                i.reason,
            )
            .join(t.installations, i.account_no == a.account_no)
            .where(a.account_no.in_(held))
            .order_by(a.account_no, i.installed_at, i.id)
        )
        rows: dict[str, list[Any]] = {}
        for r in self.conn.execute(q).all():
            rows.setdefault(r.account_no, []).append(r)
        return {
            account_no: Account(
                account_no=account_no,
                sanctioned_load_w=found[0].sanctioned_load_w,
                tariff=self._tariffs[found[0].tariff_code],
                installations=tuple(
                    Installation(
                        account_no=account_no,
                        meter_id=r.meter_id,
                        installed_at=r.installed_at,
                        opening_wh_total=int(r.opening_wh_total),
                        removed_at=r.removed_at,
                        closing_wh_total=None if r.closing_wh_total is None else int(r.closing_wh_total),
                        reason=r.reason,
                    )
                    for r in found
                ),
            )
            for account_no, found in rows.items()
        }


DAYS = Columns(
    (
        ("account_no", "text"),
        ("day", "date"),
        ("charge_paise", "int"),
        ("duty_paise", "int"),
        ("energy_wh", "int"),
        ("tariff_version", "text"),
        ("changed_at", "epoch"),
    )
)
_PG_ADD = (
    f"INSERT INTO day_charges ({', '.join(n for n, _ in DAYS.columns)}) "
    f"SELECT {DAYS.values()} FROM {DAYS.source()} ON CONFLICT (account_no, day) DO UPDATE SET "
    "charge_paise = day_charges.charge_paise + EXCLUDED.charge_paise, "
    "duty_paise = day_charges.duty_paise + EXCLUDED.duty_paise, "
    "energy_wh = day_charges.energy_wh + EXCLUDED.energy_wh, "
    "tariff_version = EXCLUDED.tariff_version, pending = true, changed_at = EXCLUDED.changed_at"
)


class SqlDayCharges:
    """The `day_charges` table: each account's running charge per day, and what is posted."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def known(self, keys: Iterable[DayKey]) -> set[DayKey]:
        wanted = set(keys)
        if not wanted:
            return set()
        d = t.day_charges.c
        q = sa.select(d.account_no, d.day).where(
            among(self.conn, d.account_no, sorted({a for a, _ in wanted})), d.day.in_(sorted({x for _, x in wanted}))
        )
        return {(a, x) for a, x in self.conn.execute(q).all()} & wanted

    def add(self, days: Sequence[DayCharge], now: datetime) -> None:
        if not days:
            return
        rows = sorted((_row(x, now) for x in days), key=lambda r: (r["account_no"], r["day"]))  # one lock order
        grown: dict[str, int] = {}
        for x in days:
            grown[x.account_no] = grown.get(x.account_no, 0) + x.charge_paise
        mark_charged(self.conn, grown, now)  # the running balance fell: supply looks if it matters
        if is_pg(self.conn):
            raw(self.conn, _PG_ADD, DAYS.params(rows))
            return
        stmt = sqlite.insert(t.day_charges)
        stmt = stmt.on_conflict_do_update(
            index_elements=["account_no", "day"],
            set_={
                "charge_paise": t.day_charges.c.charge_paise + stmt.excluded.charge_paise,
                "duty_paise": t.day_charges.c.duty_paise + stmt.excluded.duty_paise,
                "energy_wh": t.day_charges.c.energy_wh + stmt.excluded.energy_wh,
                "tariff_version": stmt.excluded.tariff_version,
                "pending": sa.true(),
                "changed_at": stmt.excluded.changed_at,
            },
        )
        self.conn.execute(stmt, rows)

    def put(self, days: Sequence[DayCharge], now: datetime) -> None:
        if not days:
            return
        rows = sorted((_row(x, now) for x in days), key=lambda r: (r["account_no"], r["day"]))
        mark_due(self.conn, (x.account_no for x in days), now)
        dialect = _dialect(self.conn)
        stmt = dialect.insert(t.day_charges)
        changed = ("charge_paise", "duty_paise", "energy_wh", "tariff_version", "changed_at")
        stmt = stmt.on_conflict_do_update(
            index_elements=["account_no", "day"],
            set_={**{k: getattr(stmt.excluded, k) for k in changed}, "pending": sa.true()},
        )
        self.conn.execute(stmt, rows)

    def due(self, through: date, quiet_since: datetime, limit: int) -> list[OpenDay]:
        d = t.day_charges.c
        q = (
            sa.select(t.day_charges)
            .where(d.day <= through, d.pending, sa.or_(d.changed_at.is_(None), d.changed_at <= quiet_since))
            .order_by(d.day, d.account_no)
            .limit(limit)
        )
        if is_pg(self.conn):
            q = q.with_for_update(skip_locked=True)
        return [_open_day(r) for r in self.conn.execute(q)]

    def open_between(self, account_nos: Sequence[str], first: date, end: date) -> list[OpenDay]:
        """These accounts' days in [first, end) whose charge is not all on the ledger (read only)."""
        if not account_nos:
            return []
        d = t.day_charges.c
        q = (
            sa.select(t.day_charges)
            .where(among(self.conn, d.account_no, list(account_nos)), d.day >= first, d.day < end, d.pending)
            .order_by(d.account_no, d.day)
        )
        return [_open_day(r) for r in self.conn.execute(q)]

    def history(self, account_nos: Sequence[str], first: date, last: date) -> dict[str, dict[date, tuple[int, int]]]:
        if not account_nos:
            return {}
        d = t.day_charges.c
        q = sa.select(d.account_no, d.day, d.charge_paise, d.energy_wh).where(
            among(self.conn, d.account_no, sorted(set(account_nos))), d.day >= first, d.day <= last
        )
        found: dict[str, dict[date, tuple[int, int]]] = {}
        for account_no, day, paise, wh in self.conn.execute(q):
            found.setdefault(account_no, {})[day] = (int(paise), int(wh))
        return found

    def posted(self, days: Sequence[OpenDay]) -> None:
        if not days:
            return
        d = t.day_charges.c
        self.conn.execute(
            t.day_charges.update()
            .where(d.account_no == sa.bindparam("k_account"), d.day == sa.bindparam("k_day"))
            .values(
                posted_paise=sa.bindparam("k_charge"),
                posted_duty_paise=sa.bindparam("k_duty"),
                posted_energy_wh=sa.bindparam("k_energy"),
                postings=d.postings + 1,
                pending=False,
            ),
            [
                {
                    "k_account": x.account_no,
                    "k_day": x.day,
                    "k_charge": x.charge_paise,
                    "k_duty": x.duty_paise,
                    "k_energy": x.energy_wh,
                }
                for x in days
            ],
        )


def _open_day(r: Any) -> OpenDay:
    return OpenDay(
        account_no=r.account_no,
        day=r.day,
        charge_paise=int(r.charge_paise),
        duty_paise=int(r.duty_paise),
        energy_wh=int(r.energy_wh),
        tariff_version=r.tariff_version,
        posted_paise=int(r.posted_paise),
        posted_duty_paise=int(r.posted_duty_paise),
        posted_energy_wh=int(r.posted_energy_wh),
        postings=int(r.postings),
    )


def _row(day: DayCharge, now: datetime) -> dict[str, object]:
    return {
        "changed_at": now,
        "account_no": day.account_no,
        "day": day.day,
        "charge_paise": day.charge_paise,
        "duty_paise": day.duty_paise,
        "energy_wh": day.energy_wh,
        "tariff_version": day.tariff_version,
    }


def _dialect(conn: Connection) -> ModuleType:
    return postgresql if is_pg(conn) else sqlite


def running_charges(account_no: sa.ColumnElement[str]) -> sa.ScalarSelect[int]:
    """For a query over accounts: what the account's days have charged beyond the ledger (paise)."""
    d = t.day_charges.c
    return (
        sa.select(sa.func.coalesce(sa.func.sum(d.charge_paise - d.posted_paise), 0))
        .where(d.account_no == account_no)
        .scalar_subquery()
    )


def open_charges() -> sa.Select[Any]:
    """What all days not closed yet have charged beyond the ledger (paise)."""
    d = t.day_charges.c
    return sa.select(sa.func.coalesce(sa.func.sum(d.charge_paise - d.posted_paise), 0)).where(d.pending)
