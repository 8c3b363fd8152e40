"""Settlement: what the head-end stored becomes validated, charged and added up.

The head-end acknowledges a batch as soon as what the meters sent is committed; each batch's
new actual readings wait in the settlement queue. Settling a queued batch, in one
transaction: validation flags (with the edit log), energy charges and duty per interval and
each day's fixed charge on the ledger, and the daily aggregates; then the batch leaves the
queue. A crash before the commit leaves the batch queued, so every effect happens once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bijli.adapters.db.store import Store, StoreTx, earliest
from bijli.headend.handlers import edit
from bijli.headend.model import MeterRecord
from bijli.kernel.time import INTERVAL, ist_day, ist_midnight, month_key
from bijli.mdm.vee import Observed, flag_names, validate
from bijli.prepaid.model import LedgerEntry, daily_fixed_charge, interval_charge
from bijli.protocol.frames import REGISTER_MODULUS

BATCHES_AT_ONCE = 8
"""Queued ingest batches settled in one transaction."""


@dataclass(frozen=True, slots=True)
class SettleReport:
    batches: int
    readings: int
    flagged: int
    entries: int


def settle(store: Store, now: datetime, batches: int = BATCHES_AT_ONCE) -> SettleReport:
    """Settle up to `batches` of the oldest queued ingest batches (that no other settler holds)."""
    with store.transaction() as tx:
        claimed = tx.claim_settlement(batches)
        if not claimed:
            return SettleReport(0, 0, 0, 0)
        sent_at = {(m, at): sent for _, items in claimed for m, at, sent in items}
        around = tx.readings_around(sent_at)
        rows = [around[key] for key in sorted(sent_at) if key in around and around[key].quality == "actual"]
        registry = tx.meter_records({m for m, _ in sent_at}, lock=False)
        flagged = _validate(rows, around, sent_at, registry)
        tx.set_flags([(m, at, int(flags)) for (m, at), flags in flagged.items()])
        tx.record_edits([_flag_edit(around[key], flags, now) for key, flags in flagged.items()])
        entries = _charges(tx, rows, registry)
        tx.post(entries, now)
        tx.add_daily(_daily_usage(rows, now))
        tx.settled([batch_id for batch_id, _ in claimed])
    return SettleReport(len(claimed), len(rows), len(flagged), len(entries))


def settle_all(store: Store, now: datetime) -> int:
    """Settle until the queue is empty; how many readings that took."""
    done = 0
    while (report := settle(store, now)).batches:
        done += report.readings
    return done


def _validate(
    rows: Sequence[Any],
    around: dict[tuple[str, datetime], Any],
    sent_at: dict[tuple[str, datetime], int],
    registry: dict[str, MeterRecord],
) -> dict[tuple[str, datetime], int]:
    """The flags of the readings that deserve a look, by (meter, interval)."""
    flagged = {}
    for row in rows:
        previous = around.get((row.meter_id, row.interval_start - INTERVAL))
        previous_total = previous.import_wh_total if previous is not None and previous.quality == "actual" else None
        record = registry[row.meter_id]
        flags = validate(
            Observed(
                import_wh=row.import_wh,
                import_wh_total=row.import_wh_total,
                voltage_dv=row.voltage_dv,
                interval_start=row.interval_start,
                sent_at=sent_at[(row.meter_id, row.interval_start)],
            ),
            previous_total,
            record.connection.sanctioned_load_w if record.connection else None,
            None if record.relay is None else record.relay == 1,
        )
        if flags:
            flagged[(row.meter_id, row.interval_start)] = int(flags)
    return flagged


def _flag_edit(row: Any, flags: int, now: datetime) -> dict[str, Any]:
    values = {c: getattr(row, c) for c in ("meter_id", "interval_start", "import_wh", "import_wh_total", "quality")}
    return edit({**values, "flags": flags}, "flagged", ", ".join(flag_names(flags)), now)


def _daily_usage(rows: Sequence[Any], now: datetime) -> list[dict[str, Any]]:
    days: dict[tuple[str, date], list[int]] = {}
    for row in rows:
        acc = days.setdefault((row.meter_id, ist_day(row.interval_start)), [0, 0])
        acc[0] += row.import_wh
        acc[1] += 1
    return [
        {"meter_id": m, "day": d, "wh": wh, "intervals": n, "last_received_at": now} for (m, d), (wh, n) in days.items()
    ]


def _charges(tx: StoreTx, rows: Sequence[Any], registry: dict[str, MeterRecord]) -> list[LedgerEntry]:
    """Energy charge (with its duty) per new interval, and each new day's fixed charge."""
    lows: dict[tuple[str, str], int] = {}
    billed = []
    for row in rows:
        supply = registry[row.meter_id].connection
        if supply is None:
            continue
        key = (supply.account_no, month_key(ist_day(row.interval_start)))
        start_total = (row.import_wh_total - row.import_wh) % REGISTER_MODULUS
        lows[key] = earliest(lows.get(key, start_total), start_total)
        billed.append((supply, key, row))
    # The last reading of the month before, where stored, gives the month's opening exactly.
    month_starts = {
        (row.meter_id, ist_midnight(ist_day(row.interval_start).replace(day=1)) - INTERVAL): key
        for supply, key, row in billed
    }
    for (meter, at), total in tx.registers_at(month_starts).items():
        lows[month_starts[(meter, at)]] = total
    openings = tx.month_openings(lows)
    entries: list[LedgerEntry] = []
    days: set[tuple[str, object]] = set()
    for supply, key, row in billed:
        before = (row.import_wh_total - row.import_wh - openings[key]) % REGISTER_MODULUS
        entries.append(interval_charge(supply, row.interval_start, before, row.import_wh))
        day = ist_day(row.interval_start)
        if (supply.account_no, day) not in days:
            days.add((supply.account_no, day))
            entries.append(daily_fixed_charge(supply, day, ist_midnight(day)))
    return entries
