"""The payments table group: payments and their webhook calls, the token register, the
redemptions meters reported, the mirror checks and the reconciliation items."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bijli.accounts.model import AccountStatus
from bijli.adapters.db import schema as t
from bijli.adapters.db.sql import among, insert_ignoring, is_pg
from bijli.payments.model import (
    DEFAULT_ARREARS_SHARE_PCT,
    IN_FLIGHT,
    IssuedToken,
    Item,
    ItemKind,
    OpenedItem,
    Payment,
    PaymentEvent,
    PaymentStatus,
    Reported,
    TokenState,
)
from bijli.payments.ports import MirrorFacts, PayingAccount
from bijli.prepaid.model import EntryKind
from bijli.prepaid.tariff import Tariff

RECONCILE_LOCK: Final = 0x6B696A6C6901
"""The PostgreSQL advisory lock one reconciliation round holds (two servers never do the same round)."""
ARREARS: Final = EntryKind.ARREARS.value
"""Arrears posted at onboarding (negative): owed apart from the prepaid balance."""
_STAMP = {
    PaymentStatus.CAPTURED: "captured_at",
    PaymentStatus.FAILED: "failed_at",
    PaymentStatus.REFUNDED: "refunded_at",
}


class SqlPayments:
    """The `payments` and `payment_events` tables."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, payment_id: str) -> Payment | None:
        # The same payment reported twice at once: the second waits for the first, then finds it.
        p = t.payments.c
        if is_pg(self.conn):
            self.conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:p))"), {"p": f"payment:{payment_id}"})
        else:  # a write statement takes SQLite's one write lock first, whatever it matches
            self.conn.execute(t.payments.update().where(p.payment_id == payment_id).values(status=p.status))
        q = sa.select(p.payment_id, p.account_no, p.amount_paise, p.status, p.arrears_recovered_paise).where(
            p.payment_id == payment_id
        )
        if is_pg(self.conn):
            q = q.with_for_update()
        row = self.conn.execute(q).first()
        if row is None:
            return None
        return Payment(
            payment_id=row.payment_id,
            account_no=row.account_no,
            amount_paise=row.amount_paise,
            status=PaymentStatus(row.status),
            arrears_recovered_paise=row.arrears_recovered_paise,
        )

    def save(self, payment: Payment, event: PaymentEvent, now: datetime) -> None:
        values: dict[str, Any] = {
            "status": payment.status.value,
            "arrears_recovered_paise": payment.arrears_recovered_paise,
            _STAMP[payment.status]: event.at,
        }
        p = t.payments.c
        updated = self.conn.execute(t.payments.update().where(p.payment_id == payment.payment_id).values(**values))
        if updated.rowcount == 0:
            self.conn.execute(
                t.payments.insert().values(
                    payment_id=payment.payment_id,
                    account_no=payment.account_no,
                    amount_paise=payment.amount_paise,
                    received_at=now,
                    **values,
                )
            )

    def record_event(self, event: PaymentEvent | None, outcome: str, reason: str, body: bytes, now: datetime) -> None:
        self.conn.execute(
            t.payment_events.insert().values(
                received_at=now,
                event_id=None if event is None else event.event_id,
                payment_id=None if event is None else event.payment_id,
                status=None if event is None else event.status.value,
                outcome=outcome,
                reason=reason,
                body=body,
            )
        )

    def account(self, account_no: str) -> PayingAccount | None:
        a, lg = t.accounts.c, t.ledger.c
        row = self.conn.execute(
            sa.select(a.account_no, a.meter_id, a.arrears_share_pct, a.status).where(a.account_no == account_no)
        ).first()
        if row is None:
            return None
        # Arrears outstanding: those posted (negative entries) less what recharges recovered.
        owed = self.conn.execute(
            sa.select(
                sa.func.coalesce(sa.func.sum(sa.case((lg.kind == ARREARS, -lg.amount_paise), else_=lg.amount_paise)), 0)
            ).where(lg.account_no == account_no, lg.kind.in_([ARREARS, EntryKind.ARREARS_RECOVERY.value]))
        ).scalar_one()
        share = DEFAULT_ARREARS_SHARE_PCT if row.arrears_share_pct is None else row.arrears_share_pct
        return PayingAccount(
            account_no=row.account_no,
            meter_id=row.meter_id,
            arrears_paise=max(0, int(owed)),
            arrears_share_pct=share,
            closed=row.status == AccountStatus.CLOSED.value,
        )


