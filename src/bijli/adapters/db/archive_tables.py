"""Archived months of readings: one row per Parquet file `bijli db archive` wrote (on the store's one `metadata`)."""

from __future__ import annotations

import sqlalchemy as sa

from bijli.adapters.db.schema import UtcDateTime, metadata

reading_archives = sa.Table(
    "reading_archives",
    metadata,
    sa.Column("month", sa.String(7), primary_key=True),  # YYYY-MM, the IST month
    sa.Column("path", sa.String(1024), primary_key=True),  # the file, absolute
    sa.Column("first_meter", sa.String(32), nullable=False),
    sa.Column("last_meter", sa.String(32), nullable=False),
    sa.Column("meters", sa.Integer, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),  # sha256 of the verified per-meter figures
    sa.Column("archived_at", UtcDateTime, nullable=False),
)
