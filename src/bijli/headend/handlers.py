"""Ingest use case: one batch of deliveries becomes one committed transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bijli.adapters.db.commands import record_acks
from bijli.adapters.db.store import Store, StoreTx, earliest
from bijli.headend.commands import acks_from
from bijli.headend.model import KeyRing, MeterRecord, Rejected, meters_named, screen
from bijli.headend.ports import Delivery
from bijli.kernel.time import INTERVAL, ist_day, ist_midnight, month_key, utc_from_epoch
from bijli.mdm.vee import Observed, validate
from bijli.prepaid.model import LedgerEntry, daily_fixed_charges, interval_charges
from bijli.protocol.codec import Refusal
from bijli.protocol.frames import (
    REGISTER_MODULUS,
    AckFrame,
    DailyFrame,
    EventFrame,
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


@dataclass(slots=True)
class Collected:
    """What a batch's accepted frames add to the store, row by row."""

    now: datetime
    readings: dict[tuple[str, datetime], dict[str, Any]] = field(default_factory=dict)
    days: dict[tuple[str, datetime], dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    redemptions: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    sent_at: dict[tuple[str, datetime], int] = field(default_factory=dict)
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: dict[str, dict[str, Any]] = field(default_factory=dict)


def _reading(frame: ReadingFrame, out: Collected) -> None:
    for r in frame.intervals:
        start = utc_from_epoch(r.start)
        out.readings.setdefault(
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
                "received_at": out.now,
                "flags": 0,
            },
        )
        out.sent_at.setdefault((frame.m, start), frame.ts)


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
    """Screen, store and charge a batch in one transaction; the caller acks after it returns."""
    with store.transaction() as tx:
        registry = tx.meter_records(meters_named(root, deliveries))
        screened = screen(deliveries, registry, ring, root, now)
        out = Collected(now)
        for meter_id, fc in screened.last_fc.items():
            window = screened.fc_window[meter_id]
            out.state[meter_id] = {"b_meter": meter_id, "last_fc": fc, "fc_window": window, "last_seen": now}
        for item in screened.accepted:
            COLLECT[type(item.frame)](item.frame, out)

        known = tx.readings_around(out.readings)
        fresh, replacing = [], []
        for key, row in out.readings.items():
            stored = known.get(key)
            if stored is None:
                fresh.append(row)
            elif stored.quality == "estimated":
                replacing.append((row, stored))
        actual = fresh + [row for row, _ in replacing]
        edits = _validate(actual, out, known, registry, now)
        edits += [_edit(row, "replaced", "the actual reading arrived", now, before=stored) for row, stored in replacing]
        tx.insert_readings(fresh)
        tx.replace_readings([row for row, _ in replacing])
        tx.record_edits(edits)
        tx.post(_charges(tx, actual, registry), now)  # estimates are never billed; actuals once
        tx.add_daily(_daily_usage(actual, now))
        latest: dict[str, datetime] = {}
        for row in actual:
            latest[row["meter_id"]] = max(latest.get(row["meter_id"], row["interval_start"]), row["interval_start"])
        tx.insert_events(out.events)
        tx.insert_days(list(out.days.values()))
        tx.insert_redemptions(list(out.redemptions.values()))
        tx.update_state(list(out.state.values()))
        tx.update_status(list(out.status.values()))
        tx.advance_last_interval(latest)
        record_acks(tx.conn, acks_from(item.frame for item in screened.accepted), now)
        tx.quarantine([_quarantine_row(r, now) for r in screened.rejected])
        report = IngestReport(
            received=len(deliveries),
            readings_stored=len(fresh),
            readings_duplicate=len(out.readings) - len(actual),
            events_stored=len(out.events),
            quarantined=len(screened.rejected),
            readings_replaced=len(replacing),
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


def _validate(
    rows: list[dict[str, Any]],
    out: Collected,
    known: dict[tuple[str, datetime], Any],
    registry: dict[str, MeterRecord],
    now: datetime,
) -> list[dict[str, Any]]:
    """Flag what looks wrong in new actual readings; the flagged ones go to the edit log."""
    edits = []
    for row in rows:
        meter = row["meter_id"]
        previous = (meter, row["interval_start"] - INTERVAL)
        if previous in out.readings:
            previous_total: int | None = out.readings[previous]["import_wh_total"]
        else:
            stored = known.get(previous)
            previous_total = stored.import_wh_total if stored is not None and stored.quality == "actual" else None
        record = registry[meter]
        flags = validate(
            Observed(
                import_wh=row["import_wh"],
                import_wh_total=row["import_wh_total"],
                voltage_dv=row["voltage_dv"],
                interval_start=row["interval_start"],
                sent_at=out.sent_at[(meter, row["interval_start"])],
            ),
            previous_total,
            record.connection.sanctioned_load_w if record.connection else None,
            None if record.relay is None else record.relay == 1,
        )
        row["flags"] = int(flags)
        if flags:
            edits.append(_edit(row, "flagged", str(flags), now))
    return edits


def _edit(row: dict[str, Any], action: str, reason: str, now: datetime, before: Any = None) -> dict[str, Any]:
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


def _daily_usage(rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    days: dict[tuple[str, date], list[int]] = {}
    for row in rows:
        key = (row["meter_id"], ist_day(row["interval_start"]))
        acc = days.setdefault(key, [0, 0])
        acc[0] += row["import_wh"]
        acc[1] += 1
    return [
        {"meter_id": m, "day": d, "wh": wh, "intervals": n, "last_received_at": now} for (m, d), (wh, n) in days.items()
    ]


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
        start_total = (row["import_wh_total"] - row["import_wh"]) % REGISTER_MODULUS
        lows[key] = earliest(lows.get(key, start_total), start_total)
        billed.append((supply, key, row))
    # The last reading of the month before, where stored, gives the month's opening exactly.
    month_starts = {
        (row["meter_id"], ist_midnight(ist_day(row["interval_start"]).replace(day=1)) - INTERVAL): key
        for supply, key, row in billed
    }
    for (meter, at), total in tx.registers_at(month_starts).items():
        lows[month_starts[(meter, at)]] = total
    openings = tx.month_openings(lows)
    entries: list[LedgerEntry] = []
    days: set[tuple[str, object]] = set()
    for supply, key, row in billed:
        before = (row["import_wh_total"] - row["import_wh"] - openings[key]) % REGISTER_MODULUS
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