def _token(row: Any) -> IssuedToken:
    return IssuedToken(
        meter_id=row.meter_id,
        token_id=row.token_id,
        account_no=row.account_no,
        payment_id=row.payment_id,
        amount_paise=row.amount_paise,
        issued_at=row.issued_at,
        key_version=row.key_version,
        status=TokenState(row.status),
        redeemed_at=row.redeemed_at,
    )


class SqlTokenRegister:
    """The `tokens_issued` table: one line per token, unique per meter."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def ids_from(self, meter_id: str, first_id: int) -> set[int]:
        if is_pg(self.conn):  # two payments for one meter at once take their ids one after the other
            self.conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:m))"), {"m": f"tokens:{meter_id}"})
        c = t.tokens_issued.c
        q = sa.select(c.token_id).where(c.meter_id == meter_id, c.token_id >= first_id)
        return set(self.conn.execute(q).scalars())

    def add(self, token: IssuedToken) -> None:
        self.conn.execute(
            t.tokens_issued.insert().values(
                meter_id=token.meter_id,
                token_id=token.token_id,
                account_no=token.account_no,
                payment_id=token.payment_id,
                amount_paise=token.amount_paise,
                issued_at=token.issued_at,
                key_version=token.key_version,
                status=token.status.value,
                redeemed_at=token.redeemed_at,
            )
        )

    def of_payment(self, payment_id: str) -> list[IssuedToken]:
        c = t.tokens_issued.c
        q = sa.select(t.tokens_issued).where(c.payment_id == payment_id).order_by(c.token_id)
        return [_token(r) for r in self.conn.execute(q)]

    def cancel(self, payment_id: str) -> list[IssuedToken]:
        c = t.tokens_issued.c
        waiting = [tok for tok in self.of_payment(payment_id) if tok.status is TokenState.ISSUED]
        self.conn.execute(
            t.tokens_issued.update()
            .where(c.payment_id == payment_id, c.status == TokenState.ISSUED.value)
            .values(status=TokenState.CANCELLED.value)
        )
        return waiting

    def find(self, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], IssuedToken]:
        wanted = set(keys)
        if not wanted:
            return {}
        c = t.tokens_issued.c
        q = sa.select(t.tokens_issued).where(among(self.conn, c.meter_id, sorted({m for m, _ in wanted})))
        found = {(r.meter_id, r.token_id): _token(r) for r in self.conn.execute(q)}
        return {k: v for k, v in found.items() if k in wanted}

    def mark_redeemed(self, reported: Sequence[Reported], now: datetime) -> None:
        if not reported:
            return
        c = t.tokens_issued.c
        self.conn.execute(
            t.tokens_issued.update()
            .where(
                c.meter_id == sa.bindparam("r_meter"),
                c.token_id == sa.bindparam("r_token"),
                c.status.in_([s.value for s in IN_FLIGHT]),
            )
            .values(status=TokenState.REDEEMED.value, redeemed_at=sa.bindparam("r_at"), reported_at=now),
            [{"r_meter": r.meter_id, "r_token": r.token_id, "r_at": r.redeemed_at} for r in reported],
        )

    def mark_undelivered(self, issued_before: datetime) -> list[IssuedToken]:
        c = t.tokens_issued.c
        late = sa.and_(c.status == TokenState.ISSUED.value, c.issued_at < issued_before)
        found = [_token(r) for r in self.conn.execute(sa.select(t.tokens_issued).where(late).limit(5000))]
        if found:
            self.conn.execute(
                t.tokens_issued.update()
                .where(c.meter_id == sa.bindparam("u_meter"), c.token_id == sa.bindparam("u_token"))
                .values(status=TokenState.UNDELIVERED.value),
                [{"u_meter": tok.meter_id, "u_token": tok.token_id} for tok in found],
            )
        return found


def _round_lock(conn: Connection) -> bool:
    """Whether this transaction holds the reconciliation round (always, on SQLite)."""
    if not is_pg(conn):
        return True
    return bool(conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": RECONCILE_LOCK}).scalar_one())


class SqlRedemptions:
    """The redemptions meters reported (`token_redemptions`), as reconciliation reads them."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def unmatched(self, limit: int) -> list[Reported]:
        if not _round_lock(self.conn):
            return []
        r = t.token_redemptions.c
        q = (
            sa.select(r.meter_id, r.token_id, r.amount_paise, r.redeemed_at)
            .where(r.matched_at.is_(None), r.status == 0)
            .order_by(r.received_at, r.meter_id, r.token_id)
            .limit(limit)
        )
        return [
            Reported(meter_id=x.meter_id, token_id=x.token_id, amount_paise=x.amount_paise, redeemed_at=x.redeemed_at)
            for x in self.conn.execute(q)
        ]

    def mark_matched(self, keys: Sequence[tuple[str, int]], now: datetime) -> None:
        if not keys:
            return
        r = t.token_redemptions.c
        self.conn.execute(
            t.token_redemptions.update()
            .where(r.meter_id == sa.bindparam("k_meter"), r.token_id == sa.bindparam("k_token"))
            .values(matched_at=now),
            [{"k_meter": m, "k_token": tid} for m, tid in keys],
        )


