"""Commands and their audit trail in the store.

Every change of a command is a conditional ``UPDATE … WHERE status = <what it was>`` plus a
row in `command_log`, in one transaction, so several dispatchers (and the ingest recording
acks) never move one command twice. On PostgreSQL the dispatcher's steps first lock the rows
they will change with ``FOR UPDATE SKIP LOCKED``: a row another worker holds is left for the
next round, so the dispatcher never waits on the ingest and the two cannot deadlock.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from bijli.adapters.db import schema as t
from bijli.headend.commands import (
    ACTIONS,
    OPEN,
    Candidate,
    DispatchPolicy,
    Evidence,
    InFlight,
    Status,
    Step,
    answer,
    check_move,
    command_frame,
    expiry_step,
    give_up_step,
    observed,
    out_of_attempts,
    resend_due,
    settled,
    within_rate_limits,
)
from bijli.headend.meters import MeterStatus
from bijli.kernel.time import INTERVAL_S, utc_from_epoch
from bijli.protocol.frames import CommandFrame

log = logging.getLogger(__name__)

EVIDENCE_ACTIONS: Final = tuple(sorted(a for a, spec in ACTIONS.items() if spec.confirmation.needs_evidence))
RATE_LIMITED_ACTIONS: Final = tuple(sorted(a for a, spec in ACTIONS.items() if spec.rate_limited))
RATE_LOCK: Final = 0x62696A6C69  # "bijli": serialises rate-limited sends across dispatchers (PostgreSQL)


# ---------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandRequest:
    """What an operator (or another system) asks for."""

    meter_id: str
    action: str
    args: Mapping[str, int]
    reason: str
    requested_by: str
    idempotency_key: str
    expires_in: timedelta


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    status: Status
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandRecord:
    """A command as stored, with its audit trail, oldest entry first."""

    command_id: str
    idempotency_key: str
    meter_id: str
    action: str
    args: dict[str, int]
    status: Status
    requested_by: str
    reason: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    attempts: int
    last_sent_at: datetime | None
    detail: str
    history: tuple[HistoryEntry, ...] = field(default_factory=tuple)

    def first(self, status: Status) -> datetime | None:
        """When the command first reached `status`, from its audit trail."""
        return next((h.at for h in self.history if h.status == status), None)

    def asks_the_same_as(self, request: CommandRequest) -> bool:
        return (
            self.meter_id == request.meter_id
            and self.action == request.action
            and self.args == dict(request.args)
            and self.reason == request.reason
            and self.requested_by == request.requested_by
            and self.expires_at - self.created_at == request.expires_in
        )


class UnknownMeter(LookupError):
    """No such meter is registered."""


class MeterNotInService(RuntimeError):
    """The meter is registered but not commissioned; it takes no commands."""


class IdempotencyConflict(RuntimeError):
    """The idempotency key was used for a different request."""

    def __init__(self, existing: CommandRecord) -> None:
        super().__init__(f"idempotency key {existing.idempotency_key!r} was used for a different request")
        self.existing = existing


def _args_text(args: Mapping[str, int]) -> str:
    return json.dumps(dict(args), sort_keys=True, separators=(",", ":"))


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
    q = (
        sa.select(t.command_log.c.command_id, t.command_log.c.at, t.command_log.c.status, t.command_log.c.detail)
        .where(t.command_log.c.command_id.in_(command_ids))
        .order_by(t.command_log.c.id)
    )
    for r in conn.execute(q):
        found[r.command_id].append(HistoryEntry(r.at, Status(r.status), r.detail))
    return found


# ---------------------------------------------------------------------------- asking and reading


def find(conn: Connection, command_id: str) -> CommandRecord | None:
    row = conn.execute(sa.select(t.commands).where(t.commands.c.command_id == command_id)).first()
    if row is None:
        return None
    return _record(row, _histories(conn, [command_id])[command_id])


def find_by_key(conn: Connection, idempotency_key: str) -> CommandRecord | None:
    row = conn.execute(sa.select(t.commands).where(t.commands.c.idempotency_key == idempotency_key)).first()
    if row is None:
        return None
    return _record(row, _histories(conn, [row.command_id])[row.command_id])


def for_meter(conn: Connection, meter_id: str, limit: int) -> list[CommandRecord]:
    """The meter's commands, newest first."""
    q = (
        sa.select(t.commands)
        .where(t.commands.c.meter_id == meter_id)
        .order_by(t.commands.c.created_at.desc(), t.commands.c.command_id.desc())
        .limit(limit)
    )
    rows = list(conn.execute(q))
    histories = _histories(conn, [r.command_id for r in rows])
    return [_record(r, histories[r.command_id]) for r in rows]


