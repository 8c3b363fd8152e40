"""The settlement_queue table: ingest batches' new actual readings, waiting to be settled.

Each row holds up to `SETTLEMENT_CHUNK` readings (msgpack of (meter, interval start, sent)),
so a settlement transaction stays short however large the ingest batch was. Settlers share
the queue with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bijli.adapters.db import schema as t
from bijli.adapters.db.sql import is_pg
from bijli.kernel.time import utc_from_epoch
from bijli.mdm.ports import QueuedBatch, QueuedReading

SETTLEMENT_CHUNK = 500
"""Readings per settlement queue row: a settlement transaction stays short (a fraction of a
second) however large the ingest batch was, so new messages never wait long behind one."""
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(list[tuple[str, int, int]])


class SqlSettlementQueue:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def enqueue(self, readings: Sequence[QueuedReading], now: datetime) -> None:
        chunks = [readings[at : at + SETTLEMENT_CHUNK] for at in range(0, len(readings), SETTLEMENT_CHUNK)]
        if chunks:
            self.conn.execute(
                t.settlement_queue.insert(),
                [{"enqueued_at": now, "readings": _encoder.encode(chunk)} for chunk in chunks],
            )

    def newest(self) -> int | None:
        return self.conn.execute(sa.select(sa.func.max(t.settlement_queue.c.id))).scalar_one_or_none()

    def claim(self, limit: int, last: int | None = None) -> list[QueuedBatch]:
        q = t.settlement_queue.c
        query = sa.select(q.id, q.readings).order_by(q.id).limit(limit)
        if last is not None:
            query = query.where(q.id <= last)
        if is_pg(self.conn):
            query = query.with_for_update(skip_locked=True)
        return [
            QueuedBatch(row.id, [(m, utc_from_epoch(at), sent) for m, at, sent in _decoder.decode(row.readings)])
            for row in self.conn.execute(query).all()
        ]

    def done(self, batch_ids: Sequence[int]) -> None:
        if batch_ids:
            self.conn.execute(t.settlement_queue.delete().where(t.settlement_queue.c.id.in_(batch_ids)))
