"""The VEE job: find missing intervals, ask meters for them, estimate what is still missing.

Run every few minutes (by `bijli serve`, or `bijli mdm vee`). An interval counts as missing
once it ended more than `grace` ago. For an online meter the job first asks for the range
(a profile read); whatever is still missing gets an estimate, flagged with its method and
written to the edit log, and the real reading replaces it when it comes. Only meters in
service are looked at, and only over the intervals they were in service for.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bijli.adapters.db import mdm as sql
from bijli.adapters.db.meters import changes_after
from bijli.adapters.db.store import Store
from bijli.headend.meters import MeterStatus, out_of_service
from bijli.kernel.time import INTERVAL, INTERVAL_S, epoch, utc_from_epoch
from bijli.mdm.vee import Anchor, estimate_gap, gaps, slot_of

ONLINE_WITHIN = timedelta(minutes=30)
REFERENCE_DAYS = 7
BackfillRequest = Callable[[str, datetime, datetime], None]
"""(meter id, first missing interval, end of the last missing one): ask the meter again."""


@dataclass(frozen=True, slots=True)
class VeeReport:
    checked_from: datetime
    checked_to: datetime
    meters_incomplete: int
    intervals_estimated: int
    backfills_requested: int


def run_vee(
    store: Store,
    now: datetime,
    *,
    lookback: timedelta = timedelta(days=2),
    grace: timedelta = timedelta(hours=1),
    request_backfill: BackfillRequest | None = None,
) -> VeeReport:
    """One pass over the last `lookback` of intervals that ended at least `grace` ago."""
    edge = epoch(now - grace)
    last = utc_from_epoch(edge - edge % INTERVAL_S) - INTERVAL
    first = last - lookback + INTERVAL
    expected = int(lookback / INTERVAL)
    estimated = asked = 0
    asks: list[tuple[str, datetime, datetime]] = []
    with store.transaction() as tx:
        conn = tx.conn
        meters = sql.incomplete_meters(conn, first, last, expected)
        if not meters:
            return VeeReport(first, last, 0, 0, 0)
        history = sql.readings_between(conn, meters, first - timedelta(days=REFERENCE_DAYS), last + INTERVAL)
        seen = sql.last_seen(conn, meters)
        changes = changes_after(conn, meters, first)
        rows: list[dict[str, Any]] = []
        for meter in meters:
            readings = history.get(meter, [])
            if not readings:
                continue  # never reported: nothing to estimate from, and nothing to invent
            by_start = {r.interval_start: r for r in readings}
            start = max(first, readings[0].interval_start)
            # Intervals the meter was decommissioned for are not missing: none was due.
            idle = out_of_service(changes[meter], MeterStatus.COMMISSIONED, start, last) if meter in changes else []
            runs = gaps([r.interval_start for r in readings] + idle, start, last)
            if not runs:
                continue
            online = seen.get(meter) is not None and now - seen[meter] <= ONLINE_WITHIN  # type: ignore[operator]
            for run in runs:
                if online:
                    asks.append((meter, run[0], run[-1] + INTERVAL))
                rows.extend(_estimates(meter, run, by_start, readings, now))
        written = sql.insert_estimates(conn, rows)
        rows = [r for r in rows if (r["meter_id"], r["interval_start"]) in written]
        tx.record_edits(
            [
                {
                    "meter_id": r["meter_id"],
                    "interval_start": r["interval_start"],
                    "action": "estimated",
                    "before": None,
                    "after": json.dumps({c: r[c] for c in ("import_wh", "import_wh_total", "quality", "flags")}),
                    "reason": "linear" if r["flags"] & 16 else "reference day profile",
                    "at": now,
                }
                for r in rows
            ]
        )
        estimated = len(rows)
    if request_backfill is not None:  # after the commit: the requests are their own writes
        for meter, begin, end in asks:
            request_backfill(meter, begin, end)
            asked += 1
    return VeeReport(first, last, len(meters), estimated, asked)


def _estimates(
    meter: str, run: list[datetime], by_start: dict[datetime, Any], readings: list[Any], now: datetime
) -> list[dict[str, Any]]:
    previous = by_start.get(run[0] - INTERVAL)
    following = by_start.get(run[-1] + INTERVAL)
    before = Anchor(previous.interval_start, previous.import_wh_total) if previous else None
    after = None
    if following is not None and following.quality == "actual":
        after = Anchor(following.interval_start, following.import_wh_total - following.import_wh)
    reference: dict[int, int] = {}
    for r in readings:  # the latest actual reading of each time of day, before the gap
        if r.quality == "actual" and r.interval_start < run[0]:
            reference[slot_of(r.interval_start)] = r.import_wh
    return [
        {
            "meter_id": meter,
            "interval_start": e.interval_start,
            "import_wh": e.import_wh,
            "import_vah": e.import_wh,
            "export_wh": 0,
            "voltage_dv": 0,
            "current_ma": 0,
            "import_wh_total": e.import_wh_total,
            "quality": "estimated",
            "received_at": now,
            "flags": int(e.flags),
        }
        for e in estimate_gap(run, before, after, reference)
    ]