def submit(engine: Engine, request: CommandRequest, now: datetime) -> tuple[CommandRecord, bool]:
    """Store a new command, or return the one stored under the same idempotency key.

    Returns (the command, whether it is new). Raises UnknownMeter, MeterNotInService, or
    IdempotencyConflict when the key was used for a different request.
    """
    with engine.connect() as conn:
        existing = find_by_key(conn, request.idempotency_key)
    if existing is None:
        try:
            with engine.begin() as conn:
                return _insert(conn, request, now), True
        except IntegrityError:
            # Someone stored the same key between our look and our insert: theirs stands.
            with engine.connect() as conn:
                existing = find_by_key(conn, request.idempotency_key)
            if existing is None:
                raise
    if not existing.asks_the_same_as(request):
        raise IdempotencyConflict(existing)
    return existing, False


def _insert(conn: Connection, request: CommandRequest, now: datetime) -> CommandRecord:
    q = sa.select(t.meters.c.status).where(t.meters.c.meter_id == request.meter_id)
    if conn.dialect.name == "postgresql":
        # Shared: a decommissioning meanwhile waits for this command, then ends it; or this
        # waits for the decommissioning, then sees the meter out of service.
        q = q.with_for_update(read=True)
    status = conn.execute(q).scalar()
    if status is None:
        raise UnknownMeter(request.meter_id)
    if status != MeterStatus.COMMISSIONED:
        raise MeterNotInService(f"meter {request.meter_id} is {status}; it takes no commands")
    command_id = str(uuid.uuid4())
    row = {
        "command_id": command_id,
        "idempotency_key": request.idempotency_key,
        "meter_id": request.meter_id,
        "action": request.action,
        "args": _args_text(request.args),
        "status": Status.QUEUED.value,
        "requested_by": request.requested_by,
        "reason": request.reason,
        "created_at": now,
        "updated_at": now,
        "expires_at": now + request.expires_in,
        "attempts": 0,
        "last_sent_at": None,
        "detail": "",
    }
    conn.execute(t.commands.insert(), [row])
    detail = f"requested by {request.requested_by}: {request.reason}"
    conn.execute(t.command_log.insert(), [_log_row(command_id, now, Status.QUEUED, detail)])
    found = find(conn, command_id)
    assert found is not None
    return found


# ---------------------------------------------------------------------------- moving commands


def _log_row(command_id: str, at: datetime, status: Status, detail: str) -> dict[str, Any]:
    return {"command_id": command_id, "at": at, "status": status.value, "detail": detail[:4000]}


def _move(conn: Connection, command_id: str, current: Status, step: Step, now: datetime, **values: Any) -> bool:
    """Apply one step if the command is still where we saw it; log it. Whether it applied."""
    if step.status != current:  # a note (same status) is not a move
        check_move(current, step.status)
    result = conn.execute(
        t.commands.update()
        .where(t.commands.c.command_id == command_id, t.commands.c.status == current.value)
        .values(status=step.status.value, updated_at=now, detail=step.detail[:4000], **values)
    )
    if result.rowcount != 1:
        return False
    conn.execute(t.command_log.insert(), [_log_row(command_id, now, step.status, step.detail)])
    return True


def end_unsettled(conn: Connection, meter_id: str, step: Step, now: datetime) -> int:
    """End every command of the meter that has not settled with `step`, in the caller's
    transaction (each move in its audit trail); how many it ended."""
    c = t.commands.c
    q = (
        sa.select(c.command_id, c.action, c.status)
        .where(c.meter_id == meter_id, c.status.in_([s.value for s in OPEN]))
        .order_by(c.command_id)
    )
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()  # a dispatcher holding one finishes first; then it is seen as it left it
    ended = 0
    for r in conn.execute(q).all():
        current = Status(r.status)
        if not settled(r.action, current):
            ended += _move(conn, r.command_id, current, step, now)
    return ended


