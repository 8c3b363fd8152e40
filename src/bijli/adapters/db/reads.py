"""Read queries the pages and the API need that stay fast at fleet size.

`Queries.meters()` sums the whole ledger per account before it pages; here a page of meters is
chosen first and only its accounts' ledgers are summed (through the ledger's account index).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bijli.adapters.db import schema as t
from bijli.adapters.db.charging import open_charges, running_charges
from bijli.adapters.db.faults import describe
from bijli.adapters.db.queries import MeterView
from bijli.adapters.db.reports import SqlReports
from bijli.kernel.unit import StoreUnavailable
from bijli.mdm.meters import MeterStatus
from bijli.mdm.reports import Collection
from bijli.prepaid.model import ARREARS_KINDS

T = TypeVar("T")
KEPT_REPORTS = 512
"""Reports kept at once: a caller walking through the years cannot make the cache grow without end."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetCounts:
    """The fleet at a glance."""

    meters: int
    """Every registered meter, in service or not."""
    online: int
    """Meters in service heard from lately."""
    out_of_service: int
    """Meters decommissioned: neither online nor offline."""
    balance_paise: int

    @property
    def offline(self) -> int:
        """Meters in service not heard from lately."""
        return self.meters - self.out_of_service - self.online


_ARREARS = [k.value for k in ARREARS_KINDS]


def _meter_select(balance: bool = True) -> sa.Select[tuple[object, ...]]:
    """Meters with their accounts and state; and each account's balance summed from its
    ledger less its open days' running charges, unless `balance` is False (the caller sums it
    its own way, once)."""
    summed = sa.case(
        (t.accounts.c.account_no.is_(None), sa.null()),
        else_=sa.select(sa.func.coalesce(sa.func.sum(t.ledger.c.amount_paise), 0))
        .where(t.ledger.c.account_no == t.accounts.c.account_no, t.ledger.c.kind.not_in(_ARREARS))
        .scalar_subquery()
        - running_charges(t.accounts.c.account_no),
    )
    return (
        sa.select(
            t.meters.c.meter_id,
            t.accounts.c.account_no,
            t.accounts.c.consumer_name,
            t.meters.c.area,
            t.meters.c.feeder,
            t.meters.c.transformer,
            t.meters.c.status,
            t.accounts.c.sanctioned_load_w,
            t.meter_state.c.last_seen,
            t.meter_state.c.last_interval,
            t.meter_state.c.active_sim,
            t.meter_state.c.operator,
            t.meter_state.c.rssi_dbm,
            t.meter_state.c.relay,
            (summed if balance else sa.null()).label("balance_paise"),
        )
        .select_from(t.meters)
        .join(t.meter_state, t.meter_state.c.meter_id == t.meters.c.meter_id)
        .join(t.accounts, t.accounts.c.meter_id == t.meters.c.meter_id, isouter=True)
    )


def _meter_view(row: sa.Row[tuple[object, ...]]) -> MeterView:
    values = row._asdict()
    if values["balance_paise"] is not None:
        values["balance_paise"] = int(values["balance_paise"])
    return MeterView(**values)


class LedgerTotal:
    """The sum of the whole ledger, kept up to date by reading only the entries added since,
    less the running charges of days not closed yet (a small table: the open days).

    The ledger is append-only with increasing ids, so each call adds the entries past the last
    id seen. On PostgreSQL two transactions may commit their ids out of order; a full recount
    every `recount_after_s` seconds picks up any entry the running total stepped over.
    """

    def __init__(self, engine: Engine, recount_after_s: float = 300.0) -> None:
        self._engine = engine
        self._recount_after_s = recount_after_s
        self._lock = threading.Lock()
        self._last_id = 0
        self._total = 0
        self._counted_at: float | None = None

    def paise(self, ahead_s: float = 0.0) -> int:
        """The total (in paise); recounted in full when the recount is due, or due within `ahead_s`."""
        with self._lock:
            moment = time.monotonic()
            if self._counted_at is None or moment - self._counted_at > self._recount_after_s - ahead_s:
                self._last_id, self._total, self._counted_at = 0, 0, moment
            q = sa.select(sa.func.coalesce(sa.func.sum(t.ledger.c.amount_paise), 0), sa.func.max(t.ledger.c.id)).where(
                t.ledger.c.id > self._last_id
            )
            with self._engine.connect() as conn:
                added, last_id = conn.execute(q).one()
                running = conn.execute(open_charges()).scalar_one()
            if last_id is not None:
                self._total += int(added)
                self._last_id = int(last_id)
            return self._total - int(running)


