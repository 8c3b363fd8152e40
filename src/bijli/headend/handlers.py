"""Head-end use cases: a batch of deliveries becomes one committed transaction; a command
is asked of a meter; meters' answers move their commands."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bijli.headend.command_records import (
    CommandRecord,
    CommandRequest,
    CommandState,
    IdempotencyConflict,
    InvalidCommand,
    MeterNotInService,
    new_command,
)
from bijli.headend.commands import Status, answer, check_args, settled
from bijli.headend.commands import Step as CommandStep
from bijli.headend.model import KeyRing, Rejected, Screened, meters_named, parse_topics, screen
from bijli.headend.ports import Commands, CommandUnit, Delivery, IngestUnit, MeterKeys, QuarantineUnit
from bijli.headend.records import (
    BatchLog,
    CounterUpdate,
    DailyRegister,
    MeterEvent,
    QuarantineRecord,
    StatusReport,
    TokenRedemption,
)
from bijli.kernel.time import epoch, utc_from_epoch
from bijli.kernel.unit import Transactions
from bijli.mdm.meters import MeterStatus, UnknownMeter
from bijli.mdm.model import EditAction, EpochKey, IntervalRow, Quality, StoredReading, edit
from bijli.protocol.codec import Refusal
from bijli.protocol.frames import (
    KEY_CHANGE,
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
    """What one batch (or several, added up) did."""

    received: int
    readings_stored: int
    readings_duplicate: int
    events_stored: int
    quarantined: int
    readings_replaced: int = 0
    write_s: float = 0.0
    """Time spent writing the new readings into the store."""

    def __add__(self, other: IngestReport) -> IngestReport:
        return IngestReport(
            received=self.received + other.received,
            readings_stored=self.readings_stored + other.readings_stored,
            readings_duplicate=self.readings_duplicate + other.readings_duplicate,
            events_stored=self.events_stored + other.events_stored,
            quarantined=self.quarantined + other.quarantined,
            readings_replaced=self.readings_replaced + other.readings_replaced,
            write_s=self.write_s + other.write_s,
        )


NOTHING = IngestReport(0, 0, 0, 0, 0)


@dataclass(slots=True)
class Collected:
    """What a batch's accepted frames add to the store."""

    readings: dict[EpochKey, IntervalRow] = field(default_factory=dict)
    sent_at: dict[EpochKey, int] = field(default_factory=dict)
    days: dict[tuple[str, int], DailyRegister] = field(default_factory=dict)
    events: list[MeterEvent] = field(default_factory=list)
    redemptions: dict[tuple[str, int], TokenRedemption] = field(default_factory=dict)
    status: dict[str, StatusReport] = field(default_factory=dict)
    acks: list[AckFrame] = field(default_factory=list)


def interval_row(meter_id: str, r: IntervalRecord) -> IntervalRow:
    """One interval of a reading frame as ingest stores it."""
    return IntervalRow(
        meter_id, r.start, r.import_wh, r.import_vah, r.export_wh, r.voltage_dv, r.current_ma, r.import_wh_total
    )


def _reading(frame: ReadingFrame, out: Collected) -> None:
    for r in frame.intervals:
        key = (frame.m, r.start)
        if key not in out.readings:
            out.readings[key] = interval_row(frame.m, r)
            out.sent_at[key] = frame.ts


def _daily(frame: DailyFrame, out: Collected) -> None:
    for d in frame.days:
        out.days.setdefault(
            (frame.m, d.day_start),
            DailyRegister(
                meter_id=frame.m,
                day_start=d.day_start,
                import_wh_total=d.import_wh_total,
                export_wh_total=d.export_wh_total,
                import_vah_total=d.import_vah_total,
            ),
        )


def _event(frame: EventFrame, out: Collected) -> None:
    out.events.extend(MeterEvent(meter_id=frame.m, code=e.code, occurred_at=e.at) for e in frame.events)


def _status(frame: StatusFrame, out: Collected) -> None:
    # Frames come in counter order, so the batch keeps each meter's newest status; the store
    # takes it only if no newer one is there already (another worker may have been faster).
    out.status[frame.m] = StatusReport(
        meter_id=frame.m,
        fc=frame.fc,
        active_sim=frame.sim,
        operator=frame.operator,
        rssi_dbm=frame.rssi_dbm,
        relay=frame.relay,
        balance_mirror_paise=frame.balance_paise,
        failovers=frame.failovers,
        sim1_s=frame.sim1_s,
        sim2_s=frame.sim2_s,
        switched_at=frame.switched_at or None,
    )


def _token(frame: TokenFrame, out: Collected) -> None:
    for r in frame.redemptions:
        out.redemptions.setdefault(
            (frame.m, r.token_id),
            TokenRedemption(
                meter_id=frame.m, token_id=r.token_id, status=r.status, amount_paise=r.amount_paise, redeemed_at=r.at
            ),
        )


def _ack(frame: AckFrame, out: Collected) -> None:
    out.acks.append(frame)