def _locked(conn: Connection, q: sa.Select[Any]) -> sa.Select[Any]:
    """On PostgreSQL, lock the commands a dispatcher step will change, skipping any held."""
    if conn.dialect.name == "postgresql":
        return q.with_for_update(of=t.commands, skip_locked=True)
    return q


def record_acks(conn: Connection, acks: Sequence[Mapping[str, Any]], now: datetime) -> int:
    """Record meters' answers, in the ingest's transaction. Rows: meter_id, command_id, status,
    detail, at (the meter's clock). How many changed a command."""
    if not acks:
        return 0
    c = t.commands.c
    ids = sorted({a["command_id"] for a in acks})
    q = sa.select(c.command_id, c.meter_id, c.action, c.status, c.attempts).where(c.command_id.in_(ids))
    if conn.dialect.name == "postgresql":
        q = q.order_by(c.command_id).with_for_update()
    known = {r.command_id: r for r in conn.execute(q)}
    status = {cid: Status(r.status) for cid, r in known.items()}
    changed = 0
    for ack in acks:
        row = known.get(ack["command_id"])
        if row is None or row.meter_id != ack["meter_id"]:
            log.warning(
                "meter %s answered command %s, which is not one of its commands", ack["meter_id"], ack["command_id"]
            )
            continue
        steps = answer(row.action, status[row.command_id], row.attempts, ack["status"], ack.get("detail") or "")
        for step in steps:
            if _move(conn, row.command_id, status[row.command_id], step, now):
                status[row.command_id] = step.status
                changed += 1
    return changed


def _chunks(conn: Connection, q: sa.Select[Any], size: int) -> Iterable[list[Any]]:
    """Rows of `q` (which selects commands) a chunk at a time, in command-id order."""
    key = t.commands.c.command_id
    after: str | None = None
    while True:
        page = q if after is None else q.where(key > after)
        rows = list(conn.execute(_locked(conn, page.order_by(key).limit(size))))
        if not rows:
            return
        yield rows
        if len(rows) < size:
            return
        after = rows[-1].command_id


def expire_due(engine: Engine, now: datetime, policy: DispatchPolicy) -> int:
    """Commands whose time is up: queued or sent ones expire; acknowledged ones whose effect
    never showed fail."""
    c = t.commands.c
    still_open = sa.or_(
        c.status.in_([Status.QUEUED.value, Status.SENT.value]),
        sa.and_(c.status == Status.ACKNOWLEDGED.value, c.action.in_(EVIDENCE_ACTIONS)),
    )
    q = sa.select(c.command_id, c.action, c.status, c.attempts).where(still_open, c.expires_at <= now)
    moved = 0
    with engine.begin() as conn:
        for rows in _chunks(conn, q, policy.batch):
            for r in rows:
                step = expiry_step(r.action, Status(r.status), r.attempts)
                moved += _move(conn, r.command_id, Status(r.status), step, now)
    return moved


def confirm_observed(engine: Engine, now: datetime, policy: DispatchPolicy) -> int:
    """Confirm sent and acknowledged commands whose effect shows in the meter's data."""
    c, lg = t.commands.c, t.command_log.c
    first_sent = (
        sa.select(sa.func.min(lg.at))
        .where(lg.command_id == c.command_id, lg.status == Status.SENT.value)
        .scalar_subquery()
        .label("first_sent")
    )
    q = sa.select(c.command_id, c.meter_id, c.action, c.args, c.status, first_sent).where(
        c.status.in_([Status.SENT.value, Status.ACKNOWLEDGED.value]), c.action.in_(EVIDENCE_ACTIONS)
    )
    confirmed = 0
    with engine.begin() as conn:
        for rows in _chunks(conn, q, policy.batch):
            rows = [r for r in rows if r.first_sent is not None]
            evidence = _evidence(conn, rows, now, policy)
            for r in rows:
                detail = observed(r.action, evidence[r.command_id])
                if detail is not None:
                    confirmed += _move(conn, r.command_id, Status(r.status), Step(Status.CONFIRMED, detail), now)
    return confirmed


