"""The accounts table group: consumers, their accounts, and meters' installations on them."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from bijli.accounts.model import Account, AccountStatus, AccountTerms, Consumer, Installation, Language
from bijli.adapters.db import schema as t
from bijli.adapters.db.sql import among, is_pg, raw
from bijli.prepaid.model import ARREARS_KINDS, EntryKind

ONBOARDING_LOCK = zlib.crc32(b"bijli/onboarding")
"""The PostgreSQL advisory lock onboarding holds for a unit of work."""
_ARREARS = [k.value for k in ARREARS_KINDS]
_PG_INSTALL = """
UPDATE accounts SET meter_id = v.meter_id
FROM unnest(%(accounts)s::text[], %(meters)s::text[]) AS v(account_no, meter_id)
WHERE accounts.account_no = v.account_no AND accounts.meter_id IS DISTINCT FROM v.meter_id
"""


def _among(conn: Connection, column: sa.ColumnElement[str], values: Sequence[str]) -> sa.ColumnElement[bool]:
    """`column` is one of `values`: on PostgreSQL a semi-join over the unnested array, which
    stays fast on a table whose statistics do not know yet how much it grew in this batch."""
    if is_pg(conn):
        listed = sa.literal(sorted(set(values)), postgresql.ARRAY(sa.String()))
        return column.in_(sa.select(sa.func.unnest(listed)).scalar_subquery())
    return among(conn, column, sorted(set(values)))


def _consumer(r: Any) -> Consumer:
    return Consumer(
        consumer_id=r.consumer_id,
        name=r.name,
        mobile=r.mobile,
        language=Language(r.language),
        address=r.address,
        created_at=r.created_at,
        email=r.email,
    )


def _account(r: Any) -> Account:
    return Account(
        account_no=r.account_no,
        consumer_id=r.consumer_id,
        terms=AccountTerms(
            tariff_code=r.tariff_code, sanctioned_load_w=r.sanctioned_load_w, arrears_share_pct=r.arrears_share_pct
        ),
        status=AccountStatus(r.status),
        meter_id=r.meter_id,
        opened_at=r.opened_at,
        closed_at=r.closed_at,
    )


def _installations() -> sa.Select[Any]:
    i = t.installations.c
    return sa.select(
        i.account_no, i.meter_id, i.installed_at, i.opening_wh_total, i.removed_at, i.closing_wh_total, i.reason
    )


class SqlAccounts:
    """The `consumers`, `accounts` and `installations` tables (and the ledger entries onboarding posts)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def hold(self) -> None:
        if is_pg(self.conn):
            self.conn.execute(sa.select(sa.func.pg_advisory_xact_lock(ONBOARDING_LOCK)))

    def consumers(self, consumer_ids: Sequence[str]) -> dict[str, Consumer]:
        if not consumer_ids:
            return {}
        c = t.consumers.c
        q = sa.select(t.consumers).where(_among(self.conn, c.consumer_id, consumer_ids))
        return {r.consumer_id: _consumer(r) for r in self.conn.execute(q)}

    def add_consumers(self, consumers: Sequence[Consumer]) -> None:
        if consumers:
            self.conn.execute(
                t.consumers.insert(),
                [
                    {
                        "consumer_id": c.consumer_id,
                        "name": c.name,
                        "mobile": c.mobile,
                        "language": c.language.value,
                        "address": c.address,
                        "created_at": c.created_at,
                        "email": c.email,
                    }
                    for c in consumers
                ],
            )

    def update_consumers(self, consumers: Sequence[Consumer]) -> None:
        if not consumers:
            return
        c, a = t.consumers.c, t.accounts.c
        rows: list[dict[str, str | None]] = [
            {
                "b_id": x.consumer_id,
                "b_name": x.name,
                "b_mobile": x.mobile,
                "b_language": x.language.value,
                "b_address": x.address,
                "b_email": x.email,
            }
            for x in consumers
        ]
        self.conn.execute(
            t.consumers.update()
            .where(c.consumer_id == sa.bindparam("b_id"))
            .values(
                name=sa.bindparam("b_name"),
                mobile=sa.bindparam("b_mobile"),
                language=sa.bindparam("b_language"),
                address=sa.bindparam("b_address"),
                email=sa.bindparam("b_email"),
            ),
            rows,
        )
        self.conn.execute(  # the name and SMS number the accounts' pages and messages use
            t.accounts.update()
            .where(a.consumer_id == sa.bindparam("b_id"))
            .values(consumer_name=sa.bindparam("b_name"), mobile=sa.bindparam("b_mobile")),
            [{"b_id": r["b_id"], "b_name": r["b_name"], "b_mobile": r["b_mobile"]} for r in rows],
        )

    def accounts(self, account_nos: Sequence[str]) -> dict[str, Account]:
        if not account_nos:
            return {}
        a = t.accounts.c
        q = sa.select(t.accounts).where(_among(self.conn, a.account_no, account_nos))
        return {r.account_no: _account(r) for r in self.conn.execute(q)}

    def accounts_of(self, consumer_id: str) -> list[Account]:
        a = t.accounts.c
        q = sa.select(t.accounts).where(a.consumer_id == consumer_id).order_by(a.account_no)
        return [_account(r) for r in self.conn.execute(q)]

    def open_accounts(self, accounts: Sequence[Account], holders: Mapping[str, Consumer]) -> None:
        if not accounts:
            return
        self.conn.execute(
            t.accounts.insert(),
            [
                {
                    "account_no": x.account_no,
                    "meter_id": x.meter_id,  # the meter its first installation puts on it
                    "consumer_id": x.consumer_id,
                    "consumer_name": holders[x.consumer_id].name,
                    "mobile": holders[x.consumer_id].mobile,
                    "tariff_code": x.terms.tariff_code,
                    "sanctioned_load_w": x.terms.sanctioned_load_w,
                    "arrears_share_pct": x.terms.arrears_share_pct,
                    "opened_at": x.opened_at,
                    "status": x.status.value,
                }
                for x in accounts
            ],
        )

    def set_terms(self, terms: Mapping[str, AccountTerms]) -> None:
        if not terms:
            return
        a = t.accounts.c
        self.conn.execute(
            t.accounts.update()
            .where(a.account_no == sa.bindparam("b_account"))
            .values(
                tariff_code=sa.bindparam("b_tariff"),
                sanctioned_load_w=sa.bindparam("b_load"),
                arrears_share_pct=sa.bindparam("b_share"),
            ),
            [
                {
                    "b_account": n,
                    "b_tariff": x.tariff_code,
                    "b_load": x.sanctioned_load_w,
                    "b_share": x.arrears_share_pct,
                }
                for n, x in sorted(terms.items())
            ],
        )

    def installed(self, meter_ids: Sequence[str]) -> dict[str, Installation]:
        if not meter_ids:
            return {}
        i = t.installations.c
        q = _installations().where(_among(self.conn, i.meter_id, meter_ids), i.removed_at.is_(None))
        return {r.meter_id: Installation(**r._asdict()) for r in self.conn.execute(q)}

    def _removed(self, column: sa.ColumnElement[str], ids: Sequence[str]) -> dict[str, datetime]:
        if not ids:
            return {}
        i = t.installations.c
        q = (
            sa.select(column, sa.func.max(i.removed_at, type_=t.UtcDateTime()))
            .where(_among(self.conn, column, ids), i.removed_at.is_not(None))
            .group_by(column)
        )
        utc = t.UtcDateTime()
        found = {}
        for key, at in self.conn.execute(q):
            moment = (
                at
                if isinstance(at, datetime) and at.tzinfo is not None
                else utc.process_result_value(at, self.conn.dialect)
            )
            assert moment is not None
            found[key] = moment
        return found

    def meters_removed(self, meter_ids: Sequence[str]) -> dict[str, datetime]:
        return self._removed(t.installations.c.meter_id, meter_ids)

    def accounts_removed(self, account_nos: Sequence[str]) -> dict[str, datetime]:
        return self._removed(t.installations.c.account_no, account_nos)

    def installations(self, account_no: str) -> list[Installation]:
        i = t.installations.c
        q = _installations().where(i.account_no == account_no).order_by(i.installed_at, i.id)
        return [Installation(**r._asdict()) for r in self.conn.execute(q)]

    def install(self, installations: Sequence[Installation]) -> None:
        if not installations:
            return
        self.conn.execute(
            t.installations.insert(),
            [
                {
                    "account_no": x.account_no,
                    "meter_id": x.meter_id,
                    "installed_at": x.installed_at,
                    "opening_wh_total": x.opening_wh_total,
                    "reason": x.reason,
                }
                for x in installations
            ],
        )
        if is_pg(self.conn):  # one statement: a sheet installs thousands at a time
            raw(
                self.conn,
                _PG_INSTALL,
                {"accounts": [x.account_no for x in installations], "meters": [x.meter_id for x in installations]},
            )
            return
        a = t.accounts.c
        self.conn.execute(
            t.accounts.update()
            .where(a.account_no == sa.bindparam("b_account"), a.meter_id.is_distinct_from(sa.bindparam("b_meter")))
            .values(meter_id=sa.bindparam("b_meter")),
            [{"b_account": x.account_no, "b_meter": x.meter_id} for x in installations],
        )

    def remove(self, meter_id: str, at: datetime, closing_wh_total: int, reason: str) -> None:
        i, a = t.installations.c, t.accounts.c
        self.conn.execute(
            t.installations.update()
            .where(i.meter_id == meter_id, i.removed_at.is_(None))
            .values(removed_at=at, closing_wh_total=closing_wh_total, reason=reason)
        )
        self.conn.execute(t.accounts.update().where(a.meter_id == meter_id).values(meter_id=None))

    def close(self, account_no: str, at: datetime) -> None:
        a = t.accounts.c
        self.conn.execute(
            t.accounts.update()
            .where(a.account_no == account_no)
            .values(status=AccountStatus.CLOSED.value, closed_at=at, meter_id=None)
        )

    def posted(self, account_nos: Sequence[str]) -> dict[str, dict[str, int]]:
        if not account_nos:
            return {}
        refs = [f"{kind}:{n}" for n in sorted(set(account_nos)) for kind in ("opening", "arrears")]
        lg = t.ledger.c
        q = sa.select(lg.account_no, lg.reference, lg.amount_paise).where(_among(self.conn, lg.reference, refs))
        found: dict[str, dict[str, int]] = {}
        for account_no, reference, paise in self.conn.execute(q):
            found.setdefault(account_no, {})[reference] = int(paise)
        return found

    def balance(self, account_no: str) -> tuple[int, int]:
        lg = t.ledger.c
        arrears = lg.kind.in_(_ARREARS)
        recovered = lg.kind == EntryKind.ARREARS_RECOVERY.value  # negative: it left the balance for the arrears
        q = sa.select(
            sa.func.coalesce(sa.func.sum(sa.case((arrears, 0), else_=lg.amount_paise)), 0),
            sa.func.coalesce(
                sa.func.sum(sa.case((arrears, -lg.amount_paise), (recovered, lg.amount_paise), else_=0)), 0
            ),
        ).where(lg.account_no == account_no)
        balance, owed = self.conn.execute(q).one()
        return int(balance), int(owed)
