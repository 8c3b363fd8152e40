"""The network area's table: outages found (on the store's one `metadata`)."""

from __future__ import annotations

import sqlalchemy as sa

from bijli.adapters.db.schema import BigId, UtcDateTime, metadata

outages = sa.Table(
    "outages",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(200), nullable=False, unique=True),  # level:area:subject:start epoch
    sa.Column("level", sa.String(16), nullable=False),  # feeder | transformer | operator
    sa.Column("subject", sa.String(64), nullable=False),  # the feeder, the transformer, the operator
    sa.Column("area", sa.String(64), nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False, index=True),
    sa.Column("ended_at", UtcDateTime),  # NULL while it lasts
    sa.Column("meters", sa.Integer, nullable=False),
    sa.Column("meter_ids", sa.Text, nullable=False),  # a JSON list
    sa.Column("found_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)
