"""The supply service's table: its memory per account and its due queue (on the store's one `metadata`)."""

from __future__ import annotations

import sqlalchemy as sa

from bijli.adapters.db.schema import UtcDateTime, metadata

supply_state = sa.Table(
    "supply_state",
    metadata,
    sa.Column("account_no", sa.ForeignKey("accounts.account_no"), primary_key=True),
    sa.Column("negative_since", UtcDateTime),  # the balance below zero since (NULL: it is not)
    sa.Column("recharge_ref", sa.String(96)),  # the recharge the low-balance levels refer to
    sa.Column("level_alerted", sa.SmallInteger),  # the lowest level (%) alerted since that recharge
    sa.Column("notices", sa.SmallInteger, nullable=False, server_default="0"),  # disconnect notices this spell
    sa.Column("last_warned_at", UtcDateTime),  # when supply last raised a warning
    sa.Column("permit_sent", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("cut", sa.Boolean, nullable=False, server_default=sa.false()),  # supply holds the relay open
    sa.Column("cut_command_id", sa.String(40)),  # the open disconnect command
    sa.Column("reconnect_command_id", sa.String(40)),  # the open reconnect command
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),  # commands that ended without effect
    sa.Column("next_check_at", UtcDateTime, index=True),  # the due queue (NULL: only a new fact wakes it)
    # charges that may lower the balance before supply looks again (NULL: none wake it)
    sa.Column("headroom_paise", sa.BigInteger, server_default="0"),
    sa.Column("updated_at", UtcDateTime),
)