COLLECT: dict[type, Callable[[Any, Collected], None]] = {
    ReadingFrame: _reading,
    DailyFrame: _daily,
    EventFrame: _event,
    StatusFrame: _status,
    TokenFrame: _token,
    AckFrame: _ack,
}


def ingest_batch(
    store: Transactions[IngestUnit],
    deliveries: Sequence[Delivery],
    ring: KeyRing,
    root: str,
    now: datetime,
    worker: str = "headend",
) -> IngestReport:
    """Screen a batch and store what meters sent, in one transaction; the caller acks after it
    returns. New actual readings are queued for settlement (`bijli.mdm.handlers.settle`),
    which validates, charges and adds them up outside the acknowledged path."""
    with store.transaction() as uow:
        parsed = parse_topics(root, deliveries)
        registry = uow.meters.counters_for(meters_named(root, deliveries, parsed))
        screened = screen(deliveries, registry, ring, root, now, parsed)
        refused = [r for r in screened.rejected if not delivered_again(r)]
        uow.quarantine.keep([_quarantined(r) for r in refused], now)
        stored, _ = store_screened(uow, screened, now)
        report = replace(stored, received=len(deliveries), quarantined=len(refused))
        uow.ingest_log.add(
            BatchLog(
                worker=worker,
                committed_at=now,
                received=report.received,
                readings_stored=report.readings_stored,
                readings_duplicate=report.readings_duplicate,
                readings_replaced=report.readings_replaced,
                quarantined=report.quarantined,
            )
        )
    return report


def delivered_again(r: Rejected) -> bool:
    """A message the broker hands over again whose frame counter is taken: its first delivery
    was taken (stored, or kept in the quarantine) and its acknowledgement lost, as when a worker
    stops between a batch's commit and its ack. It is acknowledged and kept nowhere a second
    time. A frame sent again by a meter or by anyone else is a new message, and a replay; so
    is a counter below 1, which no meter takes, however it comes."""
    return r.delivery.redelivered and r.taken


def store_screened(uow: IngestUnit, screened: Screened, now: datetime) -> tuple[IngestReport, set[EpochKey]]:
    """Write what screening accepted (readings, counters, status, events, daily registers,
    redemptions, command answers) and queue the new actual readings for settlement; what it
    did (nothing received or quarantined counted), and the keys of the readings that are new."""
    out = Collected()
    for item in screened.accepted:
        COLLECT[type(item.frame)](item.frame, out)

    rows = list(out.readings.values())
    began = time.perf_counter()
    stored_before = uow.readings.store(rows, now)
    write_s = time.perf_counter() - began
    fresh = [key for key in out.readings if key not in stored_before] if stored_before else list(out.readings)
    replaced = _replace_estimates(uow, [out.readings[key] for key in sorted(stored_before)], now)
    actual = fresh + replaced
    uow.settlement.enqueue([(m, at, out.sent_at[(m, at)]) for m, at in actual], now)
    latest: dict[str, int] = {}
    for meter_id, start in actual:
        if latest.get(meter_id, 0) < start:
            latest[meter_id] = start
    uow.meters.update(
        [CounterUpdate(m, fc, screened.fc_window[m], latest.get(m)) for m, fc in screened.last_fc.items()],
        list(out.status.values()),
        now,
    )
    uow.received.add_events(out.events, now)
    uow.received.add_daily_registers(list(out.days.values()), now)
    uow.received.add_redemptions(list(out.redemptions.values()), now)
    record_acks(uow.commands, out.acks, now, uow.meter_keys)
    report = IngestReport(
        received=0,
        readings_stored=len(fresh),
        readings_duplicate=len(rows) - len(actual),
        events_stored=len(out.events),
        quarantined=0,
        readings_replaced=len(replaced),
        write_s=write_s,
    )
    return report, set(actual)


def _replace_estimates(uow: IngestUnit, clashing: list[IntervalRow], now: datetime) -> list[EpochKey]:
    """Of readings whose interval was stored already (in key order), put in place those that
    replace an estimate (with an audited edit); the rest are duplicates. The keys replaced."""
    if not clashing:
        return []
    incoming = [
        StoredReading(
            meter_id=r.meter_id,
            interval_start=utc_from_epoch(r.interval_start),
            import_wh=r.import_wh,
            import_vah=r.import_vah,
            export_wh=r.export_wh,
            voltage_dv=r.voltage_dv,
            current_ma=r.current_ma,
            import_wh_total=r.import_wh_total,
            quality=Quality.ACTUAL,
            flags=0,
            received_at=now,
        )
        for r in clashing
    ]
    stored = uow.readings.at(r.key for r in incoming)
    replacing = [
        (row, new, stored[new.key])
        for row, new in zip(clashing, incoming, strict=True)
        if new.key in stored and not stored[new.key].actual
    ]
    uow.readings.replace([new for _, new, _ in replacing])
    uow.edits.record(
        [edit(new, EditAction.REPLACED, "the actual reading arrived", now, before=b) for _, new, b in replacing]
    )
    return [row.key for row, _, _ in replacing]


