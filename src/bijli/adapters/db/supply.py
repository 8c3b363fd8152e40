"""The supply service's table (`supply_state`) and the facts it decides on, in batches.

`mark_due` is how a fact that changes a balance or a relay wakes an account: one statement per
batch, in the transaction of the fact (ledger posts, day charges put anew, relay commands
settling). `mark_charged` is the same for a settlement's running charges, which wake only the
accounts whose headroom (`bijli.supply.model.headroom`) they use up.
`SqlSupply.claim_due` takes the accounts whose `next_check_at` has come; on PostgreSQL with
``FOR UPDATE SKIP LOCKED``, so several supply workers share the queue and never wait on one
another. Balances are the ledger (arrears aside) plus the open days' running charges, as the
meter pages show them (`bijli.adapters.db.reads`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bijli.adapters.db import schema as t
from bijli.adapters.db.arrays import literal
from bijli.adapters.db.sql import is_pg, raw
from bijli.adapters.db.supply_tables import supply_state
from bijli.headend.commands import Status
from bijli.prepaid.model import ARREARS_KINDS, EntryKind
from bijli.supply.model import AccountFacts, Outcome, SupplyState

_ARREARS = [k.value for k in ARREARS_KINDS]
_STATE_COLUMNS = (
    "negative_since",
    "recharge_ref",
    "level_alerted",
    "notices",
    "last_warned_at",
    "permit_sent",
    "cut",
    "cut_command_id",
    "reconnect_command_id",
    "attempts",
    "next_check_at",
    "headroom_paise",
)


def mark_due(conn: Connection, account_nos: Iterable[str], now: datetime) -> None:
    """Make these accounts due for the supply service now (one statement for the batch)."""
    wanted = sorted(set(account_nos))
    if not wanted:
        return
    dialect = postgresql if is_pg(conn) else sqlite
    stmt = dialect.insert(supply_state)
    due = supply_state.c.next_check_at
    stmt = stmt.on_conflict_do_update(
        index_elements=["account_no"],
        set_={"next_check_at": stmt.excluded.next_check_at},
        where=sa.or_(due.is_(None), due > stmt.excluded.next_check_at),  # one already due is not written again
    )
    conn.execute(stmt, [{"account_no": a, "next_check_at": now} for a in wanted])


def mark_charged(conn: Connection, charged: Mapping[str, int], now: datetime) -> None:
    """These accounts' running charges grew by these paise: take them off each account's
    headroom, and make due now those whose headroom they use up (or that have no row yet);
    one statement for the batch. An account without headroom (NULL: below zero) is not
    written. A charge taken back (negative) makes its account due at once, headroom or not."""
    if not charged:
        return
    if is_pg(conn):  # the same statement, the batch as two arrays (settlement's hot path)
        wanted = sorted(charged)
        params = {
            "now": now,
            "account_no": literal("text", wanted),
            "grown": literal("int", [charged[a] for a in wanted]),
        }
        raw(conn, _PG_MARK_CHARGED, params)
        return
    stmt = sqlite.insert(supply_state)
    s = supply_state.c
    grown = stmt.excluded.headroom_paise  # the increment rides in the new row's headroom
    left = s.headroom_paise - grown
    wake = sa.and_(sa.or_(left <= 0, grown < 0), sa.or_(s.next_check_at.is_(None), s.next_check_at > now))
    stmt = stmt.on_conflict_do_update(
        index_elements=["account_no"],
        set_={
            "headroom_paise": left,
            "next_check_at": sa.case((wake, stmt.excluded.next_check_at), else_=s.next_check_at),
        },
        where=sa.or_(s.headroom_paise.is_not(None), grown < 0),
    )
    # A new row is due now; its first decision sets its headroom.
    conn.execute(stmt, [{"account_no": a, "next_check_at": now, "headroom_paise": charged[a]} for a in sorted(charged)])


_PG_MARK_CHARGED = (
    "INSERT INTO supply_state AS s (account_no, next_check_at, headroom_paise) "
    "SELECT u.account_no, %(now)s, u.grown "
    "FROM unnest(CAST(%(account_no)s AS text[]), CAST(%(grown)s AS bigint[])) AS u(account_no, grown) "
    "ON CONFLICT (account_no) DO UPDATE SET "
    "headroom_paise = s.headroom_paise - EXCLUDED.headroom_paise, "
    "next_check_at = CASE WHEN (s.headroom_paise - EXCLUDED.headroom_paise <= 0 OR EXCLUDED.headroom_paise < 0) "
    "AND (s.next_check_at IS NULL OR s.next_check_at > %(now)s) "
    "THEN EXCLUDED.next_check_at ELSE s.next_check_at END "
    "WHERE s.headroom_paise IS NOT NULL OR EXCLUDED.headroom_paise < 0"
)
"""`mark_charged` on PostgreSQL: the increment rides in the new row's headroom, as above."""


