"""The collection report from each meter's day, not from the fleet's readings of the day.

`meter_daily` gains `in_8h` and `in_24h`: of the day's actual intervals settled, those received
within 8 h and within 24 h of the day's end. Settlement adds to them as it adds the day's energy,
so the report reads one row per meter (24,000 at fleet size) instead of the day's readings
(2.3 million). The estimates still standing are few and found through a partial index on the
readings that are not actual.

The figures of the days already stored are worked out here from their readings (one pass over
the readings table: on a large store, run `bijli db upgrade` in a maintenance window). Readings
still waiting in the settlement queue are left out: settling them adds them.

Revision ID: 0029
Revises: 0028
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

IST = timedelta(hours=5, minutes=30)
WITHIN = (timedelta(hours=8), timedelta(hours=24))

_PG_BACKFILL = """
UPDATE meter_daily AS d SET in_8h = c.in_8h, in_24h = c.in_24h FROM (
    SELECT r.meter_id, (r.interval_start AT TIME ZONE 'Asia/Kolkata')::date AS day,
        count(*) FILTER (WHERE r.received_at <= (((r.interval_start AT TIME ZONE 'Asia/Kolkata')::date + 1)
            + interval '8 hours') AT TIME ZONE 'Asia/Kolkata') AS in_8h,
        count(*) FILTER (WHERE r.received_at <= (((r.interval_start AT TIME ZONE 'Asia/Kolkata')::date + 1)
            + interval '24 hours') AT TIME ZONE 'Asia/Kolkata') AS in_24h
    FROM readings AS r
    WHERE r.quality = 'actual' AND NOT EXISTS (
        SELECT 1 FROM queued_readings AS q WHERE q.meter_id = r.meter_id AND q.interval_start = r.interval_start)
    GROUP BY 1, 2
) AS c WHERE d.meter_id = c.meter_id AND d.day = c.day
"""


def _queued(bind: sa.Connection) -> set[tuple[str, int]]:
    """The (meter, interval start) of the readings waiting in the settlement queue."""
    decoder = msgspec.msgpack.Decoder(list[tuple[str, int, int]])
    queued: set[tuple[str, int]] = set()
    for (blob,) in bind.execute(sa.text("SELECT readings FROM settlement_queue")):
        queued.update((m, at) for m, at, _ in decoder.decode(blob))
    return queued


def _utc(value: object) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _backfill_sqlite(bind: sa.Connection, queued: set[tuple[str, int]]) -> None:
    days: dict[tuple[str, str], list[int]] = {}
    rows = bind.execute(sa.text("SELECT meter_id, interval_start, received_at FROM readings WHERE quality = 'actual'"))
    for meter_id, start_text, received_text in rows:
        start = _utc(start_text)
        if (meter_id, int(start.timestamp())) in queued:
            continue
        day = (start + IST).date()
        end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1) - IST
        received = _utc(received_text)
        counts = days.setdefault((meter_id, day.isoformat()), [0, 0])
        counts[0] += received <= end + WITHIN[0]
        counts[1] += received <= end + WITHIN[1]
    if days:
        bind.execute(
            sa.text(
                "UPDATE meter_daily SET in_8h = :in_8h, in_24h = :in_24h WHERE meter_id = :meter_id AND day = :day"
            ),
            [{"meter_id": m, "day": d, "in_8h": n8, "in_24h": n24} for (m, d), (n8, n24) in days.items()],
        )


def upgrade() -> None:
    with op.batch_alter_table("meter_daily") as batch:
        batch.add_column(sa.Column("in_8h", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("in_24h", sa.Integer(), nullable=False, server_default="0"))
    bind = op.get_bind()
    queued = _queued(bind)
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text("CREATE TEMPORARY TABLE queued_readings (meter_id text, interval_start timestamptz)"))
        if queued:
            bind.execute(
                sa.text("INSERT INTO queued_readings VALUES (:m, to_timestamp(:at))"),
                [{"m": m, "at": at} for m, at in sorted(queued)],
            )
        bind.execute(sa.text(_PG_BACKFILL))
        bind.execute(sa.text("DROP TABLE queued_readings"))
    else:
        _backfill_sqlite(bind, queued)
    op.create_index(
        "ix_readings_estimated",
        "readings",
        ["interval_start", "meter_id"],
        postgresql_where=sa.text("quality <> 'actual'"),
        sqlite_where=sa.text("quality <> 'actual'"),
    )


def downgrade() -> None:
    op.drop_index("ix_readings_estimated", table_name="readings")
    with op.batch_alter_table("meter_daily") as batch:
        batch.drop_column("in_24h")
        batch.drop_column("in_8h")
