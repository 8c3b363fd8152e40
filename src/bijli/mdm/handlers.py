"""Meter data management use cases: settling what the head-end stored, and VEE.

Settlement. The head-end acknowledges a batch as soon as what the meters sent is committed;
each batch's new actual readings wait in the settlement queue. Settling a queued batch, in
one transaction: validation flags (with the edit log), each interval's charge added to its
account's running charge for the day (`bijli.prepaid.handlers.charge`), and the daily
aggregates; then the batch leaves the queue. A crash before the commit leaves the batch
queued, so every effect happens once. Each settling transaction also puts the days that have
ended on the ledger (`close_days`: one debit per account and day).

VEE. Run every few minutes (by `bijli serve`, or `bijli mdm vee`). An interval counts as
missing once it ended more than `grace` ago. For an online meter the pass first asks for the
range (a profile read, after the commit); whatever is still missing gets an estimate,
flagged with its method and written to the edit log, and the real reading replaces it when
it comes. Only meters in service are looked at, over the intervals they were in service for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bijli.kernel.time import INTERVAL, INTERVAL_S, epoch, ist_day, utc_from_epoch
from bijli.kernel.unit import Transactions
from bijli.mdm.meters import MeterStatus, out_of_service
from bijli.mdm.model import DayUsage, EditAction, Quality, ReadingEdit, ReadingKey, StoredReading, edit
from bijli.mdm.ports import MeterSupply, SettlementUnit, VeeUnit
from bijli.mdm.reports import received_within
from bijli.mdm.vee import Anchor, Flag, Observed, estimate_gap, flag_names, gaps, slot_of, validate
from bijli.prepaid.charging import Metered
from bijli.prepaid.handlers import charge, close_days
from bijli.protocol.relay import RelayState
from bijli.protocol.reporting import ONLINE_WITHIN

BATCHES_AT_ONCE = 8
"""Queued ingest batches settled in one transaction."""
REFERENCE_DAYS = 7
BackfillRequest = Callable[[str, datetime, datetime], None]
"""(meter id, first missing interval, end of the last missing one): ask the meter again."""


@dataclass(frozen=True, slots=True)
class SettleReport:
    batches: int
    readings: int
    flagged: int
    days_closed: int


def settle(
    store: Transactions[SettlementUnit], now: datetime, batches: int = BATCHES_AT_ONCE, last: int | None = None
) -> SettleReport:
    """Settle up to `batches` of the oldest queued ingest batches (that no other settler holds;
    with `last`, only batches queued up to that one: `queued_until`)."""
    with store.transaction() as uow:
        claimed = uow.settlement.claim(batches, last)
        if not claimed:
            return SettleReport(0, 0, 0, close_days(uow, now))
        sent_at = {(m, at): sent for batch in claimed for m, at, sent in batch.readings}
        around = uow.readings.around(sent_at)
        rows = [around[key] for key in sorted(sent_at) if key in around and around[key].actual]
        supplies = uow.meters.supplies({m for m, _ in sent_at})
        flagged = _validate(rows, around, sent_at, supplies)
        uow.readings.set_flags([(m, at, flags) for (m, at), flags in flagged.items()])
        uow.edits.record([_flag_edit(around[key], flags, now) for key, flags in flagged.items()])
        charge(uow, [Metered(r.meter_id, r.interval_start, r.import_wh, r.import_wh_total) for r in rows], now)
        closed = close_days(uow, now)
        uow.daily.add(_daily_usage(rows, now))
        uow.settlement.done([batch.batch_id for batch in claimed])
    return SettleReport(len(claimed), len(rows), len(flagged), closed)


def settle_all(
    store: Transactions[SettlementUnit], now: datetime, last: int | None = None, batches: int = BATCHES_AT_ONCE
) -> int:
    """Settle until the queue is empty (with `last`: of the batches queued up to that one) and
    every day due is on the ledger, `batches` a transaction; how many readings that took."""
    done = 0
    while (report := settle(store, now, batches, last)).batches or report.days_closed:
        done += report.readings
    return done


def queued_until(store: Transactions[SettlementUnit]) -> int | None:
    """The newest batch waiting to be settled now (for `settle_all(last=...)`: what was queued
    by a moment, settled while ingest goes on)."""
    with store.transaction() as uow:
        return uow.settlement.newest()


def _validate(
    rows: Sequence[StoredReading],
    around: dict[ReadingKey, StoredReading],
    sent_at: dict[ReadingKey, int],
    supplies: dict[str, MeterSupply],
) -> dict[ReadingKey, int]:
    """The flags of the readings that deserve a look, by (meter, interval)."""
    flagged = {}
    for row in rows:
        previous = around.get((row.meter_id, row.interval_start - INTERVAL))
        supply = supplies[row.meter_id]
        flags = validate(
            Observed(
                import_wh=row.import_wh,
                import_wh_total=row.import_wh_total,
                voltage_dv=row.voltage_dv,
                interval_start=row.interval_start,
                sent_at=sent_at[row.key],
            ),
            previous.import_wh_total if previous is not None and previous.actual else None,
            supply.connection.sanctioned_load_w if supply.connection else None,
            None if supply.relay is None else supply.relay == RelayState.CONNECTED,
        )
        if flags:
            flagged[row.key] = int(flags)
    return flagged


def _flag_edit(row: StoredReading, flags: int, now: datetime) -> ReadingEdit:
    flagged = StoredReading(
        meter_id=row.meter_id,
        interval_start=row.interval_start,
        import_wh=row.import_wh,
        import_vah=row.import_vah,
        export_wh=row.export_wh,
        voltage_dv=row.voltage_dv,
        current_ma=row.current_ma,
        import_wh_total=row.import_wh_total,
        quality=row.quality,
        flags=flags,
    )
    return edit(flagged, EditAction.FLAGGED, ", ".join(flag_names(flags)), now)


def _daily_usage(rows: Sequence[StoredReading], now: datetime) -> list[DayUsage]:
    """Each meter's day: the energy and intervals settled, and of those how many were received
    in time for the collection report (by the reading's own arrival, not its settling)."""
    days: dict[tuple[str, date], list[int]] = {}
    for row in rows:
        day = ist_day(row.interval_start)
        in_8h, in_24h = received_within(day, row.received_at or now)
        acc = days.setdefault((row.meter_id, day), [0, 0, 0, 0])
        acc[0] += row.import_wh
        acc[1] += 1
        acc[2] += in_8h
        acc[3] += in_24h
    return [
        DayUsage(meter_id=m, day=d, wh=wh, intervals=n, last_received_at=now, in_8h=in8, in_24h=in24)
        for (m, d), (wh, n, in8, in24) in days.items()
    ]


# ---------------------------------------------------------------------------- VEE


@dataclass(frozen=True, slots=True)
class VeeReport:
    checked_from: datetime
    checked_to: datetime
    meters_incomplete: int
    intervals_estimated: int
    backfills_requested: int


def run_vee(
    store: Transactions[VeeUnit],
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
    asks: list[tuple[str, datetime, datetime]] = []
    with store.transaction() as uow:
        meters = uow.readings.incomplete_meters(first, last, expected)
        if not meters:
            return VeeReport(first, last, 0, 0, 0)
        history = uow.readings.between(meters, first - timedelta(days=REFERENCE_DAYS), last + INTERVAL)
        seen = uow.meters.last_seen(meters)
        changes = uow.registry.changes_after(meters, first)
        estimates: list[StoredReading] = []
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
            heard = seen.get(meter)
            online = heard is not None and now - heard <= ONLINE_WITHIN
            for run in runs:
                if online:
                    asks.append((meter, run[0], run[-1] + INTERVAL))
                estimates.extend(_estimates(meter, run, by_start, readings, now))
        written = uow.readings.add_estimates(estimates)
        estimates = [e for e in estimates if e.key in written]
        uow.edits.record([edit(e, EditAction.ESTIMATED, _method(e.flags), now) for e in estimates])
    asked = 0
    if request_backfill is not None:  # after the commit: the requests are their own writes
        for meter, begin, end in asks:
            request_backfill(meter, begin, end)
            asked += 1
    return VeeReport(first, last, len(meters), len(estimates), asked)


def _method(flags: int) -> str:
    return "linear" if flags & Flag.ESTIMATED_LINEAR else "reference day profile"


def _estimates(
    meter: str,
    run: list[datetime],
    by_start: dict[datetime, StoredReading],
    readings: list[StoredReading],
    now: datetime,
) -> list[StoredReading]:
    previous = by_start.get(run[0] - INTERVAL)
    following = by_start.get(run[-1] + INTERVAL)
    before = Anchor(previous.interval_start, previous.import_wh_total) if previous else None
    after = None
    if following is not None and following.actual:
        after = Anchor(following.interval_start, following.import_wh_total - following.import_wh)
    reference: dict[int, int] = {}
    for r in readings:  # the latest actual reading of each time of day, before the gap
        if r.actual and r.interval_start < run[0]:
            reference[slot_of(r.interval_start)] = r.import_wh
    return [
        StoredReading(
            meter_id=meter,
            interval_start=e.interval_start,
            import_wh=e.import_wh,
            import_vah=e.import_wh,
            export_wh=0,
            voltage_dv=0,
            current_ma=0,
            import_wh_total=e.import_wh_total,
            quality=Quality.ESTIMATED,
            received_at=now,
            flags=int(e.flags),
        )
        for e in estimate_gap(run, before, after, reference)
    ]
