"""The disputes table (on the store's one `metadata`) and its repository."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bijli.accounts.disputes import Dispute, State
from bijli.adapters.db import schema as t
from bijli.adapters.db.schema import BigId, UtcDateTime, metadata

disputes = sa.Table(
    "disputes",
    metadata,
    sa.Column("dispute_id", BigId, primary_key=True, autoincrement=True),
    sa.Column("account_no", sa.ForeignKey("accounts.account_no"), nullable=False),
    sa.Column("meter_id", sa.String(32), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("raised_by", sa.String(64), nullable=False),
    sa.Column("raised_at", UtcDateTime, nullable=False),
    sa.Column("due_at", UtcDateTime, nullable=False),
    sa.Column("evidence", sa.Text, nullable=False),
    sa.Column("answer", sa.String(500)),
    sa.Column("answered_by", sa.String(64)),
    sa.Column("answered_at", UtcDateTime),
    sa.UniqueConstraint("account_no", "day"),
    sa.Index("ix_disputes_answered_at_due_at", "answered_at", "due_at"),
)


def _dispute(row: Any) -> Dispute:
    return Dispute(
        dispute_id=row.dispute_id,
        account_no=row.account_no,
        meter_id=row.meter_id,
        day=row.day,
        reason=row.reason,
        raised_by=row.raised_by,
        raised_at=row.raised_at,
        evidence=json.loads(row.evidence),
        answer=row.answer,
        answered_by=row.answered_by,
        answered_at=row.answered_at,
    )


class SqlDisputes:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, dispute: Dispute) -> Dispute | None:
        if self.of_day(dispute.account_no, dispute.day) is not None:
            return None
        new_id = self.conn.execute(
            disputes.insert()
            .values(
                account_no=dispute.account_no,
                meter_id=dispute.meter_id,
                day=dispute.day,
                reason=dispute.reason,
                raised_by=dispute.raised_by,
                raised_at=dispute.raised_at,
                due_at=dispute.due_at,
                evidence=json.dumps(dict(dispute.evidence), sort_keys=True),
            )
            .returning(disputes.c.dispute_id)
        ).scalar_one()
        return self.get(int(new_id))

    def of_day(self, account_no: str, day: date) -> Dispute | None:
        row = self.conn.execute(
            disputes.select().where(disputes.c.account_no == account_no, disputes.c.day == day)
        ).first()
        return None if row is None else _dispute(row)

    def get(self, dispute_id: int) -> Dispute | None:
        row = self.conn.execute(disputes.select().where(disputes.c.dispute_id == dispute_id)).first()
        return None if row is None else _dispute(row)

    def listed(self, state: State, limit: int, offset: int, q: str = "") -> list[Dispute]:
        query = disputes.select()
        if q:
            start = q.upper().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = query.where(
                sa.or_(disputes.c.account_no.like(start, escape="\\"), disputes.c.meter_id.like(start, escape="\\"))
            )
        if state == "open":
            query = query.where(disputes.c.answered_at.is_(None)).order_by(disputes.c.due_at, disputes.c.dispute_id)
        else:
            if state == "answered":
                query = query.where(disputes.c.answered_at.is_not(None))
            query = query.order_by(disputes.c.raised_at.desc(), disputes.c.dispute_id.desc())
        return [_dispute(r) for r in self.conn.execute(query.limit(limit).offset(offset))]

    def answer(self, dispute_id: int, answer: str, by: str, at: datetime) -> bool:
        done = self.conn.execute(
            disputes.update()
            .where(disputes.c.dispute_id == dispute_id, disputes.c.answered_at.is_(None))
            .values(answer=answer, answered_by=by, answered_at=at)
        )
        return done.rowcount == 1

    def holders(self, account_nos: Sequence[str]) -> dict[str, str]:
        wanted = sorted(set(account_nos))
        if not wanted:
            return {}
        a = t.accounts.c
        q = sa.select(a.account_no, a.consumer_name).where(a.account_no.in_(wanted))
        return {r.account_no: r.consumer_name for r in self.conn.execute(q)}
