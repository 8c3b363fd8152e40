"""The command dispatcher's rounds over the stored commands: expire, confirm, claim to send.

Each round is its own transaction. On PostgreSQL a round first locks the rows it will change
with ``FOR UPDATE SKIP LOCKED``: a row another worker holds is left for the next round, so
dispatchers never wait on the ingest and the two cannot deadlock. The rules each round
applies are `bijli.headend.commands` (pure); this module only finds the rows.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bijli.adapters.db import schema as t
from bijli.adapters.db.commands import log_row, move
from bijli.adapters.db.faults import translated
from bijli.adapters.db.meter_keys import SqlMeterKeys
from bijli.adapters.db.sql import is_pg
from bijli.headend.command_records import Claimed
from bijli.headend.commands import (
    ACTIONS,
    Candidate,
    DispatchPolicy,
    Evidence,
    InFlight,
    Place,
    Status,
    Step,
    check_move,
    command_frame,
    expiry_step,
    give_up_step,
    observed,
    out_of_attempts,
    resend_due,
    within_rate_limits,
)
from bijli.kernel.time import INTERVAL_S, utc_from_epoch
from bijli.mdm.meters import MeterStatus
from bijli.mdm.model import Quality
from bijli.protocol.frames import CommandFrame

log = logging.getLogger(__name__)

EVIDENCE_ACTIONS: Final = tuple(sorted(a for a, spec in ACTIONS.items() if spec.confirmation.needs_evidence))
RATE_LIMITED_ACTIONS: Final = tuple(sorted(a for a, spec in ACTIONS.items() if spec.rate_limited))
RATE_LOCK: Final = 0x62696A6C69  # "bijli": serialises rate-limited sends across dispatchers (PostgreSQL)


class SqlCommandDispatch:
    """The dispatcher's rounds, each in a transaction of its own on `engine`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def expire_due(self, now: datetime, policy: DispatchPolicy) -> int:
        with translated():
            return expire_due(self.engine, now, policy)

    def confirm_observed(self, now: datetime, policy: DispatchPolicy) -> int:
        with translated():
            return confirm_observed(self.engine, now, policy)

    def claim_due(self, now: datetime, policy: DispatchPolicy) -> Claimed:
        with translated():
            return claim_due(self.engine, now, policy)


def _locked(conn: Connection, q: sa.Select[Any]) -> sa.Select[Any]:
    """On PostgreSQL, lock the commands a round will change, skipping any held."""
    if is_pg(conn):
        return q.with_for_update(of=t.commands, skip_locked=True)
    return q


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
                moved += move(conn, r.command_id, Status(r.status), step, now)
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
                    confirmed += move(conn, r.command_id, Status(r.status), Step(Status.CONFIRMED, detail), now)
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
        rd.meter_id == meter_id,
        rd.interval_start >= start,
        rd.interval_start < end,
        rd.quality != Quality.ESTIMATED.value,
    )
    stored = int(conn.execute(q).scalar_one())
    return (args["to"] - args["from"]) // INTERVAL_S - stored


# ---------------------------------------------------------------------------- sending


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
                gave_up += move(conn, r.command_id, Status.SENT, give_up_step(r.attempts, r.detail), now)
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
        versions = _key_versions(conn, frames)
    if hold:
        log.info("%d commands held back (rate limits or a busy meter)", len(hold))
    return Claimed(frames, len(hold), gave_up, versions)


def _recent_sends(conn: Connection, now: datetime, policy: DispatchPolicy) -> tuple[dict[Place, int], dict[Place, int]]:
    """Rate-limited commands sent within the window, per action and transformer, and per action and area."""
    if conn.dialect.name == "postgresql":
        # One dispatcher at a time counts and sends rate-limited commands, so two cannot both
        # use the same remaining budget.
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(RATE_LOCK)))
    c, m = t.commands.c, t.meters.c
    q = (
        sa.select(c.action, m.transformer, m.area, sa.func.count())
        .join(t.meters, m.meter_id == c.meter_id)
        .where(c.action.in_(RATE_LIMITED_ACTIONS), c.last_sent_at > now - policy.rate_window)
        .group_by(c.action, m.transformer, m.area)
    )
    by_dt: dict[Place, int] = defaultdict(int)
    by_area: dict[Place, int] = defaultdict(int)
    for action, transformer, area, n in conn.execute(q):
        by_dt[(action, transformer)] += n
        by_area[(action, area)] += n
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
            log_row(r.command_id, now, Status.SENT, f"attempt {r.attempts + 1}, downlink counter {counter[r.meter_id]}")
        )
    conn.execute(
        t.meter_state.update().where(s.meter_id == sa.bindparam("b_meter")).values(downlink_fc=sa.bindparam("b_fc")),
        [{"b_meter": m, "b_fc": counter[m]} for m in meters],
    )
    conn.execute(t.command_log.insert(), logs)
    return frames


def _key_versions(conn: Connection, frames: Sequence[CommandFrame]) -> dict[str, int]:
    return SqlMeterKeys(conn).versions_of(f.m for f in frames)