class SqlMirrors:
    """Each meter's newest credit mirror beside its account's ledger balance."""

    def __init__(self, conn: Connection, tariffs: Mapping[str, Tariff]) -> None:
        self.conn = conn
        self._tariffs = tariffs

    def unchecked(self, limit: int) -> list[MirrorFacts]:
        if not _round_lock(self.conn):
            return []
        s, a, mc = t.meter_state.c, t.accounts.c, t.mirror_checks.c
        q = (
            sa.select(
                s.meter_id,
                s.status_fc,
                s.balance_mirror_paise,
                s.last_seen,
                a.account_no,
                a.sanctioned_load_w,
                a.tariff_code,
                mc.drift_paise,
            )
            .join(t.accounts, a.meter_id == s.meter_id)
            .join(t.mirror_checks, mc.meter_id == s.meter_id, isouter=True)
            .where(
                s.balance_mirror_paise.is_not(None),
                s.last_seen.is_not(None),
                s.status_fc > sa.func.coalesce(mc.status_fc, 0),
            )
            .order_by(s.meter_id)
            .limit(limit)
        )
        rows = [r for r in self.conn.execute(q) if r.tariff_code in self._tariffs]
        accounts = sorted({r.account_no for r in rows})
        # The prepaid balance: arrears posted at onboarding are owed apart from it (docs/payments.md).
        lg = t.ledger.c
        balances = self._sums(t.ledger, lg.account_no, lg.amount_paise, accounts, lg.kind != ARREARS)
        dc = t.day_charges.c  # less the running charges of days not on the ledger yet (docs/billing.md)
        for account, running in self._sums(
            t.day_charges, dc.account_no, dc.charge_paise - dc.posted_paise, accounts
        ).items():
            balances[account] = balances.get(account, 0) - running
        tok = t.tokens_issued.c
        in_flight = self._sums(
            t.tokens_issued, tok.account_no, tok.amount_paise, accounts, tok.status.in_([s.value for s in IN_FLIGHT])
        )
        return [
            MirrorFacts(
                meter_id=r.meter_id,
                account_no=r.account_no,
                status_fc=r.status_fc,
                mirror_paise=r.balance_mirror_paise,
                balance_paise=balances.get(r.account_no, 0),
                in_flight_paise=in_flight.get(r.account_no, 0),
                sanctioned_load_w=r.sanctioned_load_w,
                tariff=self._tariffs[r.tariff_code],
                reported_at=r.last_seen,
                drifted_before=r.drift_paise is not None,
            )
            for r in rows
        ]

    def _sums(
        self,
        table: sa.Table,
        key: sa.ColumnElement[Any],
        amount: sa.ColumnElement[Any],
        accounts: Sequence[str],
        *also: sa.ColumnElement[bool],
    ) -> dict[str, int]:
        if not accounts:
            return {}
        q = sa.select(key, sa.func.sum(amount)).where(among(self.conn, key, accounts), *also).group_by(key)
        return {k: int(v) for k, v in self.conn.execute(q)}

    def mark_checked(self, checked: Mapping[str, tuple[int, int | None]], now: datetime) -> None:
        if not checked:
            return
        mc = t.mirror_checks.c
        rows = [
            {"meter_id": m, "status_fc": fc, "checked_at": now, "drift_paise": drift}
            for m, (fc, drift) in sorted(checked.items())
        ]
        insert_ignoring(self.conn, t.mirror_checks, rows, ["meter_id"])
        self.conn.execute(
            t.mirror_checks.update()
            .where(mc.meter_id == sa.bindparam("c_meter"))
            .values(status_fc=sa.bindparam("c_fc"), checked_at=now, drift_paise=sa.bindparam("c_drift")),
            [{"c_meter": r["meter_id"], "c_fc": r["status_fc"], "c_drift": r["drift_paise"]} for r in rows],
        )


