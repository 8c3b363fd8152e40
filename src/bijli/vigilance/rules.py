"""The rules that turn meters' events into cases, read from data (`rules.toml`), and what they
open for a batch of events. Pure (reading the shipped file aside).

An event opens a case through the rule naming its code; one case per incident: an
occurrence, the repeats of it while it is open, up to its restoration (the even code after
it; a cover once opened is never restored). A pattern rule opens its case when enough
incidents begin on one meter within a time window.
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

from bijli.protocol.events import EventCode
from bijli.vigilance.cases import CaseOpening, Severity, SubjectLevel
from bijli.vigilance.ports import MeterPlace, StoredEvent

RULES_FILE: Final = "rules.toml"
NEVER_RESTORED: Final = frozenset({int(EventCode.COVER_OPEN)})
NOTIFY: Final = frozenset({"field_staff", "consumer"})


class InvalidRules(ValueError):
    """A rules file that does not say what a rule needs."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseRule:
    """Events of `codes` open a case of `case_kind` at `severity` (one per incident), or, with
    `at_least` above 1, once that many incidents begin on one meter within `within`."""

    name: str
    codes: frozenset[int]
    case_kind: str
    severity: Severity
    notify: frozenset[str]
    reason_en: str
    reason_hi: str
    at_least: int = 1
    within: timedelta | None = None
    unless_outage: bool = False
    """Open nothing for a meter inside a transformer or feeder outage when the incident began
    (`bijli.network.handlers.outage_at`): what supply faults also cause is not taken for theft."""

    @property
    def watched(self) -> frozenset[int]:
        """The codes whose events this rule reads: its occurrences and their restorations."""
        return self.codes | {r for r in (restoration(c) for c in self.codes) if r is not None}


@dataclass(frozen=True, slots=True)
class CaseRules:
    rules: tuple[CaseRule, ...]

    def named(self, name: str) -> CaseRule | None:
        return next((r for r in self.rules if r.name == name), None)

    @property
    def codes(self) -> list[int]:
        """The occurrence codes any rule opens a case for."""
        return sorted({c for r in self.rules for c in r.codes})

    @property
    def watched(self) -> list[int]:
        return sorted({c for r in self.rules for c in r.watched})


def restoration(code: int) -> int | None:
    """The code that ends an incident begun by `code` (None: nothing ends it)."""
    if code % 2 == 0 or code in NEVER_RESTORED:
        return None
    return code + 1


def parse_rules(text: str) -> CaseRules:
    """Rules from TOML text (`InvalidRules` names what is wrong)."""
    doc: dict[str, Any] = tomllib.loads(text)
    found: list[CaseRule] = []
    for i, entry in enumerate(doc.get("rule", [])):
        name = str(entry.get("name", f"rule {i + 1}"))
        try:
            codes = frozenset(int(c) for c in entry["codes"])
            notify = frozenset(str(n) for n in entry.get("notify", []))
            at_least = int(entry.get("at_least", 1))
            hours = entry.get("within_hours")
            rule = CaseRule(
                name=name,
                codes=codes,
                case_kind=str(entry["case_kind"]),
                severity=Severity(entry["severity"]),
                notify=notify,
                reason_en=str(entry["reason_en"]),
                reason_hi=str(entry["reason_hi"]),
                at_least=at_least,
                within=None if hours is None else timedelta(hours=float(hours)),
                unless_outage=bool(entry.get("unless_outage", False)),
            )
        except (KeyError, ValueError, TypeError) as e:
            raise InvalidRules(f"rule {name}: {e}") from e
        if not codes or any(c % 2 == 0 for c in codes):
            raise InvalidRules(f"rule {name}: codes are occurrence (odd) codes, at least one")
        if notify - NOTIFY:
            raise InvalidRules(
                f"rule {name}: notify names {', '.join(sorted(notify - NOTIFY))}; known: field_staff, consumer"
            )
        if at_least < 1 or (at_least > 1 and rule.within is None):
            raise InvalidRules(f"rule {name}: at_least above 1 needs within_hours")
        found.append(rule)
    names = [r.name for r in found]
    if len(set(names)) != len(names):
        raise InvalidRules("rule names are unique")
    return CaseRules(tuple(found))


def load_rules(path: Path | None = None) -> CaseRules:
    """A rules file (the shipped one when `path` is None)."""
    return shipped_rules() if path is None else parse_rules(path.read_text(encoding="utf-8"))


