"""Meters' lifecycle in the store: status changes and their audit trail.

A change is one transaction: the meter's row is locked and updated, the change is written to
`meter_status_changes` (who, when, why) and, when the meter is decommissioned, every command
of it that has not settled ends ``failed``, in the commands' own audit trail. The rules are
`bijli.headend.meters`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bijli.adapters.db import commands
from bijli.adapters.db import schema as t
from bijli.adapters.db.commands import UnknownMeter
from bijli.headend.commands import decommissioned_step
from bijli.headend.meters import MeterStatus, RefusedChange, StatusChange, check_audit, check_change

__all__ = [
    "RefusedChange",
    "UnknownMeter",
    "change_status",
    "changes_after",
    "history",
    "in_service_throughout",
    "status",
]


def change_status(
    engine: Engine, meter_id: str, to: str, *, changed_by: str, reason: str, now: datetime
) -> tuple[StatusChange, int]:
    """Move a meter to status `to`, with who and why; (the change, how many unsettled commands
    it ended). UnknownMeter, RefusedChange, or ValueError for a missing name or reason: then
    nothing changes."""
    check_audit(changed_by, reason)
    m = t.meters.c
    with engine.begin() as conn:
        q = sa.select(m.status).where(m.meter_id == meter_id)
        if conn.dialect.name == "postgresql":
            q = q.with_for_update(key_share=True)  # FOR NO KEY UPDATE: new commands' key checks go on
        current = conn.execute(q).scalar()
        if current is None:
            raise UnknownMeter(meter_id)
        new = check_change(meter_id, current, to)
        moved = conn.execute(
            t.meters.update().where(m.meter_id == meter_id, m.status == current).values(status=new.value)
        )
        if moved.rowcount != 1:  # SQLite: another change came between our read and our write
            raise RefusedChange(f"meter {meter_id} changed status meanwhile; look at its history and try again")
        change = StatusChange(
            meter_id=meter_id, at=now, from_status=current, to_status=new.value, changed_by=changed_by, reason=reason
        )
        conn.execute(t.meter_status_changes.insert(), [asdict(change)])
        ended = 0
        if new == MeterStatus.DECOMMISSIONED:
            ended = commands.end_unsettled(conn, meter_id, decommissioned_step(reason), now)
    return change, ended


def _changes() -> sa.Select[Any]:
    """The status changes' columns, as `StatusChange` has them."""
    ch = t.meter_status_changes.c
    return sa.select(ch.meter_id, ch.at, ch.from_status, ch.to_status, ch.changed_by, ch.reason)


def status(conn: Connection, meter_id: str) -> str | None:
    """The meter's status now; None for a meter that is not registered."""
    found: str | None = conn.execute(sa.select(t.meters.c.status).where(t.meters.c.meter_id == meter_id)).scalar()
    return found


def history(conn: Connection, meter_id: str) -> list[StatusChange]:
    """The meter's status changes, newest first."""
    ch = t.meter_status_changes.c
    q = _changes().where(ch.meter_id == meter_id).order_by(ch.at.desc(), ch.id.desc())
    return [StatusChange(**r._asdict()) for r in conn.execute(q)]


def changes_after(conn: Connection, meter_ids: Sequence[str], since: datetime) -> dict[str, list[StatusChange]]:
    """Each of these meters' status changes after `since`, oldest first (meters without any are left out)."""
    ch = t.meter_status_changes.c
    q = _changes().where(ch.meter_id.in_(list(meter_ids)), ch.at > since).order_by(ch.meter_id, ch.at, ch.id)
    found: dict[str, list[StatusChange]] = defaultdict(list)
    for r in conn.execute(q):
        found[r.meter_id].append(StatusChange(**r._asdict()))
    return found


def in_service_throughout(start: datetime, end: datetime) -> sa.ColumnElement[bool]:
    """For a query over `meters`: the meter was commissioned for the whole of [start, end).
    The SQL of `bijli.headend.meters.in_service_throughout`, meter by meter."""
    ch, m = t.meter_status_changes.c, t.meters.c
    first_after = (
        sa.select(ch.from_status)
        .where(ch.meter_id == m.meter_id, ch.at > start)
        .order_by(ch.at, ch.id)
        .limit(1)
        .scalar_subquery()
    )
    changed_within = sa.exists().where(ch.meter_id == m.meter_id, ch.at > start, ch.at < end)
    return sa.and_(sa.func.coalesce(first_after, m.status) == MeterStatus.COMMISSIONED.value, ~changed_within)
