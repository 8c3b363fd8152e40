"""What meters send besides readings (events, daily registers, token redemptions), the
quarantine of what was refused, and the log of ingest batches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.engine import Connection

from bijli.adapters.db import schema as t
from bijli.adapters.db.sql import insert_ignoring
from bijli.headend.records import BatchLog, DailyRegister, MeterEvent, QuarantineRecord, TokenRedemption
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
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

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
