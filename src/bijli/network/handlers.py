"""Network use cases: finding outages (a round `bijli serve` runs every few seconds, and the
scenario runner between its steps), and telling whether a meter was inside one; the energy
balance worked out as readings settle."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from bijli.kernel.time import ist_day
from bijli.kernel.unit import Transactions
from bijli.network.balance import TransformerDay
from bijli.network.model import USUAL_LOOKBACK_DAYS, Judged, Thresholds, judge, thresholds
from bijli.network.outages import (
    GATHER,
    OPERATOR_MIN_METERS,
    Outage,
    OutageLevel,
    covering,
    displaced_by_operator,
    ended_operator_outages,
    operator_outages,
    power_outages,
    reconcile,
)
from bijli.network.ports import DayRecord, EnergyBook, EnergyUnit, OutageBook, OutageUnit

LOOKBACK: Final = timedelta(hours=6)
"""Outages begun this long ago are looked at again each round (open ones, however old)."""


@dataclass(frozen=True, slots=True)
class OutageReport:
    """What a round changed."""

    saved: int
    dropped: int
    open_power: int
    open_operator: int


def find_outages(store: Transactions[OutageUnit], now: datetime) -> OutageReport:
    """Group the last gasps into transformer and feeder outages, recognise operator outages from
    the meters' links, and keep them (one record each, grown or ended as the facts come in)."""
    with store.transaction() as uow:
        book = uow.outages
        book.hold()  # several `bijli serve` workers: one round at a time, so one record per outage
        # Every open outage, however old, and those begun in the window (one query).
        stored = book.recent(now - LOOKBACK - GATHER)
        since = min([now - LOOKBACK, *(s.outage.started_at for s in stored if s.outage.ended_at is None)]) - GATHER
        failures = book.power_failures(since)
        places = book.places({f.meter_id for f in failures})
        # A cluster at the window's edge may have lost its first last gasps to it: it is one
        # kept already (or too old to keep), not a new outage.
        power = [
            o
            for o in power_outages(failures, places, book.meters_on() if failures else {})
            if o.started_at >= since + GATHER
        ]
        displaced = book.displaced(now)
        operators = book.operators() if displaced else []
        no_supply = frozenset(f.meter_id for f in failures if f.ended_at is None)
        groups = displaced_by_operator(displaced, operators, now, no_supply)
        # The whole fleet's counts only when enough meters left one operator in one area.
        if any(len(gone) >= OPERATOR_MIN_METERS for gone in groups.values()):
            operator = operator_outages(displaced, book.reporting(now), operators, now, no_supply)
        else:
            operator = []
        found = [*power, *operator]
        back_at = {
            o.key: back
            for o in ended_operator_outages(stored, found)
            if (back := book.returned(o.meter_ids, o.started_at)) is not None
        }
        saves, drops = reconcile(stored, found, back_at, now)
        book.drop(drops)  # first: a grown outage may take the key of one it swallowed
        book.save(saves, now)
    return OutageReport(
        saved=len(saves),
        dropped=len(drops),
        open_power=sum(o.ended_at is None for o in power),
        open_operator=len(operator),
    )


def outage_at(uow: OutageUnit, meter_id: str, at: datetime) -> Outage | None:
    """The outage a meter was inside at `at`: a kept one, or one its neighbours' last gasps
    around `at` make even before the round has kept it. None: the meter was on its own (a
    power failure or a silence of its own is for the rules to judge)."""
    book = uow.outages
    place = book.places([meter_id]).get(meter_id)
    if place is None:
        return None
    kept = covering(book.spanning(at), place, at)
    if kept is not None:
        return kept
    return _from_last_gasps(book, place.meter_id, at)


def _from_last_gasps(book: OutageBook, meter_id: str, at: datetime) -> Outage | None:
    failures = book.power_failures(at - 2 * GATHER, at + GATHER)
    if not any(f.meter_id == meter_id for f in failures):
        return None
    places = book.places({f.meter_id for f in failures})
    place = places[meter_id]
    found = power_outages(failures, places, book.meters_on())
    return covering([o for o in found if o.level is not OutageLevel.OPERATOR], place, at)


BALANCE_EVERY = timedelta(minutes=5)
"""A day's balance is worked out again at most this often while its readings still come in."""
LOOKBACK_DAYS = 7
"""How far back late readings still change a day's balance."""


def _earlier(
    energy: EnergyBook, day: date, transformers: Collection[str]
) -> dict[str, list[tuple[TransformerDay, bool]]]:
    """These transformers' stored days before `day` (their usual is made of them), with whether each was flagged."""
    out: dict[str, list[tuple[TransformerDay, bool]]] = {}
    first, last = day - timedelta(days=USUAL_LOOKBACK_DAYS), day - timedelta(days=1)
    for s in energy.stored(first, last, among=transformers):
        out.setdefault(s.day.transformer, []).append((s.day, s.flagged))
    return out


@dataclass(frozen=True, slots=True)
class BalanceRound:
    """What a balance round worked out: days (with a transformer meter's readings), transformers' days, flagged."""

    days: int
    transformers: int
    flagged: int


def _record(j: Judged) -> DayRecord:
    return DayRecord(
        day=j.day,
        balance=j.balance,
        unexplained_w=j.unexplained_w,
        night_w=j.night_w,
        excess_w=j.excess_w,
        flagged=j.flagged,
    )


def balance_due(
    store: Transactions[EnergyUnit],
    now: datetime,
    *,
    every: timedelta = BALANCE_EVERY,
    th: Thresholds | None = None,
) -> BalanceRound:
    """Work out (again) each transformer's IST days whose meters' readings changed since it was
    last worked out, at most once per `every`: its intervals (its meters' readings only), losses,
    their split and whether they are flagged against its own earlier days. Its later days
    already stored are judged again from their stored intervals (their usual may have changed),
    so the result is the same as working every day of every transformer out again. One unit of
    work per day, oldest first."""
    th = th or thresholds()
    today = ist_day(now)
    with store.transaction() as uow:
        due = uow.energy.due(today - timedelta(days=LOOKBACK_DAYS), now, every)
    days = transformers = flagged = 0
    redone: set[str] = set()  # transformers with an earlier day worked out this round
    day = min(due, default=today + timedelta(days=1))
    while day <= today:
        fresh = due.get(day, set())
        later = redone - fresh
        if fresh or later:
            with store.transaction() as uow:
                energy = uow.energy
                earlier = _earlier(energy, day, fresh | later)
                judged = judge(energy.transformer_days(day, fresh), th, earlier) if fresh else []
                again = judge([s.day for s in energy.stored(day, day, among=later)], th, earlier) if later else []
                energy.save([_record(j) for j in judged], now)
                energy.rejudge([_record(j) for j in again])
            if judged or again:
                days += 1
            transformers += len(judged) + len(again)
            flagged += sum(j.flagged for j in judged) + sum(j.flagged for j in again)
            redone |= {j.day.transformer for j in judged}
        day += timedelta(days=1)
    return BalanceRound(days=days, transformers=transformers, flagged=flagged)
