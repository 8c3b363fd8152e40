"""The energy accounting's table: each transformer's balance per IST day (on the store's one
`metadata`)."""

from __future__ import annotations

import sqlalchemy as sa

from bijli.adapters.db.schema import UtcDateTime, metadata

energy_days = sa.Table(
    "energy_days",
    metadata,
    sa.Column("transformer", sa.String(32), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("feeder", sa.String(32), nullable=False),
    sa.Column("area", sa.String(64), nullable=False),
    sa.Column("consumers", sa.Integer, nullable=False),
    sa.Column("supplied_wh", sa.BigInteger, nullable=False),
    sa.Column("supplied_estimated_wh", sa.BigInteger, nullable=False),
    sa.Column("billed_wh", sa.BigInteger, nullable=False),
    sa.Column("billed_estimated_wh", sa.BigInteger, nullable=False),
    sa.Column("intervals", sa.Integer, nullable=False),  # the transformer meter's, compared
    sa.Column("consumer_intervals", sa.Integer, nullable=False),  # consumers' readings in them
    # JSON [[supplied Wh or null, supplied estimated 0/1, billed Wh, billed estimated Wh,
    # consumers reporting], ...]: the day's 96 intervals, in order.
    sa.Column("slots", sa.Text, nullable=False),
    sa.Column("unexplained_w", sa.Integer),  # the fitted constant loss (no-load and hooks); NULL: no fit
    sa.Column("night_w", sa.Integer),  # the fitted night-only loss (street lights)
    sa.Column("excess_w", sa.Integer),  # watts lost beyond the transformer's own usual days
    sa.Column("flagged", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("computed_at", UtcDateTime, nullable=False),
    sa.Index("ix_energy_days_day_area", "day", "area"),
)
