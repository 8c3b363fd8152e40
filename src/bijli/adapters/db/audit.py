"""The audit trail, read side: who asked for what, from the tables that record it (commands,
meter status changes, bulk requests and their decisions), newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bijli.adapters.db import schema as t


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    at: datetime
    who: str
    what: str
    """``command:<action>``, ``status:<from>-><to>``, ``bulk:<action>`` or ``bulk-approved``/``bulk-refused``."""
    meter_id: str | None
    reference: str
    """The command id, bulk request id or status change id it comes from."""
    detail: str


def _trail() -> sa.Subquery:
    c, s, b = t.commands.c, t.meter_status_changes.c, t.bulk_requests.c
    text = sa.String()
    parts = [
        sa.select(
            c.created_at.label("at"),
            c.requested_by.label("who"),
            ("command:" + c.action).label("what"),
            c.meter_id.label("meter_id"),
            c.command_id.label("reference"),
            c.reason.label("detail"),
        ),
        sa.select(
            s.at,
            s.changed_by,
            ("status:" + s.from_status + "->" + s.to_status),
            s.meter_id,
            sa.cast(s.id, text),
            s.reason,
        ),
        sa.select(
            b.requested_at,
            b.requested_by,
            ("bulk:" + b.action),
            sa.null(),
            b.request_id,
            b.reason,
        ),
        sa.select(
            b.decided_at,
            b.decided_by,
            ("bulk-" + b.status),
            sa.null(),
            b.request_id,
            b.note,
        ).where(b.decided_at.is_not(None)),
    ]
    return sa.union_all(*parts).subquery("trail")


class AuditTrail:
    """The audit trail over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def entries(self, limit: int, offset: int) -> list[AuditEntry]:
        """A page of entries, newest first."""
        trail = _trail()
        page = (
            sa.select(trail)
            .order_by(trail.c.at.desc(), trail.c.reference.desc(), trail.c.what)
            .limit(limit)
            .offset(offset)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(page).all()
        return [
            AuditEntry(
                at=r.at,
                who=r.who,
                what=r.what,
                meter_id=r.meter_id,
                reference=r.reference,
                detail=r.detail,
            )
            for r in rows
        ]
