"""Reprocessing what was set aside: kept frames whose reason can change (`SET_ASIDE`) go through
the same screening and ingest as when they arrived, and each is marked with what became of it.

A frame set aside never advanced its meter's counter, so its counter is still accepted
(`admit_kept`); everything a frame writes is kept once by its own key, so a frame whose
readings are there already (the meter sent them again meanwhile) is a duplicate and counts
nothing twice. A frame refused again for a reason that can change (the meter is still not
registered, still out of service) stays waiting; one the store still cannot take stays
`unprocessable`. Marked rows keep their first reason, so the quarantine stays the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from bijli.headend.handlers import store_screened
from bijli.headend.model import SET_ASIDE, KeyRing, MeterRecord, Screened, meters_named, parse_topics, screen
from bijli.headend.ports import Delivery, IngestUnit
from bijli.headend.records import KeptFrame
from bijli.kernel.time import utc_from_epoch
from bijli.kernel.unit import StoreUnavailable, Transactions
from bijli.mdm.model import EpochKey
from bijli.protocol.frames import ReadingFrame

CHUNK = 500
"""Kept frames reprocessed in one transaction."""

STORED, DUPLICATE, WAITING, FAILED = "stored", "duplicate", "waiting", "failed"
"""What became of a kept frame: taken, with something new; nothing new in it; refused again for a
reason that can change (left waiting); the store still cannot take it (left `unprocessable`).
Any other outcome is ``refused:<reason>``, a reason that cannot change."""


class ReprocessUnit(IngestUnit, Protocol):
    """What reprocessing reads and writes: what ingest does, and the quarantine's kept frames."""


@dataclass(frozen=True, slots=True)
class Reprocessed:
    """One kept frame, and what became of it (or would, on a dry run)."""

    frame: KeptFrame
    outcome: str


@dataclass(slots=True)
class ReprocessReport:
    frames: list[Reprocessed] = field(default_factory=list)
    readings_stored: int = 0
    readings_duplicate: int = 0
    readings_replaced: int = 0
    dry_run: bool = False

    def count(self, outcome: str) -> int:
        return sum(1 for f in self.frames if f.outcome == outcome)

    @property
    def refused(self) -> int:
        return sum(1 for f in self.frames if f.outcome.startswith("refused:"))


class NotReprocessable(ValueError):
    """A quarantine reason that does not change, so its frames are never reprocessed."""


def reprocess(
    store: Transactions[ReprocessUnit],
    ring: KeyRing,
    root: str,
    now: datetime,
    reasons: Sequence[str] = tuple(sorted(SET_ASIDE)),
    meter_id: str | None = None,
    dry_run: bool = False,
) -> ReprocessReport:
    """Run the kept frames set aside for `reasons` (and from `meter_id`, if given) through
    screening and ingest again, oldest first, `CHUNK` to a transaction; each transaction marks
    its frames with their outcome. `dry_run`: say what would become of them, change nothing.

    NotReprocessable for a reason not in `SET_ASIDE`. StoreUnavailable if the store goes away:
    what was committed stays (marked), the rest waits for the next run.
    """
    wrong = sorted(set(reasons) - SET_ASIDE)
    if wrong:
        raise NotReprocessable(
            f"frames quarantined as {', '.join(wrong)} are never reprocessed (only {', '.join(sorted(SET_ASIDE))})"
        )
    report = ReprocessReport(dry_run=dry_run)
    trial = _Trial()
    after = 0
    while True:
        try:
            taken = _chunk(store, ring, root, now, reasons, meter_id, after, CHUNK, report, trial if dry_run else None)
        except StoreUnavailable:
            raise
        except Exception:  # one of the chunk's frames fails in the store: each on its own
            if dry_run:
                raise
            taken = _one_by_one(store, ring, root, now, reasons, meter_id, after, report)
        if taken is None:
            return report
        after = taken


@dataclass(slots=True)
class _Trial:
    """What a dry run has taken so far (its chunks write nothing, so the next chunk must know)."""

    counters: dict[str, tuple[int, int]] = field(default_factory=dict)
    readings: set[EpochKey] = field(default_factory=set)


