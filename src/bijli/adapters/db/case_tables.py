"""The cases' tables: the cases, their audited steps, and the rounds' cursors (on the store's
one `metadata`)."""

from __future__ import annotations

import sqlalchemy as sa

from bijli.adapters.db.schema import BigId, UtcDateTime, events, metadata

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("case_id", sa.String(16), primary_key=True),  # C- and 12 hex digits of the key's hash
    sa.Column("key", sa.String(160), nullable=False, unique=True),  # one case per incident
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("severity", sa.String(8), nullable=False),  # low | medium | high
    sa.Column("status", sa.String(16), nullable=False),  # new | assigned | inspected | confirmed_theft | ...
    sa.Column("subject_level", sa.String(12), nullable=False),  # meter | transformer
    sa.Column("subject_id", sa.String(32), nullable=False),
    sa.Column("area", sa.String(64), nullable=False),
    sa.Column("account_no", sa.String(32)),  # the consumer told of it (a meter's account)
    sa.Column("opened_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("assignee", sa.String(64)),
    sa.Column("reason_code", sa.String(48), nullable=False),
    sa.Column("reason_en", sa.String(512), nullable=False),
    sa.Column("reason_hi", sa.String(512), nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.Column("staff_told", sa.SmallInteger),  # field staff its opening alerted (NULL: none were to be)
    sa.Index("ix_cases_opened_at", "opened_at"),
    sa.Index("ix_cases_status_opened_at", "status", "opened_at"),
    sa.Index("ix_cases_subject_id", "subject_id"),
)

case_actions = sa.Table(
    "case_actions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),  # the live stream's event id
    sa.Column("case_id", sa.ForeignKey("cases.case_id"), nullable=False),
    sa.Column("step", sa.String(16), nullable=False),  # open | assign | inspect | confirm | ...
    sa.Column("from_status", sa.String(16)),  # NULL for the opening
    sa.Column("to_status", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("reason", sa.String(512), nullable=False),
    sa.Column("assignee", sa.String(64)),
    sa.Index("ix_case_actions_case_id_id", "case_id", "id"),
)

round_cursors = sa.Table(
    "round_cursors",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),  # which round: cases, ...
    sa.Column("at", UtcDateTime, nullable=False),  # where it got to
)

events_received_at = sa.Index("ix_events_received_at", events.c.received_at)
"""The cases' round reads the events by when they were received."""
