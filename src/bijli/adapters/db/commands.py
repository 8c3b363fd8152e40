"""The commands table group: commands to meters and their audit trail (`command_log`).

Every change of a command is a conditional ``UPDATE … WHERE status = <what it was>`` plus a
row in `command_log`, in one transaction, so several dispatchers (and the ingest recording
acks) never move one command twice. The dispatcher's rounds are in
`bijli.adapters.db.dispatch`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bijli.adapters.db import schema as t
from bijli.adapters.db.sql import is_pg
from bijli.adapters.db.supply import mark_meters_due
from bijli.headend.command_records import CommandRecord, CommandState, HistoryEntry
from bijli.headend.commands import OPEN, Status, Step, check_move, settled
from bijli.protocol.frames import CUTOFF_PERMIT
from bijli.protocol.relay import RelayState


def log_row(command_id: str, at: datetime, status: Status, detail: str) -> dict[str, Any]:
    return {"command_id": command_id, "at": at, "status": status.value, "detail": detail[:4000]}


RELAY_AFTER: Final[Mapping[str, RelayState]] = {
    "relay_connect": RelayState.CONNECTED,
    "relay_disconnect": RelayState.DISCONNECTED,
}
"""The relay a confirmed relay command leaves: shown at once, not at the next status frame."""
SUPPLY_WAKES: Final = frozenset({*RELAY_AFTER, CUTOFF_PERMIT})
"""Actions whose settling the supply service hears of at once (`supply_state.next_check_at`)."""


def move(conn: Connection, command_id: str, current: Status, step: Step, now: datetime, **values: Any) -> bool:
    """Apply one step if the command is still where we saw it; log it. Whether it applied.

    A relay command that is confirmed sets the relay the head-end shows (`meter_state.relay`)
    in the same transaction; one that settles makes its account due for the supply service."""
    if step.status != current:  # a note (same status) is not a move
        check_move(current, step.status)
    c = t.commands.c
    moved = conn.execute(
        t.commands.update()
        .where(c.command_id == command_id, c.status == current.value)
        .values(status=step.status.value, updated_at=now, detail=step.detail[:4000], **values)
        .returning(c.action, c.meter_id)
    ).first()
    if moved is None:
        return False
    conn.execute(t.command_log.insert(), [log_row(command_id, now, step.status, step.detail)])
    if step.status != current and moved.action in SUPPLY_WAKES:
        relay = RELAY_AFTER.get(moved.action)
        if relay is not None and step.status == Status.CONFIRMED:
            ms = t.meter_state.c
            conn.execute(t.meter_state.update().where(ms.meter_id == moved.meter_id).values(relay=int(relay)))
        if settled(moved.action, step.status):
            mark_meters_due(conn, [moved.meter_id], now)
    return True


def _record(row: Any, history: Sequence[HistoryEntry] = ()) -> CommandRecord:
    return CommandRecord(
        command_id=row.command_id,
        idempotency_key=row.idempotency_key,
        meter_id=row.meter_id,
        action=row.action,
        args=json.loads(row.args),
        status=Status(row.status),
        requested_by=row.requested_by,
        reason=row.reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
        expires_at=row.expires_at,
        attempts=row.attempts,
        last_sent_at=row.last_sent_at,
        detail=row.detail,
        history=tuple(history),
    )


def _histories(conn: Connection, command_ids: Sequence[str]) -> dict[str, list[HistoryEntry]]:
    found: dict[str, list[HistoryEntry]] = defaultdict(list)
    if not command_ids:
        return found
    lg = t.command_log.c
    q = sa.select(lg.command_id, lg.at, lg.status, lg.detail).where(lg.command_id.in_(command_ids)).order_by(lg.id)
    for r in conn.execute(q):
        found[r.command_id].append(HistoryEntry(r.at, Status(r.status), r.detail))
    return found


def find(conn: Connection, command_id: str) -> CommandRecord | None:
    """A command with its audit trail."""
    row = conn.execute(sa.select(t.commands).where(t.commands.c.command_id == command_id)).first()
    return None if row is None else _record(row, _histories(conn, [command_id])[command_id])


def for_meter(conn: Connection, meter_id: str, limit: int, offset: int = 0) -> list[CommandRecord]:
    """The meter's commands, newest first, `offset` of them skipped."""
    c = t.commands.c
    q = sa.select(t.commands).where(c.meter_id == meter_id).order_by(c.created_at.desc(), c.command_id.desc())
    rows = list(conn.execute(q.limit(limit).offset(offset)))
    histories = _histories(conn, [r.command_id for r in rows])
    return [_record(r, histories[r.command_id]) for r in rows]


class SqlCommands:
    """The `commands` and `command_log` tables, in one unit of work."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def by_key(self, idempotency_key: str) -> CommandRecord | None:
        row = self.conn.execute(sa.select(t.commands).where(t.commands.c.idempotency_key == idempotency_key)).first()
        return None if row is None else _record(row, _histories(self.conn, [row.command_id])[row.command_id])

    def add(self, command: CommandRecord) -> bool:
        dialect = postgresql if is_pg(self.conn) else sqlite
        stmt = (
            dialect.insert(t.commands)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(t.commands.c.command_id)
        )
        row = {
            "command_id": command.command_id,
            "idempotency_key": command.idempotency_key,
            "meter_id": command.meter_id,
            "action": command.action,
            "args": command.args_text,
            "status": command.status.value,
            "requested_by": command.requested_by,
            "reason": command.reason,
            "created_at": command.created_at,
            "updated_at": command.updated_at,
            "expires_at": command.expires_at,
            "attempts": command.attempts,
            "last_sent_at": command.last_sent_at,
            "detail": command.detail,
        }
        if self.conn.execute(stmt, row).first() is None:
            return False
        self.conn.execute(
            t.command_log.insert(), [log_row(command.command_id, h.at, h.status, h.detail) for h in command.history]
        )
        return True

    def states(self, command_ids: Sequence[str]) -> dict[str, CommandState]:
        if not command_ids:
            return {}
        c = t.commands.c
        q = sa.select(c.command_id, c.meter_id, c.action, c.status, c.attempts).where(c.command_id.in_(command_ids))
        if is_pg(self.conn):
            q = q.order_by(c.command_id).with_for_update()
        return {r.command_id: _state(r) for r in self.conn.execute(q)}

    def open_of(self, meter_id: str) -> list[CommandState]:
        c = t.commands.c
        q = (
            sa.select(c.command_id, c.meter_id, c.action, c.status, c.attempts)
            .where(c.meter_id == meter_id, c.status.in_([s.value for s in OPEN]))
            .order_by(c.command_id)
        )
        if is_pg(self.conn):
            q = q.with_for_update()  # a dispatcher holding one finishes first; then it is seen as it left it
        return [_state(r) for r in self.conn.execute(q).all()]

    def move(self, command: CommandState, step: Step, now: datetime) -> bool:
        return move(self.conn, command.command_id, command.status, step, now)


def _state(r: Any) -> CommandState:
    return CommandState(r.command_id, r.meter_id, r.action, Status(r.status), r.attempts)
