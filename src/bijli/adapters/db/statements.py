"""What a statement and the account ledger read: the account's holder, its balance before a
moment, and its entries in a window (each at the moment it is for).

A day not closed yet is not on the ledger: its running charge (`day_charges`, less what of it
is posted) is read as the entry it will become (id 0: not posted yet), so a statement of a
month in progress ends at the balance the consumer sees (docs/billing.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bijli.adapters.db import schema as t
from bijli.adapters.db.charging import SqlDayCharges
from bijli.adapters.db.sql import among
from bijli.kernel.time import ist_day, ist_midnight
from bijli.prepaid.charging import closing_entry
from bijli.prepaid.statement import ARREARS, ARREARS_RECOVERY, Fitted, Holder, Posted
from bijli.prepaid.tariff import Tariff


def _first_day_from(moment: datetime) -> date:
    """The first IST day whose midnight is at or after `moment` (a day's charge is for its midnight)."""
    day = ist_day(moment)
    return day if ist_midnight(day) >= moment else day + timedelta(days=1)


def _for(l: sa.ColumnCollection[str, sa.ColumnElement[object]]) -> sa.ColumnElement[datetime]:  # noqa: E741
    """The moment an entry is for: its interval's or day's start, else when it was posted."""
    return sa.func.coalesce(l.period_start, l.posted_at, type_=t.UtcDateTime())


class SqlStatementBooks:
    """The ledger and accounts, read for statements (in the caller's transaction)."""

    def __init__(self, conn: Connection, tariffs: Mapping[str, Tariff]) -> None:
        self.conn = conn
        self.tariffs = tariffs

    def holders(self, account_nos: Sequence[str], start: datetime, end: datetime) -> dict[str, Holder]:
        if not account_nos:
            return {}
        a, c, i = t.accounts.c, t.consumers.c, t.installations.c
        fitted: dict[str, list[Fitted]] = {}
        installed = (
            sa.select(i.account_no, i.meter_id, i.installed_at, i.removed_at)
            .where(
                among(self.conn, i.account_no, list(account_nos)),
                i.installed_at < end,
                sa.or_(i.removed_at.is_(None), i.removed_at > start),
            )
            .order_by(i.account_no, i.installed_at, i.id)
        )
        for r in self.conn.execute(installed):
            fitted.setdefault(r.account_no, []).append(
                Fitted(meter_id=r.meter_id, installed_at=r.installed_at, removed_at=r.removed_at)
            )
        rows = self.conn.execute(
            sa.select(a.account_no, a.consumer_name, a.meter_id, a.sanctioned_load_w, a.tariff_code, c.language)
            .select_from(t.accounts.outerjoin(t.consumers, c.consumer_id == a.consumer_id))
            .where(among(self.conn, a.account_no, list(account_nos)))
        )
        return {
            r.account_no: Holder(
                account_no=r.account_no,
                consumer_name=r.consumer_name,
                meter_id=r.meter_id,
                sanctioned_load_w=r.sanctioned_load_w,
                tariff=self.tariffs[r.tariff_code],
                language=r.language or "en",
                meters=tuple(fitted.get(r.account_no, ())),
            )
            for r in rows
        }

    def balances_before(self, account_nos: Sequence[str], moment: datetime) -> dict[str, tuple[int, int]]:
        if not account_nos:
            return {}
        l = t.ledger.c  # noqa: E741 - the ledger's columns
        balance = sa.case((l.kind == ARREARS, 0), else_=l.amount_paise)
        owed = sa.case((l.kind == ARREARS, -l.amount_paise), (l.kind == ARREARS_RECOVERY, l.amount_paise), else_=0)
        q = (
            sa.select(l.account_no, sa.func.sum(balance), sa.func.sum(owed))
            .where(among(self.conn, l.account_no, list(account_nos)), _for(l) < moment)
            .group_by(l.account_no)
        )
        found = {account: (int(b), int(o)) for account, b, o in self.conn.execute(q)}
        d = t.day_charges.c
        running = dict(
            self.conn.execute(
                sa.select(d.account_no, sa.func.sum(d.charge_paise - d.posted_paise))
                .where(among(self.conn, d.account_no, list(account_nos)), d.day < _first_day_from(moment))
                .where(sa.text(t.DAY_OPEN))
                .group_by(d.account_no)
            ).all()
        )
        return {
            account: (found.get(account, (0, 0))[0] - int(running.get(account, 0)), found.get(account, (0, 0))[1])
            for account in account_nos
        }

    def entries_between(
        self, account_nos: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[tuple[int, Posted]]]:
        found: dict[str, list[tuple[int, Posted]]] = {a: [] for a in account_nos}
        if not account_nos:
            return found
        l = t.ledger.c  # noqa: E741 - the ledger's columns
        at = _for(l)
        q = (
            sa.select(
                l.id,
                l.account_no,
                l.kind,
                l.amount_paise,
                l.reference,
                at.label("at"),
                l.posted_at,
                l.energy_wh,
                l.duty_paise,
            )
            .where(among(self.conn, l.account_no, list(account_nos)), at >= start, at < end)
            .order_by(l.account_no, at, l.id)
        )
        for r in self.conn.execute(q):
            found[r.account_no].append(
                (
                    int(r.id),
                    Posted(
                        kind=r.kind,
                        amount_paise=int(r.amount_paise),
                        reference=r.reference,
                        at=r.at,
                        posted_at=r.posted_at,
                        energy_wh=r.energy_wh,
                        duty_paise=None if r.duty_paise is None else int(r.duty_paise),
                    ),
                )
            )
        days = SqlDayCharges(self.conn).open_between(list(account_nos), _first_day_from(start), _first_day_from(end))
        for day in days:
            entry = closing_entry(day)
            moment = ist_midnight(day.day)
            found[day.account_no].append(
                (
                    0,
                    Posted(
                        kind=entry.kind.value,
                        amount_paise=entry.amount_paise,
                        reference=entry.reference,
                        at=moment,
                        posted_at=moment,
                        energy_wh=entry.energy_wh,
                        duty_paise=entry.duty_paise,
                    ),
                )
            )
        for entries in found.values():
            entries.sort(key=lambda e: e[1].at)  # stable: the ledger's order within a moment
        return found
