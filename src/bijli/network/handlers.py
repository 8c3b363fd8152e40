"""Network use cases: finding outages (a round `bijli serve` runs every few seconds, and the
scenario runner between its steps), and telling whether a meter was inside one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from bijli.kernel.unit import Transactions
from bijli.network.outages import (
    GATHER,
    Outage,
    OutageLevel,
    covering,
    operator_outages,
    power_outages,
    reconcile,
)
from bijli.network.ports import OutageBook, OutageUnit

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
        open_since = [s.outage.started_at for s in book.recent(now) if s.outage.ended_at is None]
        since = min([now - LOOKBACK, *open_since]) - GATHER
        stored = book.recent(since)
        failures = book.power_failures(since)
        places = book.places({f.meter_id for f in failures})
        # A cluster at the window's edge may have lost its first last gasps to it: it is one
        # kept already (or too old to keep), not a new outage.
        power = [
            o
            for o in power_outages(failures, places, book.meters_on() if failures else {})
            if o.started_at >= since + GATHER
        ]
        links = book.links()
        operators = sorted({link.operator for link in links if link.operator is not None})
        no_supply = frozenset(f.meter_id for f in failures if f.ended_at is None)
        operator = operator_outages(links, operators, now, no_supply)
        saves, drops = reconcile(stored, [*power, *operator], links, now)
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
