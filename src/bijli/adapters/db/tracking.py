"""What the payment tracker reads: a payment with its times and its account's meter, relay
and balance now; when a meter reported taking a token; a meter's load-switch events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bijli.adapters.db import schema as t
from bijli.adapters.db.charging import running_charges
from bijli.payments.model import PaymentStatus
from bijli.payments.tracker import StoredPayment
from bijli.prepaid.model import ARREARS_KINDS
from bijli.protocol.events import EventCode

_ARREARS = [k.value for k in ARREARS_KINDS]
_RELAY = [EventCode.LOAD_SWITCH_DISCONNECTED.value, EventCode.LOAD_SWITCH_CONNECTED.value]
AFTER_AT_MOST = 100
"""Load-switch events after a payment the tracker reads, at most."""


class SqlPaymentTrails:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def of(self, payment_id: str) -> StoredPayment | None:
        p, a, ms, lg = t.payments.c, t.accounts.c, t.meter_state.c, t.ledger.c
        ledger = (
            sa.select(sa.func.coalesce(sa.func.sum(lg.amount_paise), 0))
            .where(lg.account_no == p.account_no, lg.kind.not_in(_ARREARS))
            .scalar_subquery()
        )
        q = (
            sa.select(
                t.payments,
                a.meter_id.label("meter_id"),
                ms.relay.label("relay"),
                (ledger - running_charges(p.account_no)).label("balance_paise"),
            )
            .select_from(t.payments)
            .join(t.accounts, a.account_no == p.account_no)
            .join(t.meter_state, ms.meter_id == a.meter_id, isouter=True)
            .where(p.payment_id == payment_id)
        )
        r = self.conn.execute(q).first()
        if r is None:
            return None
        return StoredPayment(
            payment_id=r.payment_id,
            account_no=r.account_no,
            amount_paise=int(r.amount_paise),
            status=PaymentStatus(r.status),
            arrears_recovered_paise=int(r.arrears_recovered_paise),
            received_at=r.received_at,
            captured_at=r.captured_at,
            failed_at=r.failed_at,
            refunded_at=r.refunded_at,
            meter_id=r.meter_id,
            relay=None if r.relay is None else int(r.relay),
            balance_paise=int(r.balance_paise),
        )

    def taken(self, meter_id: str, token_ids: Sequence[int]) -> datetime | None:
        if not token_ids:
            return None
        r = t.token_redemptions.c
        q = (
            sa.select(r.received_at)
            .where(r.meter_id == meter_id, r.token_id.in_(list(token_ids)))
            .order_by(r.received_at)
            .limit(1)
        )
        found: datetime | None = self.conn.execute(q).scalar()
        return found

    def relay_events(self, meter_id: str, moment: datetime, since: datetime) -> list[tuple[int, datetime]]:
        e = t.events.c
        relay = sa.and_(e.meter_id == meter_id, e.code.in_(_RELAY))
        before = self.conn.execute(
            sa.select(e.code, e.occurred_at)
            .where(relay, e.occurred_at >= since, e.occurred_at < moment)
            .order_by(e.occurred_at.desc())
            .limit(1)
        ).all()
        after = self.conn.execute(
            sa.select(e.code, e.occurred_at)
            .where(relay, e.occurred_at >= moment)
            .order_by(e.occurred_at)
            .limit(AFTER_AT_MOST)
        ).all()
        return [(int(code), at) for code, at in [*before, *after]]
