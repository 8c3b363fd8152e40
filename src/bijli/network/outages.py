"""Outages: many meters losing supply or their network at once, as one record each. Pure.

A meter without supply sends its last gasp (POWER_FAILURE) and POWER_RESTORED when the supply
is back; paired, they are its power-failure incidents (`bijli.vigilance.incidents`, here as
plain `Failure`s so that network needs nothing of vigilance). `power_outages` groups them:

- on one transformer, failures that begin within `GATHER` of the first are one cluster; a
  cluster of at least `MIN_METERS` meters and `MIN_SHARE` of the transformer's meters is a
  transformer outage (a single house losing supply is that house's matter, not an outage);
- transformer outages of one feeder that begin within `GATHER` of each other are one feeder
  outage when they are two or more, or the feeder's only transformer;
- an outage ends when the last of its meters is restored (open until then).

An operator outage is a mobile network down in one area: its meters' dual-SIM modems move to
their other SIM (the status they send then says so), and those that cannot fall silent, while
the rest of the area reports. `operator_outages` recognises it from each meter's link as the
head-end last knew it, never from power events, and leaves out meters that sent their last
gasp (a silent meter without supply is not a network's fault).

`covering` answers whether a meter was inside an outage at a moment, so a power failure or a
silence is never taken for tampering.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from bijli.kernel.time import epoch

GATHER: Final = timedelta(minutes=2)
"""Last gasps of one outage begin within this of each other."""
MIN_METERS: Final = 3
MIN_SHARE: Final = 0.5
"""A transformer outage takes at least this share of the transformer's meters."""
SILENT_AFTER: Final = timedelta(minutes=20)
"""A meter that has sent nothing for this long is silent (it reports every 15 minutes)."""
OPERATOR_MIN_METERS: Final = 5
OPERATOR_MIN_SHARE: Final = 0.5
"""Of an operator's meters in the area, this share displaced or silent makes an operator outage."""
OPERATOR_GATHER: Final = timedelta(minutes=5)
"""An operator outage's meters leave within this of each other; one silent longer before (a dead
modem, a meter off for its own reasons) does not move the outage's start back."""
PREFERRED_SIM: Final = 1


class OutageLevel(StrEnum):
    """What went down."""

    FEEDER = "feeder"
    TRANSFORMER = "transformer"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True, kw_only=True)
class Place:
    """Where a meter hangs on the network."""

    meter_id: str
    area: str
    feeder: str
    transformer: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """One meter's loss of supply, from its last gasp to its restoration (None: not yet)."""

    meter_id: str
    started_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Link:
    """A meter's connection as the head-end last knew it."""

    meter_id: str
    area: str
    operator: str | None
    sim: int | None
    """The SIM slot in use (1 is the preferred one)."""
    switched_at: datetime | None
    last_seen: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Outage:
    """One outage: what went down, where, from when to when, and the meters it took."""

    level: OutageLevel
    subject: str
    """The feeder, the transformer, or the operator."""
    area: str
    started_at: datetime
    ended_at: datetime | None
    meter_ids: tuple[str, ...]

    @property
    def key(self) -> str:
        """`level:area:subject:start-epoch`."""
        return f"{self.level}:{self.area}:{self.subject}:{epoch(self.started_at)}"

    @property
    def meters(self) -> int:
        return len(self.meter_ids)

    def spans(self, at: datetime) -> bool:
        """Whether `at` falls inside it (with `GATHER` either side: last gasps are not exact)."""
        return self.started_at - GATHER <= at and (self.ended_at is None or at <= self.ended_at + GATHER)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredOutage:
    """An outage as kept: its id (None before it is first stored) and what is known of it."""

    outage_id: int | None
    outage: Outage


