"""Ingest use case: one batch of deliveries becomes one committed transaction."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bijli.adapters.db.commands import record_acks
from bijli.adapters.db.store import Store, StoreTx
from bijli.headend.commands import acks_from
from bijli.headend.model import KeyRing, Rejected, meters_named, parse_topics, screen
from bijli.headend.ports import Delivery
from bijli.kernel.time import epoch, utc_from_epoch
from bijli.protocol.codec import Refusal
from bijli.protocol.frames import (
    AckFrame,
    DailyFrame,
    EventFrame,
    IntervalRecord,
    ReadingFrame,
    StatusFrame,
    TokenFrame,
)


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one batch did."""

    received: int
    readings_stored: int
    readings_duplicate: int
    events_stored: int
    quarantined: int
    readings_replaced: int = 0
    write_s: float = 0.0
    """Time spent writing the new readings into the store."""


@dataclass(slots=True)
class Collected:
    """What a batch's accepted frames add to the store, row by row."""

    now: datetime
    readings: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    """By (meter, interval start in epoch seconds)."""
    days: dict[tuple[str, datetime], dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    redemptions: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    sent_at: dict[tuple[str, int], int] = field(default_factory=dict)
    status: dict[str, dict[str, Any]] = field(default_factory=dict)


def interval_row(meter_id: str, r: IntervalRecord) -> dict[str, Any]:
    """One interval of a reading frame as ingest stores it (interval start in epoch seconds)."""
    return {
        "meter_id": meter_id,
        "interval_start": r.start,
        "import_wh": r.import_wh,
        "import_vah": r.import_vah,
        "export_wh": r.export_wh,
        "voltage_dv": r.voltage_dv,
        "current_ma": r.current_ma,
        "import_wh_total": r.import_wh_total,
    }


def _reading(frame: ReadingFrame, out: Collected) -> None:
    for r in frame.intervals:
        key = (frame.m, r.start)
        if key not in out.readings:
            out.readings[key] = interval_row(frame.m, r)
            out.sent_at[key] = frame.ts


def _daily(frame: DailyFrame, out: Collected) -> None:
    for d in frame.days:
        start = utc_from_epoch(d.day_start)
        out.days.setdefault(
            (frame.m, start),
            {
                "meter_id": frame.m,
                "day_start": start,
                "import_wh_total": d.import_wh_total,
                "export_wh_total": d.export_wh_total,
                "import_vah_total": d.import_vah_total,
                "received_at": out.now,
            },
        )


def _event(frame: EventFrame, out: Collected) -> None:
    out.events.extend(
        {"meter_id": frame.m, "code": e.code, "occurred_at": utc_from_epoch(e.at), "received_at": out.now}
        for e in frame.events
    )


def _status(frame: StatusFrame, out: Collected) -> None:
    # Frames come in counter order, so the batch keeps each meter's newest status; the store
    # takes it only if no newer one is there already (another worker may have been faster).
    out.status[frame.m] = dict(
        b_meter=frame.m,
        b_fc=frame.fc,
        active_sim=frame.sim,
        operator=frame.operator,
        rssi_dbm=frame.rssi_dbm,
        relay=frame.relay,
        balance_mirror_paise=frame.balance_paise,
        failovers=frame.failovers,
        sim1_s=frame.sim1_s,
        sim2_s=frame.sim2_s,
        switched_at=utc_from_epoch(frame.switched_at) if frame.switched_at else None,
    )


def _token(frame: TokenFrame, out: Collected) -> None:
    for r in frame.redemptions:
        out.redemptions.setdefault(
            (frame.m, r.token_id),
            {
                "meter_id": frame.m,
                "token_id": r.token_id,
                "status": r.status,
                "amount_paise": r.amount_paise,
                "redeemed_at": utc_from_epoch(r.at),
                "received_at": out.now,
            },
        )


def _ack(_frame: AckFrame, _out: Collected) -> None:
    """Acknowledgements are recorded against their commands by `record_acks`, in this batch's transaction."""


COLLECT: dict[type, Callable[[Any, Collected], None]] = {
    ReadingFrame: _reading,
    DailyFrame: _daily,
    EventFrame: _event,
    StatusFrame: _status,
    TokenFrame: _token,
    AckFrame: _ack,
}


def ingest_batch(
    store: Store, deliveries: Sequence[Delivery], ring: KeyRing, root: str, now: datetime, worker: str = "headend"
) -> IngestReport:
    """Screen a batch and store what meters sent, in one transaction; the caller acks after it
    returns. New actual readings are queued for settlement (`settlement.settle`), which
    validates, charges and adds them up outside the acknowledged path."""
    with store.transaction() as tx:
        parsed = parse_topics(root, deliveries)
        registry = tx.counters_for(meters_named(root, deliveries, parsed))
        screened = screen(deliveries, registry, ring, root, now, parsed)
        out = Collected(now)
        for item in screened.accepted:
            COLLECT[type(item.frame)](item.frame, out)

        rows = list(out.readings.values())
        began = time.perf_counter()
        stored_before = tx.store_readings(rows, now)
        write_s = time.perf_counter() - began
        fresh = [key for key in out.readings if key not in stored_before] if stored_before else list(out.readings)
        replaced = _replace_estimates(tx, [out.readings[key] for key in sorted(stored_before)], now)
        actual = fresh + replaced
        tx.enqueue_settlement([(m, at, out.sent_at[(m, at)]) for m, at in actual], now)
        latest: dict[str, int] = {}
        for meter_id, start in actual:
            if latest.get(meter_id, 0) < start:
                latest[meter_id] = start
        tx.update_meters(
            [
                {"meter_id": m, "last_fc": fc, "fc_window": screened.fc_window[m], "latest": latest.get(m)}
                for m, fc in screened.last_fc.items()
            ],
            list(out.status.values()),
            now,
        )
        tx.insert_events(out.events)
        tx.insert_days(list(out.days.values()))
        tx.insert_redemptions(list(out.redemptions.values()))
        record_acks(tx.conn, acks_from(item.frame for item in screened.accepted), now)
        tx.quarantine([_quarantine_row(r, now) for r in screened.rejected])
        report = IngestReport(
            received=len(deliveries),
            readings_stored=len(fresh),
            readings_duplicate=len(rows) - len(actual),
            events_stored=len(out.events),
            quarantined=len(screened.rejected),
            readings_replaced=len(replaced),
            write_s=write_s,
        )
        tx.log_batch(
            {
                "worker": worker,
                "committed_at": now,
                "received": report.received,
                "readings_stored": report.readings_stored,
                "readings_duplicate": report.readings_duplicate,
                "readings_replaced": report.readings_replaced,
                "quarantined": report.quarantined,
            }
        )
    return report


def _replace_estimates(tx: StoreTx, clashing: list[dict[str, Any]], now: datetime) -> list[tuple[str, int]]:
    """Of readings whose interval was stored already (in key order), put in place those that
    replace an estimate (with an audited edit); the rest are duplicates. The keys replaced."""
    if not clashing:
        return []
    rows = [
        {
            **r,
            "interval_start": utc_from_epoch(r["interval_start"]),
            "quality": "actual",
            "received_at": now,
            "flags": 0,
        }
        for r in clashing
    ]
    stored = tx.readings_at((r["meter_id"], r["interval_start"]) for r in rows)
    replacing = []
    for row in rows:
        before = stored.get((row["meter_id"], row["interval_start"]))
        if before is not None and before.quality == "estimated":
            replacing.append((row, before))
    tx.replace_readings([row for row, _ in replacing])
    tx.record_edits([edit(row, "replaced", "the actual reading arrived", now, before=b) for row, b in replacing])
    return [(row["meter_id"], epoch(row["interval_start"])) for row, _ in replacing]


def edit(row: dict[str, Any], action: str, reason: str, now: datetime, before: Any = None) -> dict[str, Any]:
    values = {c: row[c] for c in ("import_wh", "import_wh_total", "quality", "flags")}
    return {
        "meter_id": row["meter_id"],
        "interval_start": row["interval_start"],
        "action": action,
        "before": None if before is None else json.dumps({c: getattr(before, c) for c in values}),
        "after": json.dumps(values),
        "reason": reason[:128],
        "at": now,
    }


def quarantine_unprocessable(store: Store, delivery: Delivery, error: Exception, now: datetime) -> IngestReport:
    """Keep a delivery that the store could not take, so it stops blocking the others."""
    refusal = Refusal("unprocessable", f"could not be stored: {error!r}"[:1000])
    with store.transaction() as tx:
        tx.quarantine([_quarantine_row(Rejected(delivery, None, refusal), now)])
    return IngestReport(received=1, readings_stored=0, readings_duplicate=0, events_stored=0, quarantined=1)


def _quarantine_row(r: Rejected, now: datetime) -> dict[str, Any]:
    return {
        "received_at": now,
        "topic": r.delivery.topic[:256],
        "meter_id": r.meter_id,
        "reason": r.refusal.code,
        "detail": r.refusal.detail,
        "payload": r.delivery.payload,
    }