class SqlReconciliation:
    """The `reconciliation_items` table."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def open(self, items: Sequence[Item], now: datetime) -> None:
        if items:
            self.conn.execute(t.reconciliation_items.insert(), [_row(i, now) for i in items])

    def resolve_tokens(self, kind: str, keys: Sequence[tuple[str, int]], now: datetime) -> None:
        if not keys:
            return
        r = t.reconciliation_items.c
        self.conn.execute(
            t.reconciliation_items.update()
            .where(
                r.kind == kind,
                r.resolved_at.is_(None),
                r.meter_id == sa.bindparam("k_meter"),
                r.token_id == sa.bindparam("k_token"),
            )
            .values(resolved_at=now, updated_at=now),
            [{"k_meter": m, "k_token": tid} for m, tid in keys],
        )

    def drifting(self, items: Sequence[Item], steady: Sequence[str], now: datetime) -> None:
        r = t.reconciliation_items.c
        is_open = sa.and_(r.kind == ItemKind.MIRROR_DRIFT.value, r.resolved_at.is_(None))
        if steady:
            self.conn.execute(
                t.reconciliation_items.update()
                .where(is_open, among(self.conn, r.meter_id, sorted(steady)))
                .values(resolved_at=now, updated_at=now)
            )
        if not items:
            return
        meters = sorted({i.meter_id for i in items if i.meter_id is not None})
        already = set(
            self.conn.execute(sa.select(r.meter_id).where(is_open, among(self.conn, r.meter_id, meters))).scalars()
        )
        fresh = [i for i in items if i.meter_id not in already]
        again = [i for i in items if i.meter_id in already]
        self.open(fresh, now)
        if again:
            self.conn.execute(
                t.reconciliation_items.update()
                .where(is_open, r.meter_id == sa.bindparam("d_meter"))
                .values(amount_paise=sa.bindparam("d_amount"), detail=sa.bindparam("d_detail"), updated_at=now),
                [{"d_meter": i.meter_id, "d_amount": i.amount_paise, "d_detail": i.detail[:512]} for i in again],
            )

    def listed(self, state: str, limit: int, offset: int) -> list[OpenedItem]:
        r = t.reconciliation_items.c
        q = sa.select(t.reconciliation_items).order_by(r.id.desc()).limit(limit).offset(offset)
        if state == "open":
            q = q.where(r.resolved_at.is_(None))
        elif state == "resolved":
            q = q.where(r.resolved_at.is_not(None))
        return [
            OpenedItem(
                id=x.id,
                item=Item(
                    kind=ItemKind(x.kind),
                    detail=x.detail,
                    meter_id=x.meter_id,
                    account_no=x.account_no,
                    payment_id=x.payment_id,
                    token_id=x.token_id,
                    amount_paise=x.amount_paise,
                ),
                opened_at=x.opened_at,
                updated_at=x.updated_at,
                resolved_at=x.resolved_at,
            )
            for x in self.conn.execute(q)
        ]


def _row(item: Item, now: datetime) -> dict[str, Any]:
    return {
        "kind": item.kind.value,
        "meter_id": item.meter_id,
        "account_no": item.account_no,
        "payment_id": item.payment_id,
        "token_id": item.token_id,
        "amount_paise": item.amount_paise,
        "detail": item.detail[:512],
        "opened_at": now,
        "updated_at": now,
        "resolved_at": None,
    }