@cache
def shipped_rules() -> CaseRules:
    """`vigilance/rules.toml` as shipped, read once."""
    return parse_rules(resources.files("bijli.vigilance").joinpath(RULES_FILE).read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Incident:
    """A run of one meter's occurrences of one code up to its restoration (if any yet)."""

    meter_id: str
    code: int
    start: datetime
    events: tuple[StoredEvent, ...]


def incidents(history: Iterable[StoredEvent]) -> list[Incident]:
    """One meter's (or many meters') events paired into incidents: an occurrence opens one,
    repeats while it is open join it, its restoration ends it. By start."""
    runs: dict[tuple[str, int], list[StoredEvent]] = {}
    found: list[Incident] = []
    for e in sorted(history, key=lambda e: (e.meter_id, e.occurred_at, e.code)):
        if e.code % 2 == 1:
            runs.setdefault((e.meter_id, e.code), []).append(e)
            continue
        run = runs.pop((e.meter_id, e.code - 1), None)
        if run is not None:
            found.append(Incident(meter_id=e.meter_id, code=e.code - 1, start=run[0].occurred_at, events=(*run, e)))
    found += [Incident(meter_id=m, code=c, start=run[0].occurred_at, events=tuple(run)) for (m, c), run in runs.items()]
    return sorted(found, key=lambda i: (i.meter_id, i.start, i.code))


def _incident_of(found: Sequence[Incident], event: StoredEvent) -> Incident | None:
    for i in found:
        if (
            i.meter_id == event.meter_id
            and i.code == event.code
            and any(e.event_id == event.event_id for e in i.events)
        ):
            return i
    return None


def openings(
    rules: CaseRules,
    new_events: Sequence[StoredEvent],
    history: Sequence[StoredEvent],
    places: Mapping[str, MeterPlace],
    now: datetime,
) -> list[CaseOpening]:
    """The cases `new_events` open by `rules`, given the meters' events around them
    (`history`, which holds the new events too) and where the meters are. Meters with no
    place (unknown) open nothing. Keys are the incident's: the same events give the same keys."""
    by_meter: dict[str, list[StoredEvent]] = defaultdict(list)
    for e in history:
        by_meter[e.meter_id].append(e)
    wanted: dict[str, CaseOpening] = {}
    for rule in rules.rules:
        for event in new_events:
            place = places.get(event.meter_id)
            if event.code not in rule.codes or place is None:
                continue
            found = incidents(e for e in by_meter[event.meter_id] if e.code in rule.watched)
            incident = _incident_of(found, event)
            if incident is None:
                continue
            if rule.at_least == 1:
                key = f"{rule.name}:{event.meter_id}:{int(incident.start.timestamp())}"
                first = incident
            else:
                first_of_run = _pattern_run(rule, found, incident)
                if first_of_run is None:
                    continue
                key = f"{rule.name}:{event.meter_id}:{int(first_of_run.start.timestamp())}"
                first = first_of_run
            if key not in wanted:
                wanted[key] = _opening(rule, key, place, first, incident, found, now)
    return list(wanted.values())


def _pattern_run(rule: CaseRule, found: Sequence[Incident], incident: Incident) -> Incident | None:
    """For a pattern rule: the first incident of the run whose `at_least`-th incident within
    `within` is `incident` or came before it (None: `incident` is in no such run)."""
    assert rule.within is not None
    starts = [i for i in found if i.code in rule.codes]
    n = rule.at_least
    run_first: Incident | None = None
    for k, i in enumerate(starts):
        qualifies = k >= n - 1 and i.start - starts[k - n + 1].start <= rule.within
        run_first = (run_first or starts[k - n + 1]) if qualifies else None
        if i is incident or (i.start == incident.start and i.code == incident.code):
            return run_first
    return None


def _opening(
    rule: CaseRule,
    key: str,
    place: MeterPlace,
    first: Incident,
    incident: Incident,
    found: Sequence[Incident],
    now: datetime,
) -> CaseOpening:
    shown = [i for i in found if first.start <= i.start <= incident.start and i.code in rule.codes] or [incident]
    return CaseOpening(
        key=key,
        kind=rule.case_kind,
        severity=rule.severity,
        subject_level=SubjectLevel.METER,
        subject_id=place.meter_id,
        area=place.area,
        opened_at=now,
        reason_code=rule.name,
        reason_en=f"Meter {place.meter_id} reported {rule.reason_en}.",
        reason_hi=f"मीटर {place.meter_id} ने {rule.reason_hi} की सूचना दी।",
        evidence={
            "rule": rule.name,
            "incident_start": first.start.isoformat(),
            "feeder": place.feeder,
            "transformer": place.transformer,
            "what_en": rule.reason_en,
            "what_hi": rule.reason_hi,
            "events": [
                {"code": e.code, "occurred_at": e.occurred_at.isoformat(), "received_at": e.received_at.isoformat()}
                for i in shown
                for e in i.events
            ],
        },
        account_no=place.account_no,
        notify_consumer="consumer" in rule.notify and place.account_no is not None,
        notify_field_staff="field_staff" in rule.notify,
    )
