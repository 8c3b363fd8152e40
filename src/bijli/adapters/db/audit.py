"""The audit trail, read side: who asked for what, from the tables that record it (commands,
meter status changes, bulk requests and their decisions), newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bijli.adapters.db import schema as t
from bijli.adapters.db.disputes import disputes
from bijli.adapters.db.sharing import share_links


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    at: datetime
    who: str
    what: str
    """``command:<action>``, ``status:<from>-><to>``, ``bulk:<action>``, ``bulk-approved``/``bulk-refused``,
    ``share-made``/``share-revoked`` or ``dispute-answered``."""
    meter_id: str | None
    reference: str
    """The command id, bulk request id, status change id, share link id or dispute id it comes from."""
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
        *_households(),
    ]
    return sa.union_all(*parts).subquery("trail")


def _households() -> list[sa.Select[Any]]:
    """Share links made and revoked (the detail: the link's name), and disputes answered
    (the detail: the answer)."""
    k, d = share_links.c, disputes.c
    text = sa.String()
    named = sa.func.coalesce(k.name, "")
    return [
        sa.select(k.made_at, k.made_by, sa.literal("share-made"), k.meter_id, sa.cast(k.link_id, text), named),
        sa.select(
            k.revoked_at, k.revoked_by, sa.literal("share-revoked"), k.meter_id, sa.cast(k.link_id, text), named
        ).where(k.revoked_at.is_not(None)),
        sa.select(
            d.answered_at,
            d.answered_by,
            sa.literal("dispute-answered"),
            d.meter_id,
            sa.cast(d.dispute_id, text),
            d.answer,
        ).where(d.answered_at.is_not(None)),
    ]


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