def _evidence(conn: Connection, rows: Sequence[Any], now: datetime, policy: DispatchPolicy) -> dict[str, Evidence]:
    """What each command's meter has reported since the command was first sent."""
    if not rows:
        return {}
    meters = sorted({r.meter_id for r in rows})
    codes = sorted({code for r in rows for code in ACTIONS[r.action].confirmation.events})
    events: dict[str, list[Any]] = defaultdict(list)
    if codes:
        e = t.events.c
        q = sa.select(e.meter_id, e.code, e.occurred_at, e.received_at).where(
            e.meter_id.in_(meters), e.code.in_(codes), e.received_at >= min(r.first_sent for r in rows)
        )
        for ev in conn.execute(q):
            events[ev.meter_id].append(ev)
    s = t.meter_state.c
    relay = {m: r for m, r in conn.execute(sa.select(s.meter_id, s.relay).where(s.meter_id.in_(meters)))}

    found = {}
    settled_before = now - policy.ack_grace
    for r in rows:
        acked = r.status == Status.ACKNOWLEDGED.value
        # Without the ack yet, wait a moment for it, so the audit shows the answer and the effect.
        fresh = frozenset(
            ev.code
            for ev in events[r.meter_id]
            if ev.received_at >= r.first_sent
            and ev.occurred_at >= r.first_sent - policy.event_clock_tolerance
            and (acked or ev.received_at <= settled_before)
        )
        missing = None
        if ACTIONS[r.action].confirmation.profile and (acked or r.first_sent <= settled_before):
            missing = _missing_intervals(conn, r.meter_id, json.loads(r.args))
        found[r.command_id] = Evidence(
            acknowledged=acked, events=fresh, relay=relay.get(r.meter_id), missing_intervals=missing
        )
    return found


def _missing_intervals(conn: Connection, meter_id: str, args: Mapping[str, int]) -> int:
    """Intervals of a profile range without a real reading (an estimate does not count)."""
    start, end = utc_from_epoch(args["from"]), utc_from_epoch(args["to"])
    rd = t.readings.c
    q = sa.select(sa.func.count()).where(
        rd.meter_id == meter_id, rd.interval_start >= start, rd.interval_start < end, rd.quality != "estimated"
    )
    stored = int(conn.execute(q).scalar_one())
    return (args["to"] - args["from"]) // INTERVAL_S - stored


# ---------------------------------------------------------------------------- sending


@dataclass(frozen=True, slots=True)
class Claimed:
    """What one sending round took: the frames to publish (already counted as sent)."""

    frames: list[CommandFrame]
    held: int
    """Left queued for the rate limits (or because another worker held the meter)."""
    gave_up: int


def claim_due(engine: Engine, now: datetime, policy: DispatchPolicy) -> Claimed:
    """Take the commands to send now: each online meter's oldest queued command, and sent ones
    whose answer is overdue; give each the meter's next downlink counter; mark them sent.

    Everything is committed before anything is published, so a counter is never used twice and
    a crash after the commit only means the command is sent again after the timeout.
    """
    c, m, s = t.commands.c, t.meters.c, t.meter_state.c
    older = t.commands.alias("older")
    is_oldest_queued = ~sa.exists().where(
        older.c.meter_id == c.meter_id,
        older.c.status == Status.QUEUED.value,
        sa.or_(
            older.c.created_at < c.created_at,
            sa.and_(older.c.created_at == c.created_at, older.c.command_id < c.command_id),
        ),
    )
    base = (
        sa.select(
            c.command_id,
            c.meter_id,
            c.action,
            c.args,
            c.status,
            c.attempts,
            c.last_sent_at,
            c.detail,
            m.transformer,
            m.area,
            s.last_seen,
        )
        .join(t.meters, m.meter_id == c.meter_id)
        .join(t.meter_state, s.meter_id == c.meter_id)
        .where(
            m.status == MeterStatus.COMMISSIONED.value, s.last_seen >= now - policy.online_within, c.expires_at > now
        )
    )
    queued = base.where(c.status == Status.QUEUED.value, is_oldest_queued).order_by(c.created_at, c.command_id)
    overdue = base.where(
        c.status == Status.SENT.value, c.last_sent_at <= now - policy.ack_timeout, s.last_seen > c.last_sent_at
    ).order_by(c.last_sent_at, c.command_id)

    with engine.begin() as conn:
        rows = list(conn.execute(_locked(conn, queued.limit(policy.batch))))
        gave_up = 0
        for r in conn.execute(_locked(conn, overdue.limit(policy.batch))):
            if not resend_due(
                InFlight(attempts=r.attempts, last_sent_at=r.last_sent_at, last_seen=r.last_seen), now, policy
            ):
                continue
            if out_of_attempts(r.attempts, policy):
                gave_up += _move(conn, r.command_id, Status.SENT, give_up_step(r.attempts, r.detail), now)
            else:
                rows.append(r)
        if not rows:
            return Claimed([], 0, gave_up)
        by_id = {r.command_id: r for r in rows}
        candidates = [
            Candidate(
                command_id=r.command_id, meter_id=r.meter_id, action=r.action, transformer=r.transformer, area=r.area
            )
            for r in rows
        ]
        if any(ACTIONS[x.action].rate_limited for x in candidates):
            by_dt, by_area = _recent_sends(conn, now, policy)
            send, hold = within_rate_limits(candidates, by_dt, by_area, policy)
        else:
            send, hold = candidates, []
        free = _lock_meters(conn, sorted({x.meter_id for x in send}))
        claimed = []
        for x in send:
            r = by_id[x.command_id]
            if x.meter_id not in free:
                hold.append(x)
                continue
            current = Status(r.status)
            check_move(current, Status.SENT)
            done = conn.execute(
                t.commands.update()
                .where(c.command_id == r.command_id, c.status == current.value, c.attempts == r.attempts)
                .values(status=Status.SENT.value, attempts=r.attempts + 1, last_sent_at=now, updated_at=now)
            )
            if done.rowcount == 1:
                claimed.append(r)
        frames = _number_and_log(conn, claimed, now)
    if hold:
        log.info("%d commands held back (rate limits or a busy meter)", len(hold))
    return Claimed(frames, len(hold), gave_up)


