"""What the cases need from outside: their tables, the meters' events and places, the alerts
outbox. The SQL store implements them in `adapters/db/cases.py`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from bijli.alerts.ports import Outbox
from bijli.network.ports import EnergyBook, OutageBook
from bijli.vigilance.anomalies import MeterDay
from bijli.vigilance.cases import Case, CaseAction, CaseOpening, Moved, Status, Step


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseFilter:
    """Which cases a listing asks for (None: any)."""

    status: Status | None = None
    kind: str | None = None
    area: str | None = None
    severity: str | None = None
    subject_id: str | None = None
    open_only: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Opened:
    """A case opening as stored: its id, and whether this opening wrote it (False: its key was
    there already)."""

    case_id: str
    new: bool


class CaseBook(Protocol):
    def open(self, openings: Sequence[CaseOpening], now: datetime) -> list[Opened]:
        """Write each opening whose key is not stored yet, with its ``open`` action (by
        ``platform``); one `Opened` per opening, in order."""
        ...

    def holding(self, case_id: str) -> Case | None:
        """The case, locked until the unit of work ends (two steps on one case queue up)."""
        ...

    def move(self, case: Case, step: Step, moved: Moved, actor: str, reason: str, at: datetime) -> CaseAction:
        """Record a step: the case's new status and assignee, and its audited action."""
        ...

    def one(self, case_id: str) -> Case | None: ...

    def history(self, case_id: str) -> list[CaseAction]:
        """The case's actions, oldest first."""
        ...

    def listing(self, where: CaseFilter, limit: int, offset: int) -> list[Case]:
        """Cases, newest first."""
        ...

    def actions_after(self, after_id: int, area: str | None, limit: int) -> list[tuple[CaseAction, Case]]:
        """Actions (openings included) with an id above `after_id`, oldest first, each with
        its case as it stands (the live stream)."""
        ...

    def known_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of these keys already have a case."""
        ...

    def add_evidence(self, case_id: str, evidence: Mapping[str, Any]) -> None:
        """Replace a case's evidence (a detector adding what it saw since; its status and
        audit stay as they are)."""
        ...

    def note_staff_told(self, told: Mapping[str, int]) -> None:
        """Record, per case id, how many of its area's field staff its opening alerted."""
        ...


class FieldStaff(Protocol):
    def of_areas(self, areas: Sequence[str]) -> dict[str, list[str]]:
        """Per area, the user names of the staff who work it with a role that works cases
        (inspects, assigns or decides them), by name; an area with none is absent."""
        ...

    def known(self, usernames: Sequence[str]) -> set[str]:
        """Which of these are staff members' user names."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredEvent:
    """A meter's event as stored, with when the head-end received it."""

    event_id: int
    meter_id: str
    code: int
    occurred_at: datetime
    received_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterPlace:
    """Where a meter is, and the account it serves (None: no account)."""

    meter_id: str
    area: str
    feeder: str
    transformer: str
    account_no: str | None


class EventFeed(Protocol):
    def received_since(self, after: tuple[datetime, int], codes: Sequence[int], limit: int) -> list[StoredEvent]:
        """Events of these codes after `after` (received later, or received then with a higher
        id), by (received_at, id)."""
        ...

    def of_meters(
        self, meter_ids: Sequence[str], codes: Sequence[int], begin: datetime, end: datetime
    ) -> list[StoredEvent]:
        """These meters' events of these codes that occurred in [begin, end], by occurrence."""
        ...

    def places(self, meter_ids: Sequence[str]) -> Mapping[str, MeterPlace]:
        """Where each meter is (an unknown meter is absent)."""
        ...

    def cursor(self, name: str) -> datetime | None:
        """Where a round named `name` got to (None: it never ran)."""
        ...

    def save_cursor(self, name: str, at: datetime) -> None: ...


class CaseUnit(Protocol):
    """A unit of work that opens and works cases."""

    @property
    def cases(self) -> CaseBook: ...
    @property
    def alerts(self) -> Outbox: ...
    @property
    def field_staff(self) -> FieldStaff: ...


class DueCaseUnit(CaseUnit, Protocol):
    """What the round that opens cases from the meters' events needs besides."""

    @property
    def vigilance_events(self) -> EventFeed: ...
    @property
    def outages(self) -> OutageBook: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class IntervalFacts:
    """One interval of a meter around an incident: energy, voltage, current, quality."""

    start: datetime
    import_wh: int
    export_wh: int
    voltage_dv: int
    current_ma: int
    quality: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Surroundings:
    """What a meter recorded around an incident: its intervals and events, and its relay now."""

    intervals: tuple[IntervalFacts, ...]
    events: tuple[StoredEvent, ...]
    relay: int | None
    last_seen: datetime | None


class Evidence(Protocol):
    def around(self, meter_id: str, begin: datetime, end: datetime) -> Surroundings:
        """The meter's intervals and events in [begin, end), and its relay state now."""
        ...


class EvidenceUnit(Protocol):
    @property
    def cases(self) -> CaseBook: ...
    @property
    def vigilance_evidence(self) -> Evidence: ...


class HookingUnit(CaseUnit, Protocol):
    """What looking for hooking needs besides opening cases: the transformers' stored days."""

    @property
    def energy(self) -> EnergyBook: ...


class AnomalyFacts(Protocol):
    def meter_days(self, day: date, area: str | None = None, transformer: str | None = None) -> list[MeterDay]:
        """Every consumer meter with readings on `day` (of one area or transformer, or all)."""
        ...


class AnomalyUnit(Protocol):
    @property
    def anomaly_facts(self) -> AnomalyFacts: ...