def mark_meters_due(conn: Connection, meter_ids: Iterable[str], now: datetime) -> None:
    """Make the accounts these meters are installed on due now (their relay changed)."""
    wanted = sorted(set(meter_ids))
    if not wanted:
        return
    a, s = t.accounts.c, supply_state.c
    held = sa.select(a.account_no).where(a.meter_id.in_(wanted)).scalar_subquery()
    conn.execute(supply_state.update().where(s.account_no.in_(held)).values(next_check_at=now))


def _state(r: Any) -> SupplyState:
    return SupplyState(account_no=r.account_no, **{k: getattr(r, k) for k in _STATE_COLUMNS})


class SqlSupply:
    """`supply_state`, and the balances, recharges and relays the decisions need."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def claim_due(self, now: datetime, limit: int) -> list[SupplyState]:
        s = supply_state.c
        q = sa.select(supply_state).where(s.next_check_at <= now).order_by(s.next_check_at, s.account_no).limit(limit)
        if is_pg(self.conn):
            q = q.with_for_update(skip_locked=True)
        return [_state(r) for r in self.conn.execute(q)]

    def facts(self, account_nos: Sequence[str]) -> dict[str, AccountFacts]:
        """Active accounts' facts (an account closed since has none); warnings and command
        outcomes are the handler's to add."""
        if not account_nos:
            return {}
        a, ms, lg, d = t.accounts.c, t.meter_state.c, t.ledger.c, t.day_charges.c
        conn, wanted = self.conn, sorted(account_nos)
        ledger = dict(
            conn.execute(
                sa.select(lg.account_no, sa.func.coalesce(sa.func.sum(lg.amount_paise), 0))
                .where(lg.account_no.in_(wanted), lg.kind.not_in(_ARREARS))
                .group_by(lg.account_no)
            ).all()
        )
        running = dict(
            conn.execute(
                sa.select(d.account_no, sa.func.sum(d.charge_paise - d.posted_paise))
                .where(d.account_no.in_(wanted), d.pending)
                .group_by(d.account_no)
            ).all()
        )
        last = (
            sa.select(lg.account_no, sa.func.max(lg.id).label("id"))
            .where(lg.account_no.in_(wanted), lg.kind == EntryKind.RECHARGE.value)
            .group_by(lg.account_no)
            .subquery()
        )
        recharges = {
            r.account_no: r
            for r in conn.execute(
                sa.select(lg.account_no, lg.amount_paise, lg.reference, lg.posted_at).join(last, lg.id == last.c.id)
            )
        }
        q = (
            sa.select(a.account_no, a.meter_id, a.opened_at, ms.relay)
            .select_from(t.accounts)
            .join(t.meter_state, ms.meter_id == a.meter_id, isouter=True)
            .where(a.account_no.in_(wanted), a.status == "active")
        )
        found = {}
        for r in conn.execute(q):
            recharge = recharges.get(r.account_no)
            found[r.account_no] = AccountFacts(
                account_no=r.account_no,
                meter_id=r.meter_id,
                balance_paise=int(ledger.get(r.account_no, 0)) - int(running.get(r.account_no) or 0),
                opened_at=r.opened_at,
                last_recharge_paise=None if recharge is None else int(recharge.amount_paise),
                last_recharge_ref=None if recharge is None else recharge.reference,
                last_recharge_at=None if recharge is None else recharge.posted_at,
                relay=r.relay,
            )
        return found

    def outcomes(self, command_ids: Sequence[str]) -> dict[str, Outcome]:
        """What became of these commands, as supply counts it."""
        if not command_ids:
            return {}
        c = t.commands.c
        rows = self.conn.execute(sa.select(c.command_id, c.status).where(c.command_id.in_(sorted(set(command_ids)))))
        return {command_id: _outcome(Status(status)) for command_id, status in rows}

    def save(self, states: Sequence[SupplyState], now: datetime) -> None:
        if not states:
            return
        s = supply_state.c
        rows = [
            {"b_account": x.account_no, "updated_at": now, **{k: getattr(x, k) for k in _STATE_COLUMNS}}
            for x in sorted(states, key=lambda x: x.account_no)
        ]
        self.conn.execute(
            supply_state.update()
            .where(s.account_no == sa.bindparam("b_account"))
            .values({k: sa.bindparam(k) for k in (*_STATE_COLUMNS, "updated_at")}),
            rows,
        )


def _outcome(status: Status) -> Outcome:
    if status == Status.CONFIRMED:
        return Outcome.CONFIRMED
    if status in (Status.FAILED, Status.EXPIRED):
        return Outcome.ENDED
    if status == Status.QUEUED:
        return Outcome.QUEUED
    return Outcome.OPEN
