"""Revenue-protection cases: the cases, their audited steps, and the rounds' cursors.

`cases` holds one row per incident (`key` unique; `case_id` derived from it), its status in
the workflow, its subject (a meter or a transformer), the reason in English and Hindi and the
evidence the detector saw. `case_actions` is the audit of every step (who, when, why), and its
ids are the cases' live stream. `round_cursors` remembers where a round (the cases' reading of
new events) got to; `events` gets an index on `received_at` for it.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(16), primary_key=True),
        sa.Column("key", sa.String(160), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("subject_level", sa.String(12), nullable=False),
        sa.Column("subject_id", sa.String(32), nullable=False),
        sa.Column("area", sa.String(64), nullable=False),
        sa.Column("account_no", sa.String(32), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assignee", sa.String(64), nullable=True),
        sa.Column("reason_code", sa.String(48), nullable=False),
        sa.Column("reason_en", sa.String(512), nullable=False),
        sa.Column("reason_hi", sa.String(512), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
    )
    op.create_index("ix_cases_opened_at", "cases", ["opened_at"])
    op.create_index("ix_cases_status_opened_at", "cases", ["status", "opened_at"])
    op.create_index("ix_cases_subject_id", "cases", ["subject_id"])
    op.create_table(
        "case_actions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(16), sa.ForeignKey("cases.case_id"), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(512), nullable=False),
        sa.Column("assignee", sa.String(64), nullable=True),
    )
    op.create_index("ix_case_actions_case_id_id", "case_actions", ["case_id", "id"])
    op.create_table(
        "round_cursors",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_events_received_at", "events", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_events_received_at", table_name="events")
    op.drop_table("round_cursors")
    op.drop_index("ix_case_actions_case_id_id", table_name="case_actions")
    op.drop_table("case_actions")
    op.drop_index("ix_cases_subject_id", table_name="cases")
    op.drop_index("ix_cases_status_opened_at", table_name="cases")
    op.drop_index("ix_cases_opened_at", table_name="cases")
    op.drop_table("cases")