def _chunk(
    store: Transactions[ReprocessUnit],
    ring: KeyRing,
    root: str,
    now: datetime,
    reasons: Sequence[str],
    meter_id: str | None,
    after: int,
    limit: int,
    report: ReprocessReport,
    trial: _Trial | None,
) -> int | None:
    """Reprocess up to `limit` kept frames with ids above `after`; the last id taken (None: none left)."""
    with store.transaction() as uow:
        kept = uow.quarantine.waiting(reasons, meter_id, after, limit)
        if not kept:
            return None
        deliveries = [Delivery(k.topic, k.payload, k.id) for k in kept]
        parsed = parse_topics(root, deliveries)
        registry = uow.meters.counters_for(meters_named(root, deliveries, parsed))
        if trial is not None:
            registry = {m: _advanced(r, trial) for m, r in registry.items()}
        screened = screen(deliveries, registry, ring, root, now, parsed, kept=True)
        if trial is None:
            stored, new = store_screened(uow, screened, now)
        else:
            stored, new = None, _would_be_new(uow, screened, trial)
        outcomes = _outcomes(screened, new)
        if trial is None:
            uow.quarantine.mark_reprocessed({i: o for i, o in outcomes.items() if o != WAITING}, now)
    if stored is not None:  # committed
        report.readings_stored += stored.readings_stored
        report.readings_duplicate += stored.readings_duplicate
        report.readings_replaced += stored.readings_replaced
    report.frames.extend(Reprocessed(k, outcomes[k.id]) for k in kept)
    return kept[-1].id


def _one_by_one(
    store: Transactions[ReprocessUnit],
    ring: KeyRing,
    root: str,
    now: datetime,
    reasons: Sequence[str],
    meter_id: str | None,
    after: int,
    report: ReprocessReport,
) -> int | None:
    """The next chunk's frames one at a time: one the store still refuses stays as it is."""
    with store.transaction() as uow:
        kept = uow.quarantine.waiting(reasons, meter_id, after, CHUNK)
    for k in kept:
        try:
            _chunk(store, ring, root, now, reasons, k.meter_id, k.id - 1, 1, report, None)
        except StoreUnavailable:
            raise
        except Exception:
            report.frames.append(Reprocessed(k, FAILED))
    return kept[-1].id if kept else None


def _advanced(record: MeterRecord, trial: _Trial) -> MeterRecord:
    if record.meter_id not in trial.counters:
        return record
    last, window = trial.counters[record.meter_id]
    return replace(record, last_fc=last, fc_window=window)


def _would_be_new(uow: IngestUnit, screened: Screened, trial: _Trial) -> set[EpochKey]:
    """The readings a dry run's accepted frames would add (or put in place of an estimate)."""
    trial.counters.update({m: (fc, screened.fc_window[m]) for m, fc in screened.last_fc.items()})
    frames = [a.frame for a in screened.accepted if isinstance(a.frame, ReadingFrame)]
    keys = {(f.m, r.start) for f in frames for r in f.intervals}
    there = uow.readings.at((m, utc_from_epoch(at)) for m, at in keys)
    new = {(m, at) for m, at in keys if (r := there.get((m, utc_from_epoch(at)))) is None or not r.actual}
    new -= trial.readings
    trial.readings |= new
    return new


def _outcomes(screened: Screened, new: set[EpochKey]) -> dict[int, str]:
    """What became of each kept frame (by id), from its screening and the readings that were new."""
    outcomes: dict[int, str] = {}
    for a in screened.accepted:
        fresh = not isinstance(a.frame, ReadingFrame) or any((a.frame.m, r.start) in new for r in a.frame.intervals)
        outcomes[_id(a.delivery)] = STORED if fresh else DUPLICATE
    for r in screened.rejected:
        code = r.refusal.code
        outcome = DUPLICATE if code == "replayed" else WAITING if code in SET_ASIDE else f"refused:{code}"
        outcomes[_id(r.delivery)] = outcome
    return outcomes


def _id(delivery: Delivery) -> int:
    assert isinstance(delivery.token, int)
    return delivery.token