class Reads:
    """Read-only questions from the web layer."""

    def __init__(self, engine: Engine, reports_ttl_s: float = 300.0, collection_ttl_s: float = 30.0) -> None:
        self.engine = engine
        self.reports = SqlReports(engine)
        self.ledger_total = LedgerTotal(engine)
        self._reports_ttl_s = reports_ttl_s
        self._collection_ttl_s = collection_ttl_s
        self._reports: dict[object, tuple[float, object]] = {}
        self._reports_lock = threading.Lock()
        from bijli.adapters.db.control import ControlReads  # it builds on this module's meter select

        self.control = ControlReads(engine)
        """The control room's lists and counts (one per platform: its counts are kept for all its pages)."""

    def collection(self, day: date, fresh: bool = False) -> Collection:
        """The day's data-collection rate, from each meter's day as settlement keeps it (one row
        a meter, tens of milliseconds at fleet size), as of at most `collection_ttl_s` ago: the
        dashboard's views in between share one answer (`fresh`: worked out now, and kept)."""
        ttl = 0.0 if fresh else self._collection_ttl_s
        return self._kept(("collection", day), lambda: self.reports.collection(day), ttl)

    def silent(self, now: datetime, silent_for: timedelta) -> int:
        """How many meters in service were not heard from for `silent_for`, as of at most
        `reports_ttl_s` seconds ago."""
        window = int(now.timestamp() // self._reports_ttl_s)  # a clock far from the last one counts anew
        return self._kept(("silent", silent_for, window), lambda: self.reports.count_silent(now, silent_for))

    def _kept(self, key: object, work: Callable[[], T], ttl_s: float | None = None) -> T:
        with self._reports_lock:
            moment = time.monotonic()
            found = self._reports.get(key)
            if found is None or moment - found[0] > (self._reports_ttl_s if ttl_s is None else ttl_s):
                if found is None and len(self._reports) >= KEPT_REPORTS:  # the oldest goes first
                    del self._reports[min(self._reports, key=lambda k: self._reports[k][0])]
                found = self._reports[key] = (moment, work())
            return cast(T, found[1])

    def ping(self) -> None:
        """Ask the database something trivial; StoreUnavailable if it cannot answer."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.select(sa.literal(1))).scalar_one()
        except SQLAlchemyError as e:
            raise StoreUnavailable(describe(e)) from e

    def meters(self, limit: int, offset: int) -> list[MeterView]:
        """A page of meters in meter-id order, each with its account's balance."""
        q = _meter_select().order_by(t.meters.c.meter_id).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [_meter_view(r) for r in conn.execute(q)]

    def known(self, meter_id: str) -> bool:
        """Whether the meter is registered (without the balance `meter` sums up)."""
        q = sa.select(t.meters.c.meter_id).where(t.meters.c.meter_id == meter_id)
        with self.engine.connect() as conn:
            return conn.execute(q).first() is not None

    def meter(self, meter_id: str, balance: bool = True) -> MeterView | None:
        """One meter; with its balance summed from the ledger unless `balance` is False (then
        `balance_paise` is None)."""
        q = _meter_select(balance).where(t.meters.c.meter_id == meter_id)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return None if row is None else _meter_view(row)

    def fleet(self, online_since: datetime) -> FleetCounts:
        """How many meters, how many heard from since `online_since` (as counted at most the
        control room's `kept_s`, half a minute, ago: one pass over the fleet's state, which every
        view of the dashboard would otherwise make), and the sum of all balances (up to date)."""
        window = int(online_since.timestamp() // self.control.kept_s)  # a clock far from the last one counts anew
        meters, online, out = self.control.kept(("fleet", window), lambda: self._count_fleet(online_since))
        return FleetCounts(meters=meters, online=online, out_of_service=out, balance_paise=self.ledger_total.paise())

    def _count_fleet(self, online_since: datetime) -> tuple[int, int, int]:
        s, m = t.meter_state.c, t.meters.c
        in_service = m.status == MeterStatus.COMMISSIONED.value
        q = sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((in_service & (s.last_seen >= online_since), 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((in_service, 0), else_=1)), 0),
        ).select_from(t.meter_state.join(t.meters, m.meter_id == s.meter_id))
        with self.engine.connect() as conn:
            meters, online, out = conn.execute(q).one()
        return int(meters), int(online), int(out)