def _recent_sends(conn: Connection, now: datetime, policy: DispatchPolicy) -> tuple[dict[str, int], dict[str, int]]:
    """Rate-limited commands sent within the window, per transformer and per area."""
    if conn.dialect.name == "postgresql":
        # One dispatcher at a time counts and sends rate-limited commands, so two cannot both
        # use the same remaining budget.
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(RATE_LOCK)))
    c, m = t.commands.c, t.meters.c
    q = (
        sa.select(m.transformer, m.area, sa.func.count())
        .join(t.meters, m.meter_id == c.meter_id)
        .where(c.action.in_(RATE_LIMITED_ACTIONS), c.last_sent_at > now - policy.rate_window)
        .group_by(m.transformer, m.area)
    )
    by_dt: dict[str, int] = defaultdict(int)
    by_area: dict[str, int] = defaultdict(int)
    for transformer, area, n in conn.execute(q):
        by_dt[transformer] += n
        by_area[area] += n
    return by_dt, by_area


def _lock_meters(conn: Connection, meter_ids: Sequence[str]) -> set[str]:
    """The meters whose downlink counter this round may move (PostgreSQL: those no one holds)."""
    if not meter_ids or conn.dialect.name != "postgresql":
        return set(meter_ids)
    s = t.meter_state.c
    q = sa.select(s.meter_id).where(s.meter_id.in_(meter_ids)).with_for_update(skip_locked=True)
    return set(conn.execute(q).scalars())


def _number_and_log(conn: Connection, claimed: Sequence[Any], now: datetime) -> list[CommandFrame]:
    """Give each claimed command its meter's next downlink counter; log the sends."""
    if not claimed:
        return []
    s = t.meter_state.c
    meters = sorted({r.meter_id for r in claimed})
    # Read after this transaction's first write: on SQLite it now holds the write lock, on
    # PostgreSQL the rows are locked, so nobody else moves these counters meanwhile.
    counter = {m: fc for m, fc in conn.execute(sa.select(s.meter_id, s.downlink_fc).where(s.meter_id.in_(meters)))}
    frames, logs = [], []
    for r in claimed:
        counter[r.meter_id] += 1
        frames.append(
            command_frame(
                command_id=r.command_id,
                meter_id=r.meter_id,
                action=r.action,
                args=json.loads(r.args),
                counter=counter[r.meter_id],
                now=now,
            )
        )
        logs.append(
            _log_row(
                r.command_id, now, Status.SENT, f"attempt {r.attempts + 1}, downlink counter {counter[r.meter_id]}"
            )
        )
    conn.execute(
        t.meter_state.update().where(s.meter_id == sa.bindparam("b_meter")).values(downlink_fc=sa.bindparam("b_fc")),
        [{"b_meter": m, "b_fc": counter[m]} for m in meters],
    )
    conn.execute(t.command_log.insert(), logs)
    return frames
