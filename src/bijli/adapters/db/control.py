"""The control room's read queries: the fleet by area, feeder and transformer, the meters
searched, filtered, sorted and paged on the server, and the exception lists. Each answers a
page at a time and stays fast at fleet size (it reads meter_state, meter_daily and the small
open-item tables, never the readings of the whole fleet)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bijli.adapters.db import schema as t
from bijli.adapters.db.case_tables import case_actions
from bijli.adapters.db.control_rows import (
    GROUP_KEYS,
    LEVELS,
    LOW_LEVEL_PCT,
    METER_EXCEPTIONS,
    OPEN_STATUSES,
    CommandRow,
    GroupRow,
    GroupSort,
    ItemRow,
    LedgerRow,
    Level,
    MeterFilter,
    MeterRow,
    MeterSort,
)
from bijli.adapters.db.disputes import disputes
from bijli.adapters.db.energy_tables import energy_days
from bijli.adapters.db.reads import _meter_select, _meter_view
from bijli.adapters.db.supply_tables import supply_state
from bijli.headend.commands import Status
from bijli.mdm.meters import MeterStatus
from bijli.protocol.relay import RelayState

T = TypeVar("T")


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped.lower()}%"


def _searched(q: str) -> sa.CompoundSelect[tuple[str]]:
    """The meters whose id, account number or consumer's name (any word of it) starts with `q`,
    case ignored: each table asked on its own, so that PostgreSQL answers from the search indexes
    (migration 0024: the ids' prefix indexes, a trigram index on the names) instead of testing
    every meter joined to its account."""
    pattern = _like(q)
    m, a = t.meters.c, t.accounts.c
    return sa.union_all(
        sa.select(m.meter_id).where(sa.func.lower(m.meter_id).like(pattern, escape="\\")),
        sa.select(a.meter_id).where(
            a.meter_id.is_not(None),
            sa.or_(
                sa.func.lower(a.account_no).like(pattern, escape="\\"),
                sa.func.lower(a.consumer_name).like(pattern, escape="\\"),
                sa.func.lower(a.consumer_name).like("% " + pattern, escape="\\"),
            ),
        ),
    )


KEPT_S = 30.0
"""How long the exception views' counts and the places' names are kept before they are read again
(every control-room page shows them; a count half a minute old is fine, each view lists the live rows)."""

KEPT_AT_ONCE = 64
"""Figures kept at once (each search keeps its count): past it the oldest go, not all of them."""
STATE_SORTS: frozenset[MeterSort] = frozenset({"last_seen", "signal", "failovers"})
"""The meters' sorts by their live state, whose order is kept `KEPT_S` like the counts."""


class ControlReads:
    """Read-only questions of the control room's pages."""

    def __init__(self, engine: Engine, kept_s: float = KEPT_S) -> None:
        self.engine = engine
        self._kept_s = kept_s
        self._kept: dict[object, tuple[float, object]] = {}
        self._lock = threading.Lock()
        self._round = threading.local()

    def forget(self) -> None:
        """Drop what is kept, so the next page reads the store anew (after a change made
        outside the usual rounds, such as a correction loaded by hand)."""
        with self._lock:
            self._kept.clear()

    @property
    def kept_s(self) -> float:
        """How long a count is kept before it is read again."""
        return self._kept_s

    @contextmanager
    def refreshing(self) -> Iterator[None]:
        """Within it (in the calling thread), every figure asked for is worked out anew and kept,
        however recently it was (the ready round, `bijli.web.ready`)."""
        self._round.fresh = True
        try:
            yield
        finally:
            self._round.fresh = False

    def kept(self, key: object, work: Callable[[], T]) -> T:
        """`work()`, as worked out at most `kept_s` ago under `key` (dropped by `forget`)."""
        return self._cached(key, work)

    def _cached(self, key: object, work: Callable[[], T]) -> T:
        with self._lock:
            found = self._kept.get(key)
            fresh = getattr(self._round, "fresh", False)
            if found is not None and not fresh and time.monotonic() - found[0] <= self._kept_s:
                return cast(T, found[1])
        value = work()
        with self._lock:
            moment = time.monotonic()
            if len(self._kept) >= KEPT_AT_ONCE:  # the oldest go (those run out first), down to half
                by_age = sorted(self._kept, key=lambda k: self._kept[k][0])
                for old in by_age[: len(by_age) - KEPT_AT_ONCE // 2]:
                    del self._kept[old]
            self._kept[key] = (moment, value)
        return value

    def exceptions(self, now: datetime, online_since: datetime, stuck_after: timedelta) -> dict[str, int]:
        """`count_exceptions`, as counted at most `kept_s` seconds ago for a clock in the same half minute."""
        window = int(now.timestamp() // self._kept_s)  # a clock far from the last one counts anew
        return self._cached(("exceptions", window), lambda: self.count_exceptions(now, online_since, stuck_after))

    def newest_day(self, before: date | None = None) -> date | None:
        """The newest IST day (before `before`, if given) with any reading summed into the daily
        table; None when there is none."""
        q = sa.select(sa.func.max(t.meter_daily.c.day))
        if before is not None:
            q = q.where(t.meter_daily.c.day < before)
        with self.engine.connect() as conn:
            found: date | None = conn.execute(q).scalar_one()
        return found

    def has_day(self, day: date) -> bool:
        """Whether any meter has readings on `day`."""
        d = t.meter_daily.c
        with self.engine.connect() as conn:
            return conn.execute(sa.select(d.meter_id).where(d.day == day).limit(1)).first() is not None

    def places(self) -> dict[Level, list[str]]:
        """Every area, feeder and transformer name, sorted (for the filters' choices), as read at most `kept_s` ago."""
        return self._cached("places", self._places)

    def _places(self) -> dict[Level, list[str]]:
        m = t.meters.c
        found: dict[Level, list[str]] = {}
        with self.engine.connect() as conn:
            for level in LEVELS:
                column = m[level]
                found[level] = [str(v) for v in conn.execute(sa.select(column).distinct().order_by(column)).scalars()]
        return found

    def groups(
        self,
        level: Level,
        day: date,
        online_since: datetime,
        *,
        area: str = "",
        q: str = "",
        sort: GroupSort = "name",
        descending: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[GroupRow], int]:
        """The fleet grouped by `level`, a page of groups and how many there are in all. The
        groups of a level and day are worked out at most every `kept_s` seconds (one pass over
        the fleet), then searched, sorted and paged here: a level has a few hundred groups."""
        window = int(online_since.timestamp() // self._kept_s)
        every = self._cached(("groups", level, day, window), lambda: self._groups(level, day, online_since))
        pattern = q.lower()
        chosen = [g for g in every if (not area or g.area == area) and g.name.lower().startswith(pattern)]
        key = GROUP_KEYS[sort]
        known = sorted((g for g in chosen if key(g) is not None), key=lambda g: g.name)
        known.sort(key=lambda g: cast(float, key(g)), reverse=descending)
        unknown = [g for g in chosen if key(g) is None]
        ordered = [*known, *unknown] if descending else [*unknown, *known]
        return ordered[offset : offset + limit], len(ordered)

    def _groups(self, level: Level, day: date, online_since: datetime) -> list[GroupRow]:
        """Every group of `level`: its meters now, its readings of `day` and its energy balance that day."""
        m, s, d = t.meters.c, t.meter_state.c, t.meter_daily.c
        name = m[level]
        in_service = m.status == MeterStatus.COMMISSIONED.value
        daily = sa.select(d.meter_id, d.intervals, d.wh).where(d.day == day).subquery()
        one = sa.literal(1)
        grouped = (
            sa.select(
                name.label("name"),
                sa.func.min(m.area).label("area"),
                sa.func.count().label("meters"),
                sa.func.sum(sa.case((in_service, one), else_=0)).label("in_service"),
                sa.func.sum(sa.case((in_service & (s.last_seen >= online_since), one), else_=0)).label("online"),
                sa.func.sum(sa.case((in_service & (s.active_sim == 2), one), else_=0)).label("on_sim2"),
                sa.func.coalesce(sa.func.sum(s.failovers), 0).label("failovers"),
                sa.func.coalesce(sa.func.sum(daily.c.intervals), 0).label("intervals"),
                sa.func.coalesce(
                    sa.func.sum(sa.case((t.accounts.c.account_no.is_not(None), daily.c.wh), else_=0)), 0
                ).label("energy_wh"),
            )
            .select_from(
                t.meters.join(t.meter_state, s.meter_id == m.meter_id)
                .outerjoin(daily, daily.c.meter_id == m.meter_id)
                .outerjoin(t.accounts, t.accounts.c.meter_id == m.meter_id)
            )
            .group_by(name)
        )
        e = energy_days.c
        balance = (
            sa.select(
                e[level].label("name"),
                sa.func.sum(e.supplied_wh).label("supplied_wh"),
                sa.func.sum(e.billed_wh).label("billed_wh"),
                sa.func.max(sa.case((e.flagged, 1), else_=0)).label("flagged"),
            )
            .where(e.day == day)
            .group_by(e[level])
            .subquery()
        )
        inner = grouped.subquery()
        q = sa.select(inner, balance.c.supplied_wh, balance.c.billed_wh, balance.c.flagged).select_from(
            inner.outerjoin(balance, balance.c.name == inner.c.name)
        )
        with self.engine.connect() as conn:
            return [
                GroupRow(
                    name=str(r.name),
                    area=str(r.area),
                    meters=int(r.meters),
                    in_service=int(r.in_service or 0),
                    online=int(r.online or 0),
                    on_sim2=int(r.on_sim2 or 0),
                    failovers=int(r.failovers or 0),
                    intervals=int(r.intervals or 0),
                    energy_wh=int(r.energy_wh or 0),
                    supplied_wh=None if r.supplied_wh is None else int(r.supplied_wh),
                    billed_wh=None if r.billed_wh is None else int(r.billed_wh),
                    flagged=bool(r.flagged),
                )
                for r in conn.execute(q)
            ]

    def _narrowed(self, f: MeterFilter, now: datetime, online_since: datetime) -> list[sa.ColumnElement[bool]]:
        m, s, a = t.meters.c, t.meter_state.c, t.accounts.c
        where: list[sa.ColumnElement[bool]] = []
        if f.q:
            where.append(m.meter_id.in_(_searched(f.q)))
        for level in LEVELS:
            value = getattr(f, level)
            if value:
                where.append(m[level] == value)
        in_service = m.status == MeterStatus.COMMISSIONED.value
        if f.exception == "offline":
            where += [in_service, sa.or_(s.last_seen.is_(None), s.last_seen < online_since)]
        elif f.exception == "silent":
            where += [in_service, sa.or_(s.last_seen.is_(None), s.last_seen < now - timedelta(hours=24))]
        elif f.exception == "disconnected":
            where += [in_service, s.relay.in_([RelayState.DISCONNECTED.value, RelayState.READY_FOR_RECONNECTION.value])]
        elif f.exception == "decommissioned":
            where.append(~in_service)
        elif f.exception == "low_balance":
            low = (
                sa.select(supply_state.c.account_no)
                .where(
                    sa.or_(
                        supply_state.c.negative_since.is_not(None),
                        supply_state.c.level_alerted <= LOW_LEVEL_PCT,
                    )
                )
                .scalar_subquery()
            )
            where += [in_service, a.account_no.in_(low)]
        return where

    def meters(
        self,
        f: MeterFilter,
        now: datetime,
        online_since: datetime,
        *,
        sort: MeterSort = "meter",
        descending: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[MeterRow], int]:
        """A page of the meters `f` lets through, each with its balance, and how many there are."""
        m, s, a = t.meters.c, t.meter_state.c, t.accounts.c
        where = self._narrowed(f, now, online_since)
        key: sa.ColumnElement[object] = {
            "meter": m.meter_id,
            "area": m.area,
            "transformer": m.transformer,
            "last_seen": s.last_seen,
            "signal": s.rssi_dbm,
            "failovers": s.failovers,
        }[sort]
        ordered = key.desc().nulls_last() if descending else key.asc().nulls_first()
        # Only the tables the filter and the sort need: the meters alone page by their own index.
        base: sa.FromClause = t.meters
        if sort in STATE_SORTS or f.exception in ("offline", "silent", "disconnected"):
            base = base.join(t.meter_state, s.meter_id == m.meter_id)
        if f.exception == "low_balance":
            base = base.outerjoin(t.accounts, a.meter_id == m.meter_id)
        counted = sa.select(sa.func.count()).select_from(base).where(*where)
        in_order = sa.select(m.meter_id).select_from(base).where(*where).order_by(ordered, m.meter_id)
        window = int(now.timestamp() // self._kept_s)

        def count() -> int:
            with self.engine.connect() as conn:
                return int(conn.execute(counted).scalar_one())

        def order() -> tuple[str, ...]:
            with self.engine.connect() as conn:
                return tuple(str(r.meter_id) for r in conn.execute(in_order))

        total = self._cached(("meters", f, window), count)  # the page's rows are read anew each time
        kept_order: tuple[str, ...] | None = None
        if sort in STATE_SORTS:
            # A sort by the meters' live state sorts every state the filter lets through (24,000
            # for the whole fleet) whatever the page, so the order is kept like the count and a
            # page deep in it costs what the first does. (An index on the state would cost every
            # reading's update of it; bench/README.md, `bijli bench pages`.)
            kept_order = self._cached(("order", f, sort, descending, window), order)
        with self.engine.connect() as conn:
            if kept_order is not None:
                ids = list(kept_order[offset : offset + limit])
            else:
                ids = [str(r.meter_id) for r in conn.execute(in_order.limit(limit).offset(offset))]
            failovers = {
                str(r.meter_id): r.failovers
                for r in conn.execute(sa.select(s.meter_id, s.failovers).where(s.meter_id.in_(ids)))
            }
            picked = [(i, int(failovers.get(i) or 0)) for i in ids]
            views = {
                v.meter_id: v
                for v in (_meter_view(r) for r in conn.execute(_meter_select().where(m.meter_id.in_(ids))))
            }
        return [MeterRow(meter=views[i], failovers=n) for i, n in picked if i in views], total

    def count_exceptions(self, now: datetime, online_since: datetime, stuck_after: timedelta) -> dict[str, int]:
        """How many meters (or items) each exception view lists."""
        m, s, a = t.meters.c, t.meter_state.c, t.accounts.c
        base = t.meters.join(t.meter_state, s.meter_id == m.meter_id).outerjoin(t.accounts, a.meter_id == m.meter_id)
        counts: dict[str, int] = {}
        with self.engine.connect() as conn:
            for kind in METER_EXCEPTIONS:
                where = self._narrowed(MeterFilter(exception=kind), now, online_since)
                counts[kind] = int(
                    conn.execute(sa.select(sa.func.count()).select_from(base).where(*where)).scalar_one()
                )
            counts["commands"] = int(
                conn.execute(sa.select(sa.func.count()).where(self._troubled(now, stuck_after))).scalar_one()
            )
            r = t.reconciliation_items.c
            counts["reconciliation"] = int(
                conn.execute(sa.select(sa.func.count()).where(r.resolved_at.is_(None))).scalar_one()
            )
            counts["disputes"] = int(
                conn.execute(sa.select(sa.func.count()).where(disputes.c.answered_at.is_(None))).scalar_one()
            )
        return counts

    @staticmethod
    def _troubled(now: datetime, stuck_after: timedelta) -> sa.ColumnElement[bool]:
        c = t.commands.c
        return sa.or_(
            sa.and_(c.status == Status.FAILED.value, c.updated_at >= now - timedelta(days=7)),
            sa.and_(c.status.in_(OPEN_STATUSES), c.created_at < now - stuck_after),
        )

    def troubled_commands(
        self, now: datetime, stuck_after: timedelta, *, q: str = "", limit: int = 50, offset: int = 0
    ) -> tuple[list[CommandRow], int]:
        """Commands that failed in the last 7 days, or still open `stuck_after` after they were asked; newest first."""
        c = t.commands.c
        where = [self._troubled(now, stuck_after)]
        if q:
            where.append(sa.func.lower(c.meter_id).like(_like(q), escape="\\"))
        with self.engine.connect() as conn:
            total = int(conn.execute(sa.select(sa.func.count()).select_from(t.commands).where(*where)).scalar_one())
            rows = conn.execute(
                sa.select(t.commands)
                .where(*where)
                .order_by(c.created_at.desc(), c.command_id)
                .limit(limit)
                .offset(offset)
            )
            return [
                CommandRow(
                    command_id=r.command_id,
                    meter_id=r.meter_id,
                    action=r.action,
                    status=r.status,
                    requested_by=r.requested_by,
                    reason=r.reason,
                    created_at=r.created_at,
                    updated_at=r.updated_at,
                    detail=r.detail,
                )
                for r in rows
            ], total

    def open_items(self, *, q: str = "", limit: int = 50, offset: int = 0) -> tuple[list[ItemRow], int]:
        """Reconciliation items not resolved yet, newest first."""
        r = t.reconciliation_items.c
        where: list[sa.ColumnElement[bool]] = [r.resolved_at.is_(None)]
        if q:
            where.append(sa.func.lower(sa.func.coalesce(r.meter_id, "")).like(_like(q), escape="\\"))
        with self.engine.connect() as conn:
            total = int(
                conn.execute(sa.select(sa.func.count()).select_from(t.reconciliation_items).where(*where)).scalar_one()
            )
            rows = conn.execute(
                sa.select(t.reconciliation_items).where(*where).order_by(r.id.desc()).limit(limit).offset(offset)
            )
            return [
                ItemRow(
                    id=int(x.id),
                    kind=x.kind,
                    meter_id=x.meter_id,
                    account_no=x.account_no,
                    amount_paise=None if x.amount_paise is None else int(x.amount_paise),
                    detail=x.detail,
                    opened_at=x.opened_at,
                )
                for x in rows
            ], total

    def ledger_of(self, account_no: str, limit: int = 30) -> list[LedgerRow]:
        """The account's newest ledger entries."""
        g = t.ledger.c
        q = sa.select(g.id, g.kind, g.amount_paise, g.reference, g.posted_at, g.energy_wh).where(
            g.account_no == account_no
        )
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(g.id.desc()).limit(limit))
            return [
                LedgerRow(
                    id=int(r.id),
                    kind=r.kind,
                    amount_paise=int(r.amount_paise),
                    reference=r.reference,
                    posted_at=r.posted_at,
                    energy_wh=None if r.energy_wh is None else int(r.energy_wh),
                )
                for r in rows
            ]

    def days_of(self, meter_id: str, last: date, days: int = 31) -> Sequence[tuple[date, int, int]]:
        """The meter's days up to `last` (newest first): day, Wh, intervals."""
        d = t.meter_daily.c
        q = (
            sa.select(d.day, d.wh, d.intervals)
            .where(d.meter_id == meter_id, d.day <= last, d.day > last - timedelta(days=days))
            .order_by(d.day.desc())
        )
        with self.engine.connect() as conn:
            return [(r.day, int(r.wh), int(r.intervals)) for r in conn.execute(q)]

    def last_case_action(self) -> int:
        """The newest case step's id (0 for none): the live stream of cases follows on from it."""
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(sa.func.max(case_actions.c.id))).scalar_one()
        return int(found or 0)
