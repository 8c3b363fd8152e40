"""Ingest use case: one batch of deliveries becomes one committed transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bijli.adapters.db.store import Store, StoreTx
from bijli.headend.model import KeyRing, MeterRecord, Rejected, meters_named, screen
from bijli.headend.ports import Delivery
from bijli.kernel.time import ist_day, ist_midnight, month_key, utc_from_epoch
from bijli.prepaid.model import LedgerEntry, daily_fixed_charges, interval_charges
from bijli.protocol.codec import Refusal
from bijli.protocol.frames import AckFrame, EventFrame, ReadingFrame, StatusFrame


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one batch did."""

    received: int
    readings_stored: int
    readings_duplicate: int
    events_stored: int
    quarantined: int


def ingest_batch(store: Store, deliveries: Sequence[Delivery], ring: KeyRing, root: str, now: datetime) -> IngestReport:
    """Screen, store and charge a batch in one transaction; the caller acks after it returns."""
    with store.transaction() as tx:
        registry = tx.meter_records(meters_named(root, deliveries))
        screened = screen(deliveries, registry, ring, root, now)

        readings: dict[tuple[str, datetime], dict[str, Any]] = {}
        events: list[dict[str, Any]] = []
        state: dict[str, dict[str, Any]] = {}
        for meter_id, fc in screened.last_fc.items():
            state[meter_id] = {"b_meter": meter_id, "last_fc": fc, "last_seen": now}
        for item in screened.accepted:
            frame = item.frame
            if isinstance(frame, ReadingFrame):
                for r in frame.intervals:
                    start = utc_from_epoch(r.start)
                    readings.setdefault(
                        (frame.m, start),
                        {
                            "meter_id": frame.m,
                            "interval_start": start,
                            "import_wh": r.import_wh,
                            "import_vah": r.import_vah,
                            "export_wh": r.export_wh,
                            "voltage_dv": r.voltage_dv,
                            "current_ma": r.current_ma,
                            "import_wh_total": r.import_wh_total,
                            "quality": "actual",
                            "received_at": now,
                        },
                    )
            elif isinstance(frame, EventFrame):
                events.extend(
                    {"meter_id": frame.m, "code": e.code, "occurred_at": utc_from_epoch(e.at), "received_at": now}
                    for e in frame.events
                )
            elif isinstance(frame, StatusFrame):
                state[frame.m].update(
                    active_sim=frame.sim,
                    operator=frame.operator,
                    rssi_dbm=frame.rssi_dbm,
                    relay=frame.relay,
                    balance_mirror_paise=frame.balance_paise,
                )
            elif isinstance(frame, AckFrame):
                pass  # command lifecycle arrives with the command dispatcher

        existing = tx.existing_intervals(readings)
        fresh = [row for key, row in readings.items() if key not in existing]
        tx.insert_readings(fresh)
        tx.post(_charges(tx, fresh, registry), now)
        for row in fresh:
            s = state[row["meter_id"]]
            if s.get("last_interval") is None or row["interval_start"] > s["last_interval"]:
                s["last_interval"] = row["interval_start"]
        tx.insert_events(events)
        tx.update_state(list(state.values()))
        tx.quarantine([_quarantine_row(r, now) for r in screened.rejected])
    return IngestReport(
        received=len(deliveries),
        readings_stored=len(fresh),
        readings_duplicate=len(readings) - len(fresh),
        events_stored=len(events),
        quarantined=len(screened.rejected),
    )


def quarantine_unprocessable(store: Store, delivery: Delivery, error: Exception, now: datetime) -> IngestReport:
    """Keep a delivery that the store could not take, so it stops blocking the others."""
    refusal = Refusal("unprocessable", f"could not be stored: {error!r}"[:1000])
    with store.transaction() as tx:
        tx.quarantine([_quarantine_row(Rejected(delivery, None, refusal), now)])
    return IngestReport(received=1, readings_stored=0, readings_duplicate=0, events_stored=0, quarantined=1)


def _charges(tx: StoreTx, fresh: Sequence[dict[str, Any]], registry: dict[str, MeterRecord]) -> list[LedgerEntry]:
    """Energy charge and duty per new interval, and each new day's fixed charge."""
    lows: dict[tuple[str, str], int] = {}
    billed = []
    for row in fresh:
        supply = registry[row["meter_id"]].connection
        if supply is None:
            continue
        key = (supply.account_no, month_key(ist_day(row["interval_start"])))
        start_total = row["import_wh_total"] - row["import_wh"]
        lows[key] = min(lows.get(key, start_total), start_total)
        billed.append((supply, key, row))
    openings = tx.month_openings(lows)
    entries: list[LedgerEntry] = []
    days: set[tuple[str, object]] = set()
    for supply, key, row in billed:
        before = max(0, row["import_wh_total"] - row["import_wh"] - openings[key])
        entries.extend(interval_charges(supply, row["interval_start"], before, row["import_wh"]))
        day = ist_day(row["interval_start"])
        if (supply.account_no, day) not in days:
            days.add((supply.account_no, day))
            entries.extend(daily_fixed_charges(supply, day, ist_midnight(day)))
    return entries


def _quarantine_row(r: Rejected, now: datetime) -> dict[str, Any]:
    return {
        "received_at": now,
        "topic": r.delivery.topic[:256],
        "meter_id": r.meter_id,
        "reason": r.refusal.code,
        "detail": r.refusal.detail,
        "payload": r.delivery.payload,
    }
