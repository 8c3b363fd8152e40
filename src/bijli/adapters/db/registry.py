"""The registry table group: meters, their accounts, and the meters' status history."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bijli.accounts.model import Installation, MeterSite
from bijli.adapters.db import schema as t
from bijli.adapters.db.sql import among, is_pg
from bijli.mdm.meters import MeterStatus, StatusChange


def _changes() -> sa.Select[Any]:
    """The status changes' columns, as `StatusChange` has them."""
    ch = t.meter_status_changes.c
    return sa.select(ch.meter_id, ch.at, ch.from_status, ch.to_status, ch.changed_by, ch.reason)


class SqlRegistry:
    """The `meters`, `consumers`, `accounts`, `installations` and `meter_status_changes` tables."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def known(self, meter_ids: Iterable[str]) -> set[str]:
        ids = sorted(set(meter_ids))
        if not ids:
            return set()
        return set(self.conn.execute(sa.select(t.meters.c.meter_id).where(t.meters.c.meter_id.in_(ids))).scalars())

    def sites(self, meter_ids: Sequence[str]) -> dict[str, tuple[MeterSite, str]]:
        ids = sorted(set(meter_ids))
        if not ids:
            return {}
        m = t.meters.c
        q = sa.select(m.meter_id, m.area, m.feeder, m.transformer, m.phases, m.status).where(
            among(self.conn, m.meter_id, ids)
        )
        return {
            r.meter_id: (
                MeterSite(
                    meter_id=r.meter_id, area=r.area, feeder=r.feeder, transformer=r.transformer, phases=r.phases
                ),
                r.status,
            )
            for r in self.conn.execute(q)
        }

    def register(self, sites: Sequence[tuple[MeterSite, datetime]]) -> None:
        if not sites:
            return
        self.conn.execute(
            t.meters.insert(),
            [
                {
                    "meter_id": s.meter_id,
                    "area": s.area,
                    "feeder": s.feeder,
                    "transformer": s.transformer,
                    "phases": s.phases,
                    "status": MeterStatus.COMMISSIONED.value,
                    "installed_at": at,
                }
                for s, at in sites
            ],
        )
        self.conn.execute(t.meter_state.insert(), [{"meter_id": s.meter_id, "last_fc": 0} for s, _ in sites])

    def move(self, sites: Sequence[MeterSite]) -> None:
        if not sites:
            return
        m = t.meters.c
        self.conn.execute(
            t.meters.update()
            .where(m.meter_id == sa.bindparam("b_meter"))
            .values(
                area=sa.bindparam("b_area"),
                feeder=sa.bindparam("b_feeder"),
                transformer=sa.bindparam("b_transformer"),
                phases=sa.bindparam("b_phases"),
            ),
            [
                {
                    "b_meter": s.meter_id,
                    "b_area": s.area,
                    "b_feeder": s.feeder,
                    "b_transformer": s.transformer,
                    "b_phases": s.phases,
                }
                for s in sites
            ],
        )

    def installations_for(
        self, meter_ids: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[Installation]]:
        ids = sorted(set(meter_ids))
        if not ids:
            return {}
        i = t.installations.c
        q = (
            sa.select(
                i.account_no, i.meter_id, i.installed_at, i.opening_wh_total, i.removed_at, i.closing_wh_total, i.reason
            )
            .where(among(self.conn, i.meter_id, ids), i.installed_at < end)
            .where(sa.or_(i.removed_at.is_(None), i.removed_at > start))
            .order_by(i.meter_id, i.installed_at, i.id)
        )
        found: dict[str, list[Installation]] = defaultdict(list)
        for r in self.conn.execute(q):
            found[r.meter_id].append(Installation(**r._asdict()))
        return dict(found)

    def status(self, meter_id: str) -> str | None:
        """The meter's status now; None for a meter that is not registered."""
        found: str | None = self.conn.execute(
            sa.select(t.meters.c.status).where(t.meters.c.meter_id == meter_id)
        ).scalar()
        return found

    def status_for_command(self, meter_id: str) -> str | None:
        q = sa.select(t.meters.c.status).where(t.meters.c.meter_id == meter_id)
        if is_pg(self.conn):
            # Shared: a decommissioning meanwhile waits for this command, then ends it; or this
            # waits for the decommissioning, then sees the meter out of service.
            q = q.with_for_update(read=True)
        found: str | None = self.conn.execute(q).scalar()
        return found

    def status_for_change(self, meter_id: str) -> str | None:
        q = sa.select(t.meters.c.status).where(t.meters.c.meter_id == meter_id)
        if is_pg(self.conn):
            q = q.with_for_update(key_share=True)  # FOR NO KEY UPDATE: new commands' key checks go on
        found: str | None = self.conn.execute(q).scalar()
        return found

    def set_status(self, meter_id: str, current: str, new: str) -> bool:
        m = t.meters.c
        moved = self.conn.execute(
            t.meters.update().where(m.meter_id == meter_id, m.status == current).values(status=new)
        )
        return bool(moved.rowcount == 1)

    def log_change(self, change: StatusChange) -> None:
        self.conn.execute(t.meter_status_changes.insert(), [asdict(change)])

    def history(self, meter_id: str) -> list[StatusChange]:
        ch = t.meter_status_changes.c
        q = _changes().where(ch.meter_id == meter_id).order_by(ch.at.desc(), ch.id.desc())
        return [StatusChange(**r._asdict()) for r in self.conn.execute(q)]

    def changes_after(self, meter_ids: Sequence[str], since: datetime) -> dict[str, list[StatusChange]]:
        ch = t.meter_status_changes.c
        q = _changes().where(ch.meter_id.in_(list(meter_ids)), ch.at > since).order_by(ch.meter_id, ch.at, ch.id)
        found: dict[str, list[StatusChange]] = defaultdict(list)
        for r in self.conn.execute(q):
            found[r.meter_id].append(StatusChange(**r._asdict()))
        return dict(found)


def in_service_throughout(start: datetime, end: datetime) -> tuple[sa.Subquery, sa.ColumnElement[bool]]:
    """For a query over `meters`: whether the meter was commissioned for the whole of [start,
    end). The SQL of `bijli.mdm.meters.in_service_throughout`, for the whole fleet at once: each
    meter's first status change after `start` (a subquery to join on `meter_id`, outer: most
    meters have none), and the condition on it (its status before that change, or its status
    now without one, was commissioned; and that change came at `end` or later)."""
    ch, m = t.meter_status_changes.c, t.meters.c
    numbered = (
        sa.select(
            ch.meter_id,
            ch.from_status,
            ch.at,
            sa.func.row_number().over(partition_by=ch.meter_id, order_by=(ch.at, ch.id)).label("n"),
        )
        .where(ch.at > start)
        .subquery()
    )
    first_after = (
        sa.select(numbered.c.meter_id, numbered.c.from_status, numbered.c.at).where(numbered.c.n == 1).subquery()
    )
    in_service = sa.and_(
        sa.func.coalesce(first_after.c.from_status, m.status) == MeterStatus.COMMISSIONED.value,
        sa.or_(first_after.c.at.is_(None), first_after.c.at >= end),
    )
    return first_after, in_service
