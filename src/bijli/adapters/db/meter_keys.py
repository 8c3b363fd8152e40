"""The meter_keys table: each meter's key version, and the one a key change moves it to."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bijli.adapters.db import schema as t
from bijli.headend.commands import OPEN
from bijli.headend.records import KeyCount
from bijli.mdm.meters import MeterStatus
from bijli.protocol.frames import KEY_CHANGE


class SqlMeterKeys:
    """Key versions by meter; a meter without a row holds the site's current version."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def versions_of(self, meter_ids: Iterable[str]) -> dict[str, int]:
        ids = sorted(set(meter_ids))
        if not ids:
            return {}
        k = t.meter_keys.c
        return {m: v for m, v in self.conn.execute(sa.select(k.meter_id, k.version).where(k.meter_id.in_(ids)))}

    def changing(self) -> int:
        k, c = t.meter_keys.c, t.commands.c
        waiting = sa.exists().where(
            c.meter_id == k.meter_id, c.action == KEY_CHANGE, c.status.in_([s.value for s in OPEN])
        )
        q = sa.select(sa.func.count()).select_from(t.meter_keys).where(k.pending.is_not(None), waiting)
        return int(self.conn.execute(q).scalar_one())

    def begin_change(self, current: int, to: int, now: datetime) -> list[str]:
        k, m = t.meter_keys.c, t.meters.c
        unseen = (
            sa.select(m.meter_id, sa.literal(current), sa.literal(now, t.UtcDateTime))
            .outerjoin(t.meter_keys, k.meter_id == m.meter_id)
            .where(k.meter_id.is_(None))
        )
        self.conn.execute(t.meter_keys.insert().from_select(["meter_id", "version", "changed_at"], unseen))
        moving = sa.select(m.meter_id).where(m.status == MeterStatus.COMMISSIONED.value)
        ids = sorted(
            self.conn.execute(
                sa.select(k.meter_id).where(k.meter_id.in_(moving), k.version != to).with_for_update()
            ).scalars()
        )
        if ids:
            self.conn.execute(t.meter_keys.update().where(k.meter_id.in_(ids)).values(pending=to, changed_at=now))
        return ids

    def switch(self, meter_ids: Sequence[str], now: datetime) -> int:
        ids = sorted(set(meter_ids))
        if not ids:
            return 0
        k = t.meter_keys.c
        done = self.conn.execute(
            t.meter_keys.update()
            .where(k.meter_id.in_(ids), k.pending.is_not(None))
            .values(version=k.pending, pending=None, changed_at=now)
        )
        return int(done.rowcount)

    def held(self, current: int, in_service: bool = False) -> dict[str, int]:
        k, m = t.meter_keys.c, t.meters.c
        q = sa.select(m.meter_id, sa.func.coalesce(k.version, current)).outerjoin(
            t.meter_keys, k.meter_id == m.meter_id
        )
        if in_service:
            q = q.where(m.status == MeterStatus.COMMISSIONED.value)
        return {meter_id: int(v) for meter_id, v in self.conn.execute(q.order_by(m.meter_id))}

    def counts(self, current: int) -> list[KeyCount]:
        k, m = t.meter_keys.c, t.meters.c
        rows = self.conn.execute(sa.select(k.version, k.pending, sa.func.count()).group_by(k.version, k.pending))
        found = [KeyCount(version=v, pending=p, meters=n) for v, p, n in rows]
        unseen = self.conn.execute(
            sa.select(sa.func.count())
            .select_from(t.meters.outerjoin(t.meter_keys, k.meter_id == m.meter_id))
            .where(k.meter_id.is_(None))
        ).scalar_one()
        if unseen:
            found.append(KeyCount(version=current, pending=None, meters=int(unseen)))
        return found
