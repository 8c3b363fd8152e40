"""The areas staff work (on the store's one `metadata`): a case opened in one alerts them."""

from __future__ import annotations

import sqlalchemy as sa

from bijli.adapters.db.schema import metadata

staff_areas = sa.Table(
    "staff_areas",
    metadata,
    sa.Column("username", sa.ForeignKey("staff.username"), primary_key=True),
    sa.Column("area", sa.String(64), primary_key=True),  # an area they work: its cases reach them
    sa.Index("ix_staff_areas_area", "area"),
)
