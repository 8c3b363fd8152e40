"""What meters send besides readings (events, daily registers, token redemptions), the
quarantine of what was refused, and the log of ingest batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bijli.adapters.db import schema as t
from bijli.adapters.db.sql import insert_ignoring, is_pg
from bijli.headend.records import BatchLog, DailyRegister, KeptFrame, MeterEvent, QuarantineRecord, TokenRedemption
from bijli.kernel.time import utc_from_epoch


class SqlReceived:
    """The `events`, `daily_registers` and `token_redemptions` tables (each kept once)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_events(self, events: Sequence[MeterEvent], now: datetime) -> None:
        rows = [
            {"meter_id": e.meter_id, "code": e.code, "occurred_at": utc_from_epoch(e.occurred_at), "received_at": now}
            for e in events
        ]
        insert_ignoring(self.conn, t.events, rows, ["meter_id", "code", "occurred_at"])

    def add_daily_registers(self, days: Sequence[DailyRegister], now: datetime) -> None:
        rows = [
            {
                "meter_id": d.meter_id,
                "day_start": utc_from_epoch(d.day_start),
                "import_wh_total": d.import_wh_total,
                "export_wh_total": d.export_wh_total,
                "import_vah_total": d.import_vah_total,
                "received_at": now,
            }
            for d in days
        ]
        insert_ignoring(self.conn, t.daily_registers, rows, ["meter_id", "day_start"])

    def add_redemptions(self, redemptions: Sequence[TokenRedemption], now: datetime) -> None:
        rows = [
            {
                "meter_id": r.meter_id,
                "token_id": r.token_id,
                "status": r.status,
                "amount_paise": r.amount_paise,
                "redeemed_at": utc_from_epoch(r.redeemed_at),
                "received_at": now,
            }
            for r in redemptions
        ]
        insert_ignoring(self.conn, t.token_redemptions, rows, ["meter_id", "token_id"])


class SqlQuarantine:
    """The `quarantine` table: what was refused, with the reason; reprocessed rows stay, marked."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def waiting(self, reasons: Sequence[str], meter_id: str | None, after_id: int, limit: int) -> list[KeptFrame]:
        q = t.quarantine.c
        query = (
            sa.select(q.id, q.received_at, q.topic, q.meter_id, q.reason, q.detail, q.payload)
            .where(q.reprocessed_at.is_(None), q.reason.in_(list(reasons)), q.id > after_id)
            .order_by(q.id)
            .limit(limit)
        )
        if meter_id is not None:
            query = query.where(q.meter_id == meter_id)
        if is_pg(self.conn):
            query = query.with_for_update(skip_locked=True)
        return [
            KeptFrame(
                id=int(r.id),
                received_at=r.received_at,
                topic=r.topic,
                meter_id=r.meter_id,
                reason=r.reason,
                detail=r.detail,
                payload=bytes(r.payload),
            )
            for r in self.conn.execute(query)
        ]

    def mark_reprocessed(self, outcomes: Mapping[int, str], now: datetime) -> None:
        if outcomes:
            q = t.quarantine.c
            self.conn.execute(
                t.quarantine.update()
                .where(q.id == sa.bindparam("kept_id"))
                .values(reprocessed_at=sa.bindparam("at"), outcome=sa.bindparam("what")),
                [{"kept_id": i, "at": now, "what": outcome[:32]} for i, outcome in outcomes.items()],
            )

    def keep(self, records: Sequence[QuarantineRecord], now: datetime) -> None:
        if records:
            self.conn.execute(
                t.quarantine.insert(),
                [
                    {
                        "received_at": now,
                        "topic": r.topic,
                        "meter_id": r.meter_id,
                        "reason": r.reason,
                        "detail": r.detail,
                        "payload": r.payload,
                    }
                    for r in records
                ],
            )


class SqlIngestLog:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, entry: BatchLog) -> None:
        self.conn.execute(
            t.ingest_batches.insert(),
            [
                {
                    "worker": entry.worker,
                    "committed_at": entry.committed_at,
                    "received": entry.received,
                    "readings_stored": entry.readings_stored,
                    "readings_duplicate": entry.readings_duplicate,
                    "readings_replaced": entry.readings_replaced,
                    "quarantined": entry.quarantined,
                }
            ],
        )