def quarantine_unprocessable(
    store: Transactions[QuarantineUnit], delivery: Delivery, error: Exception, now: datetime, root: str = "bijli"
) -> IngestReport:
    """Keep a delivery that the store could not take, so it stops blocking the others (it can
    be reprocessed once the cause is fixed: `bijli.headend.reprocess`)."""
    refusal = Refusal("unprocessable", f"could not be stored: {error!r}"[:1000])
    parsed = parse_topics(root, [delivery])[0]
    with store.transaction() as uow:
        uow.quarantine.keep([_quarantined(Rejected(delivery, parsed[0] if parsed else None, refusal))], now)
    return IngestReport(received=1, readings_stored=0, readings_duplicate=0, events_stored=0, quarantined=1)


def _quarantined(r: Rejected) -> QuarantineRecord:
    return QuarantineRecord(
        topic=r.delivery.topic[:256],
        meter_id=r.meter_id,
        reason=r.refusal.code,
        detail=r.refusal.detail,
        payload=r.delivery.payload,
    )


# ---------------------------------------------------------------------------- commands


def record_acks(
    commands: Commands, acks: Sequence[AckFrame], now: datetime, meter_keys: MeterKeys | None = None
) -> int:
    """Move commands by their meters' answers (an answer naming another meter's command is
    ignored); how many moves that made. A meter that answers ``done`` to a key change holds
    the new version from then on: `meter_keys` records it."""
    if not acks:
        return 0
    known = commands.states(sorted({a.command_id for a in acks}))
    changed = 0
    new_keys: list[str] = []
    for ack in acks:
        state = known.get(ack.command_id)
        if state is None or state.meter_id != ack.m:
            continue
        for step in answer(state.action, state.status, state.attempts, ack.status, ack.detail or ""):
            if commands.move(state, step, now):
                state = known[ack.command_id] = CommandState(
                    state.command_id, state.meter_id, state.action, step.status, state.attempts
                )
                changed += 1
                if state.action == KEY_CHANGE and step.status == Status.ACKNOWLEDGED:
                    new_keys.append(state.meter_id)
    if new_keys and meter_keys is not None:
        meter_keys.switch(new_keys, now)
    return changed


def submit_command(
    store: Transactions[CommandUnit], request: CommandRequest, now: datetime
) -> tuple[CommandRecord, bool]:
    """Store a new command, or find the one stored under the same idempotency key.

    (the command, whether it is new). InvalidCommand for arguments no meter could act on,
    UnknownMeter, MeterNotInService, or IdempotencyConflict when the key was used for a
    different request: then nothing is stored.
    """
    problem = check_args(request.action, request.args, now)
    if problem is not None:
        raise InvalidCommand(problem)
    with store.transaction() as uow:
        return queue_command(uow, request, now)


def queue_command(uow: CommandUnit, request: CommandRequest, now: datetime) -> tuple[CommandRecord, bool]:
    """`submit_command` in the caller's unit of work (a use case that asks for a command as
    part of its own decision, such as the supply service's)."""
    problem = check_args(request.action, request.args, now)
    if problem is not None:
        raise InvalidCommand(problem)
    existing = uow.commands.by_key(request.idempotency_key)
    if existing is None:
        status = uow.registry.status_for_command(request.meter_id)
        if status is None:
            raise UnknownMeter(request.meter_id)
        if status != MeterStatus.COMMISSIONED:
            raise MeterNotInService(f"meter {request.meter_id} is {status}; it takes no commands")
        command = new_command(request, now)
        if uow.commands.add(command):
            return command, True
        existing = uow.commands.by_key(request.idempotency_key)  # someone stored it meanwhile: theirs stands
        assert existing is not None
    if not existing.asks_the_same_as(request):
        raise IdempotencyConflict(existing)
    return existing, False


def end_unsettled(commands: Commands, meter_id: str, step: CommandStep, now: datetime) -> int:
    """End every command of the meter that has not settled with `step` (each move in its audit
    trail); how many it ended."""
    ended = 0
    for state in commands.open_of(meter_id):
        if not settled(state.action, state.status):
            ended += commands.move(state, step, now)
    return ended


BACKFILL_EXPIRES_IN = timedelta(hours=6)


def ask_for_profile(
    store: Transactions[CommandUnit], meter_id: str, begin: datetime, end: datetime, now: datetime
) -> CommandRecord | None:
    """Ask a meter again for the intervals in [begin, end) it has not delivered (a profile
    read), once per gap however often VEE finds it; None when the meter cannot be asked (not
    registered, out of service, or a range not on whole intervals)."""
    first, last = epoch(begin), epoch(end)
    request = CommandRequest(
        meter_id=meter_id,
        action="read_profile",
        args={"from": first, "to": last},
        reason="missing intervals (gap backfill)",
        requested_by="mdm",
        idempotency_key=f"backfill:{meter_id}:{first}:{last}",
        expires_in=BACKFILL_EXPIRES_IN,
    )
    try:
        return submit_command(store, request, now)[0]
    except (InvalidCommand, UnknownMeter, MeterNotInService, IdempotencyConflict):
        return None
