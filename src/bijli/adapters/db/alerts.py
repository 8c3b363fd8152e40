"""The alerts table group: the outbox (`alerts`) and each channel's delivery
(`alert_deliveries`), claimed by delivery workers under a lease (`FOR UPDATE SKIP LOCKED`
on PostgreSQL, so workers on several servers never take the same delivery)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bijli.adapters.db import alert_tables as at
from bijli.adapters.db import schema as t
from bijli.adapters.db.charging import running_charges
from bijli.adapters.db.sql import among, is_pg
from bijli.alerts.model import (
    WARNINGS,
    Addresses,
    Alert,
    AlertKind,
    AlertRecord,
    Channel,
    Delivery,
    DeliveryState,
    Due,
    Outcome,
    RaisedAlert,
    Result,
    SentWarning,
    first_states,
)
from bijli.prepaid.model import ARREARS_KINDS

_ARREARS = [k.value for k in ARREARS_KINDS]
_WARNINGS = sorted(k.value for k in WARNINGS)
_DUE = (DeliveryState.PENDING.value, DeliveryState.SENDING.value)


class UnknownAccount(ValueError):
    """An alert for an account (or a staff member) the store does not hold."""


class SqlAlerts:
    """The `alerts` and `alert_deliveries` tables."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # ------------------------------------------------------------------ the outbox

    def raise_alerts(self, alerts: Sequence[Alert], now: datetime) -> list[RaisedAlert]:
        unique: dict[str, Alert] = {}
        for alert in alerts:
            unique.setdefault(alert.fact_key, alert)
        if not unique:
            return []
        accounts = self._addresses(sorted({a.account_no for a in unique.values() if a.account_no is not None}))
        staff = self._staff_addresses(sorted({a.staff for a in unique.values() if a.staff is not None}))
        missing = sorted({a.account_no for a in unique.values() if a.account_no is not None} - accounts.keys())
        if missing:
            raise UnknownAccount(f"no account {', '.join(missing[:5])}")
        missing = sorted({a.staff for a in unique.values() if a.staff is not None} - staff.keys())
        if missing:
            raise UnknownAccount(f"no staff member {', '.join(missing[:5])}")

        def to(a: Alert) -> Addresses:
            return accounts[a.account_no] if a.account_no is not None else staff[a.staff or ""]

        rows = [
            {
                "account_no": a.account_no,
                "staff_username": a.staff,
                "kind": a.kind.value,
                "fact_key": a.fact_key,
                "facts": dict(a.facts),
                "language": to(a).language,
                "raised_at": a.raised_at,
            }
            for a in unique.values()
        ]
        dialect: Any = postgresql if is_pg(self.conn) else sqlite
        c = at.alerts.c
        stmt = dialect.insert(at.alerts).on_conflict_do_nothing(index_elements=["fact_key"])
        written = {r.fact_key: int(r.alert_id) for r in self.conn.execute(stmt.returning(c.alert_id, c.fact_key), rows)}
        raised = []
        deliveries = []
        for key, alert_id in sorted(written.items(), key=lambda kv: kv[1]):
            alert = unique[key]
            states = first_states(to(alert))
            raised.append(
                RaisedAlert(
                    alert_id=alert_id,
                    account_no=alert.account_no,
                    staff=alert.staff,
                    kind=alert.kind,
                    fact_key=key,
                    channels=states,
                )
            )
            deliveries += [
                {
                    "alert_id": alert_id,
                    "channel": channel.value,
                    "state": state.value,
                    "attempts": 0,
                    "next_try_at": now if state is DeliveryState.PENDING else None,
                }
                for channel, state in states.items()
            ]
        if deliveries:
            self.conn.execute(at.alert_deliveries.insert(), deliveries)
        return raised

    def _addresses(self, account_nos: Sequence[str]) -> dict[str, Addresses]:
        if not account_nos:
            return {}
        a, c = t.accounts.c, t.consumers.c
        q = (
            sa.select(a.account_no, c.mobile, c.email, c.language)
            .join_from(t.accounts, t.consumers, a.consumer_id == c.consumer_id)
            .where(among(self.conn, a.account_no, account_nos))
        )
        return {
            r.account_no: Addresses(mobile=r.mobile or None, email=r.email or None, language=r.language)
            for r in self.conn.execute(q)
        }

    def _staff_addresses(self, usernames: Sequence[str]) -> dict[str, Addresses]:
        if not usernames:
            return {}
        s = t.staff.c
        q = sa.select(s.username, s.mobile, s.email, s.language).where(among(self.conn, s.username, usernames))
        return {
            r.username: Addresses(mobile=r.mobile or None, email=r.email or None, language=r.language, web=False)
            for r in self.conn.execute(q)
        }

    def warnings_sent(self, account_nos: Sequence[str], since: datetime) -> dict[str, list[SentWarning]]:
        if not account_nos:
            return {}
        a, d = at.alerts.c, at.alert_deliveries.c
        q = (
            sa.select(a.account_no, a.alert_id, a.kind, d.channel, d.sent_at)
            .join_from(at.alerts, at.alert_deliveries, a.alert_id == d.alert_id)
            .where(
                among(self.conn, a.account_no, account_nos),
                a.kind.in_(_WARNINGS),
                d.state == DeliveryState.SENT.value,
                d.sent_at >= since,
            )
            .order_by(a.account_no, d.sent_at, a.alert_id, d.channel)
        )
        found: dict[str, list[SentWarning]] = defaultdict(list)
        for r in self.conn.execute(q):
            found[r.account_no].append(
                SentWarning(
                    alert_id=int(r.alert_id), kind=AlertKind(r.kind), channel=Channel(r.channel), sent_at=r.sent_at
                )
            )
        return dict(found)

    def balances(self, account_nos: Sequence[str]) -> dict[str, int]:
        if not account_nos:
            return {}
        acc, lg = t.accounts.c, t.ledger.c
        posted = (
            sa.select(sa.func.coalesce(sa.func.sum(lg.amount_paise), 0))
            .where(lg.account_no == acc.account_no, lg.kind.not_in(_ARREARS))
            .scalar_subquery()
        )
        q = sa.select(acc.account_no, posted - running_charges(acc.account_no)).where(
            among(self.conn, acc.account_no, account_nos)
        )
        return {r[0]: int(r[1]) for r in self.conn.execute(q)}

    # ------------------------------------------------------------------ the delivery queue

    def claim(self, now: datetime, limit: int, channels: Sequence[Channel], lease: timedelta) -> list[Due]:
        d = at.alert_deliveries.c
        until = now + lease
        due = (
            sa.select(d.alert_id, d.channel)
            .where(d.state.in_(_DUE), d.next_try_at <= now, d.channel.in_(sorted(c.value for c in channels)))
            .order_by(d.next_try_at, d.alert_id)
            .limit(limit)
        )
        if is_pg(self.conn):
            due = due.with_for_update(skip_locked=True)
        else:  # one writer at a time on SQLite: take its write lock before choosing
            self.conn.execute(at.alert_deliveries.update().where(sa.false()).values(state=d.state))
        picked = [(int(r.alert_id), r.channel) for r in self.conn.execute(due)]
        if not picked:
            return []
        claimed = self.conn.execute(
            at.alert_deliveries.update()
            .where(sa.tuple_(d.alert_id, d.channel).in_(picked))
            .values(state=DeliveryState.SENDING.value, attempts=d.attempts + 1, lease_until=until, next_try_at=until)
            .returning(d.alert_id, d.channel, d.attempts)
        ).all()
        attempts = {(int(r.alert_id), r.channel): int(r.attempts) for r in claimed}
        return self._due(attempts)

    def _due(self, attempts: Mapping[tuple[int, str], int]) -> list[Due]:
        a, acc, c, s = at.alerts.c, t.accounts.c, t.consumers.c, t.staff.c
        q = (
            sa.select(
                a.alert_id,
                a.account_no,
                a.staff_username,
                a.kind,
                a.facts,
                a.language,
                a.raised_at,
                sa.func.coalesce(c.mobile, s.mobile).label("mobile"),
                sa.func.coalesce(c.email, s.email).label("email"),
            )
            .select_from(at.alerts)
            .outerjoin(t.accounts, a.account_no == acc.account_no)
            .outerjoin(t.consumers, acc.consumer_id == c.consumer_id)
            .outerjoin(t.staff, a.staff_username == s.username)
            .where(among(self.conn, a.alert_id, sorted({k[0] for k in attempts})))
        )
        alerts = {int(r.alert_id): r for r in self.conn.execute(q)}
        found = []
        for (alert_id, channel), tries in sorted(attempts.items()):
            r = alerts[alert_id]
            ch = Channel(channel)
            to = {Channel.SMS: r.mobile, Channel.EMAIL: r.email, Channel.WEB: r.account_no}[ch]
            found.append(
                Due(
                    alert_id=alert_id,
                    channel=ch,
                    attempts=tries,
                    account_no=r.account_no,
                    staff=r.staff_username,
                    kind=AlertKind(r.kind),
                    facts=dict(r.facts),
                    language=r.language,
                    raised_at=r.raised_at,
                    to=to or None,
                )
            )
        return found

    def finish(self, results: Sequence[Result]) -> int:
        d = at.alert_deliveries.c
        if is_pg(self.conn):
            # No wait for the WAL flush: a database crash may forget the last moments' outcomes,
            # and those deliveries go again with the same message id (the claim itself is durable).
            self.conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
        applied = 0
        for r in results:
            values: dict[str, Any] = {"last_error": r.error, "lease_until": None}
            if r.outcome is Outcome.SENT:
                values |= {"state": DeliveryState.SENT.value, "sent_at": r.at, "next_try_at": None}
                values |= {"provider_ref": r.provider_ref}
            elif r.outcome is Outcome.RETRY:
                values |= {"state": DeliveryState.PENDING.value, "next_try_at": r.next_try_at}
            else:
                values |= {"state": DeliveryState.FAILED.value, "next_try_at": None}
            done = self.conn.execute(
                at.alert_deliveries.update()
                .where(
                    d.alert_id == r.alert_id,
                    d.channel == r.channel.value,
                    d.state == DeliveryState.SENDING.value,
                    d.attempts == r.attempts,
                )
                .values(**values)
            )
            applied += done.rowcount
        return applied

    # ------------------------------------------------------------------ the history

    def of_account(self, account_no: str, limit: int, offset: int) -> list[AlertRecord]:
        a = at.alerts.c
        q = (
            sa.select(at.alerts)
            .where(a.account_no == account_no)
            .order_by(a.raised_at.desc(), a.alert_id.desc())
            .limit(limit)
            .offset(offset)
        )
        return self._records(list(self.conn.execute(q)))

    def feed(self, account_no: str, after_id: int, limit: int) -> list[AlertRecord]:
        a, d = at.alerts.c, at.alert_deliveries.c
        q = (
            sa.select(at.alerts)
            .join_from(at.alerts, at.alert_deliveries, a.alert_id == d.alert_id)
            .where(
                a.account_no == account_no,
                a.alert_id > after_id,
                d.channel == Channel.WEB.value,
                d.state == DeliveryState.SENT.value,
            )
            .order_by(a.alert_id)
            .limit(limit)
        )
        return self._records(list(self.conn.execute(q)))

    def _records(self, rows: list[Any]) -> list[AlertRecord]:
        if not rows:
            return []
        d = at.alert_deliveries.c
        deliveries: dict[int, list[Delivery]] = defaultdict(list)
        q = sa.select(at.alert_deliveries).where(among(self.conn, d.alert_id, [int(r.alert_id) for r in rows]))
        for r in self.conn.execute(q.order_by(d.alert_id, d.channel)):
            deliveries[int(r.alert_id)].append(
                Delivery(
                    channel=Channel(r.channel),
                    state=DeliveryState(r.state),
                    attempts=r.attempts,
                    sent_at=r.sent_at,
                    last_error=r.last_error,
                    next_try_at=r.next_try_at,
                )
            )
        return [
            AlertRecord(
                alert_id=int(r.alert_id),
                account_no=r.account_no,
                staff=r.staff_username,
                kind=AlertKind(r.kind),
                fact_key=r.fact_key,
                facts=dict(r.facts),
                language=r.language,
                raised_at=r.raised_at,
                deliveries=tuple(deliveries[int(r.alert_id)]),
            )
            for r in rows
        ]