def reconcile(
    stored: Sequence[StoredOutage], found: Sequence[Outage], back_at: Mapping[str, datetime], now: datetime
) -> tuple[list[StoredOutage], list[int]]:
    """What to save and what to drop, given the outages kept and those found now.

    A power outage found is the kept one it shares meters with (begun within `GATHER`): it takes
    that one's id, so a transformer outage that turns out to be its whole feeder's is one record
    that grew, and any other kept one it swallowed is dropped. An operator outage found is the
    open one of the same operator and area (its start and meters kept, new meters added); an
    open operator outage no longer found has ended when its meters went back to their own SIM
    (`back_at`: by outage key, the latest of its meters' returns; `now` when none is known).
    """
    saves: list[StoredOutage] = []
    drops: list[int] = []
    claimed: set[int] = set()
    kept_power = [s for s in stored if s.outage.level is not OutageLevel.OPERATOR and s.outage_id is not None]
    kept_operator = {
        (s.outage.area, s.outage.subject): s
        for s in stored
        if s.outage.level is OutageLevel.OPERATOR and s.outage.ended_at is None
    }
    for outage in found:
        if outage.level is OutageLevel.OPERATOR:
            before = kept_operator.pop((outage.area, outage.subject), None)
            if before is None:
                saves.append(StoredOutage(outage_id=None, outage=outage))
                continue
            meters = tuple(sorted(set(before.outage.meter_ids) | set(outage.meter_ids)))
            if meters != before.outage.meter_ids:
                saves.append(StoredOutage(outage_id=before.outage_id, outage=replace(before.outage, meter_ids=meters)))
            continue
        same = [
            s
            for s in kept_power
            if s.outage_id not in claimed
            and abs(s.outage.started_at - outage.started_at) <= GATHER
            and set(s.outage.meter_ids) & set(outage.meter_ids)
        ]
        same.sort(key=lambda s: s.outage_id or 0)
        if not same:
            saves.append(StoredOutage(outage_id=None, outage=outage))
            continue
        first, *swallowed = same
        claimed.update(s.outage_id for s in same if s.outage_id is not None)
        if first.outage != outage:
            saves.append(StoredOutage(outage_id=first.outage_id, outage=outage))
        drops.extend(s.outage_id for s in swallowed if s.outage_id is not None)
    for gone in kept_operator.values():
        saves.append(
            StoredOutage(
                outage_id=gone.outage_id, outage=replace(gone.outage, ended_at=back_at.get(gone.outage.key, now))
            )
        )
    return saves, drops


def ended_operator_outages(stored: Sequence[StoredOutage], found: Sequence[Outage]) -> list[Outage]:
    """The open operator outages kept that are not found any more (their ends are to be looked up)."""
    going_on = {(o.area, o.subject) for o in found if o.level is OutageLevel.OPERATOR}
    return [
        s.outage
        for s in stored
        if s.outage.level is OutageLevel.OPERATOR
        and s.outage.ended_at is None
        and (s.outage.area, s.outage.subject) not in going_on
    ]


def power_outages(
    failures: Iterable[Failure], places: Mapping[str, Place], meters_on: Mapping[str, int]
) -> list[Outage]:
    """Failures grouped into transformer and feeder outages; `meters_on` counts each
    transformer's meters (its own included) and each feeder's transformers (by feeder id)."""
    by_transformer: dict[str, list[Failure]] = defaultdict(list)
    for failure in failures:
        place = places.get(failure.meter_id)
        if place is not None:
            by_transformer[place.transformer].append(failure)
    transformer_outages: list[Outage] = []
    for transformer, found in by_transformer.items():
        for cluster in _clusters(sorted(found, key=lambda f: (f.started_at, f.meter_id))):
            meters = {f.meter_id for f in cluster}
            needed = max(MIN_METERS, math.ceil(MIN_SHARE * meters_on.get(transformer, len(meters))))
            if len(meters) < min(needed, meters_on.get(transformer, needed)):
                continue
            first = places[cluster[0].meter_id]
            transformer_outages.append(_outage(OutageLevel.TRANSFORMER, transformer, first.area, cluster))
    return _feeders(transformer_outages, places, meters_on)


def _clusters(found: Sequence[Failure]) -> list[list[Failure]]:
    clusters: list[list[Failure]] = []
    for failure in found:
        if clusters and failure.started_at - clusters[-1][0].started_at <= GATHER:
            clusters[-1].append(failure)
        else:
            clusters.append([failure])
    return clusters


def _outage(level: OutageLevel, subject: str, area: str, cluster: Sequence[Failure]) -> Outage:
    ends = [f.ended_at for f in cluster]
    return Outage(
        level=level,
        subject=subject,
        area=area,
        started_at=min(f.started_at for f in cluster),
        ended_at=None if any(e is None for e in ends) else max(e for e in ends if e is not None),
        meter_ids=tuple(sorted({f.meter_id for f in cluster})),
    )


def _feeders(outages: list[Outage], places: Mapping[str, Place], meters_on: Mapping[str, int]) -> list[Outage]:
    by_feeder: dict[str, list[Outage]] = defaultdict(list)
    for outage in outages:
        by_feeder[places[outage.meter_ids[0]].feeder].append(outage)
    result: list[Outage] = []
    for feeder, found in by_feeder.items():
        found.sort(key=lambda o: o.started_at)
        groups: list[list[Outage]] = []
        for outage in found:
            if groups and outage.started_at - groups[-1][0].started_at <= GATHER:
                groups[-1].append(outage)
            else:
                groups.append([outage])
        for group in groups:
            if len(group) >= 2 or meters_on.get(feeder) == 1:
                ends = [o.ended_at for o in group]
                result.append(
                    Outage(
                        level=OutageLevel.FEEDER,
                        subject=feeder,
                        area=group[0].area,
                        started_at=group[0].started_at,
                        ended_at=None if any(e is None for e in ends) else max(e for e in ends if e is not None),
                        meter_ids=tuple(sorted(m for o in group for m in o.meter_ids)),
                    )
                )
            else:
                result.extend(group)
    result.sort(key=lambda o: (o.started_at, o.area, o.subject))
    return result


@dataclass(frozen=True, slots=True)
class Reporting:
    """Of an operator's meters in an area: those reporting at all, and those on their own SIM."""

    reporting: int
    home: int


def is_displaced(link: Link, now: datetime) -> bool:
    """Silent, or moved off its own SIM: what an operator outage is made of."""
    silent = link.last_seen is None or link.last_seen < now - SILENT_AFTER
    moved = link.sim is not None and link.sim != PREFERRED_SIM and link.switched_at is not None
    return silent or moved


def tally(links: Iterable[Link], now: datetime) -> tuple[list[Link], dict[tuple[str, str], Reporting]]:
    """Links as `operator_outages` takes them: the displaced ones, and the others counted by
    (area, operator) (what the store does in SQL for a whole fleet)."""
    displaced: list[Link] = []
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    silent_since = now - SILENT_AFTER
    for link in links:
        if link.operator is None:
            continue
        if link.last_seen is not None and link.last_seen >= silent_since:
            counts[(link.area, link.operator)][0] += 1
        if is_displaced(link, now):
            displaced.append(link)
        else:
            counts[(link.area, link.operator)][1] += 1
    return displaced, {k: Reporting(reporting=r, home=h) for k, (r, h) in counts.items()}


def displaced_by_operator(
    displaced: Iterable[Link], operators: Sequence[str], now: datetime, without_supply: frozenset[str] = frozenset()
) -> dict[tuple[str, str], list[tuple[str, datetime]]]:
    """By (area, the operator they left or fell silent on): the displaced meters and since when."""
    silent_since = now - SILENT_AFTER
    moved: dict[tuple[str, str], list[tuple[str, datetime]]] = defaultdict(list)
    for link in displaced:
        if link.meter_id in without_supply or link.operator is None:
            continue
        left: str | None
        if link.last_seen is None or link.last_seen < silent_since:
            left, since = link.operator, link.last_seen
        else:
            left, since = _other(link.operator, operators), link.switched_at
        if left is not None and since is not None:
            moved[(link.area, left)].append((link.meter_id, since))
    return moved


def operator_outages(
    displaced: Iterable[Link],
    reporting: Mapping[tuple[str, str], Reporting],
    operators: Sequence[str],
    now: datetime,
    without_supply: frozenset[str] = frozenset(),
) -> list[Outage]:
    """Operator outages going on at `now`: in an area, an operator's meters moved off it to
    their other SIM or silent (`displaced`, see `tally`), while the area's other meters report.
    `reporting`: by (area, operator) the meters reporting and those on their own SIM;
    `operators`: the two operators of the meters' SIMs; `without_supply`: meters whose last
    gasp is not restored (silent for want of supply, not of a network)."""
    moved = displaced_by_operator(displaced, operators, now, without_supply)
    found: list[Outage] = []
    nobody = Reporting(reporting=0, home=0)
    for (area, operator), gone in sorted(moved.items()):
        home = reporting.get((area, operator), nobody).home
        share = len(gone) / (len(gone) + home)
        others = sum(r.reporting for (a, op), r in reporting.items() if a == area and op != operator)
        if len(gone) >= OPERATOR_MIN_METERS and share >= OPERATOR_MIN_SHARE and others + home > 0:
            found.append(
                Outage(
                    level=OutageLevel.OPERATOR,
                    subject=operator,
                    area=area,
                    started_at=_went_down(gone, home),
                    ended_at=None,
                    meter_ids=tuple(sorted(m for m, _at in gone)),
                )
            )
    return found


def _went_down(gone: Sequence[tuple[str, datetime]], home: int) -> datetime:
    """When the operator went down: the first of the run of departures (none more than
    `OPERATOR_GATHER` apart) that made the outage, so a meter silent for hours before, for its
    own reasons, does not date the outage back to its own silence."""
    times = sorted(at for _m, at in gone)
    needed = max(OPERATOR_MIN_METERS, math.ceil(OPERATOR_MIN_SHARE * (len(times) + home)))
    first = min(needed, len(times)) - 1
    while first > 0 and times[first] - times[first - 1] <= OPERATOR_GATHER:
        first -= 1
    return times[first]


def _other(operator: str, operators: Sequence[str]) -> str | None:
    others = [o for o in operators if o != operator]
    return others[0] if len(others) == 1 else None


def covering(outages: Iterable[Outage], place: Place, at: datetime) -> Outage | None:
    """The outage a meter was inside at `at`, if any: one of its meters, or on its transformer
    or feeder (a power outage), spanning `at`."""
    for outage in outages:
        if not outage.spans(at):
            continue
        if place.meter_id in outage.meter_ids:
            return outage
        if outage.level is OutageLevel.TRANSFORMER and outage.subject == place.transformer:
            return outage
        if outage.level is OutageLevel.FEEDER and outage.subject == place.feeder:
            return outage
    return None
