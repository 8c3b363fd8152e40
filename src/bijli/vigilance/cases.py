"""A revenue-protection case: what opens one, and the steps of its life. Pure.

A case is opened once per incident (its `key`), by the rules (`bijli.vigilance.rules`) or by
another detector (hooking on a transformer), and then worked through a transition table:

``new -> assigned -> inspected -> confirmed_theft | false_alarm -> closed`` (``reopen``
takes a closed case back to ``new``; ``assign`` again hands it to someone else). Each step is
audited with who took it, when and why. Which role may take which step is the access area's
table (`bijli.access.model.CASE_STEP_PERMISSION`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final


class Status(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    INSPECTED = "inspected"
    CONFIRMED_THEFT = "confirmed_theft"
    FALSE_ALARM = "false_alarm"
    CLOSED = "closed"


class Step(StrEnum):
    """What someone does to a case (``open`` is the opening itself, by the platform)."""

    OPEN = "open"
    ASSIGN = "assign"
    INSPECT = "inspect"
    CONFIRM = "confirm"
    FALSE_ALARM = "false_alarm"
    CLOSE = "close"
    REOPEN = "reopen"


STEPS: Final = tuple(s for s in Step if s is not Step.OPEN)
"""The steps people take (the API's actions)."""

TRANSITIONS: Final[Mapping[Step, tuple[frozenset[Status], Status]]] = {
    Step.ASSIGN: (frozenset({Status.NEW, Status.ASSIGNED}), Status.ASSIGNED),
    Step.INSPECT: (frozenset({Status.ASSIGNED}), Status.INSPECTED),
    Step.CONFIRM: (frozenset({Status.INSPECTED}), Status.CONFIRMED_THEFT),
    Step.FALSE_ALARM: (frozenset({Status.INSPECTED}), Status.FALSE_ALARM),
    Step.CLOSE: (frozenset({Status.CONFIRMED_THEFT, Status.FALSE_ALARM}), Status.CLOSED),
    Step.REOPEN: (frozenset({Status.CLOSED}), Status.NEW),
}
"""Each step: the statuses it may be taken from, and the status it leads to."""

OPEN_STATUSES: Final = frozenset({Status.NEW, Status.ASSIGNED, Status.INSPECTED})
"""A case someone still has to work on."""


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class SubjectLevel(StrEnum):
    """What a case is about: one meter, or a transformer (theft by hooking on its lines)."""

    METER = "meter"
    TRANSFORMER = "transformer"


MAX_KEY = 160
MAX_REASON = 512
MAX_NOTE = 512


class InvalidOpening(ValueError):
    """A case opening that cannot be stored (an empty key or subject, a reason too long)."""


class StepRefused(ValueError):
    """The workflow does not allow this step from the case's status (the API's 409)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseOpening:
    """A case to open. `key` is unique per incident: opening the same key again opens nothing.

    `reason_en` / `reason_hi` say in words why (shown to staff and, for a meter, behind the
    consumer's alert); `evidence` is what the detector saw (JSON: numbers, strings, lists,
    dicts), kept with the case. `account_no` is the consumer to notify (a meter's account).
    """

    key: str
    kind: str
    severity: Severity
    subject_level: SubjectLevel
    subject_id: str
    area: str
    opened_at: datetime
    reason_code: str
    reason_en: str
    reason_hi: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    account_no: str | None = None
    notify_consumer: bool = False
    """Raise an alert to the account's consumer (through the alerts outbox) when it opens."""
    notify_field_staff: bool = False
    """Raise an alert to each of the area's field staff (those whose role works cases) when it opens."""

    def check(self) -> None:
        """Raise `InvalidOpening` if this cannot be a case."""
        if not self.key or len(self.key) > MAX_KEY:
            raise InvalidOpening(f"a case key has 1 to {MAX_KEY} characters: {self.key!r}")
        if not self.kind or not self.subject_id or not self.reason_code:
            raise InvalidOpening(f"case {self.key}: kind, subject and reason code are needed")
        if len(self.reason_en) > MAX_REASON or len(self.reason_hi) > MAX_REASON:
            raise InvalidOpening(f"case {self.key}: a reason has at most {MAX_REASON} characters")
        if self.opened_at.tzinfo is None:
            raise InvalidOpening(f"case {self.key}: opened_at needs a time zone")


def case_id_for(key: str) -> str:
    """The case's id, derived from its key (the same on every store and every try)."""
    return "C-" + hashlib.sha256(key.encode()).hexdigest()[:12].upper()


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """A case as it stands."""

    case_id: str
    key: str
    kind: str
    severity: Severity
    status: Status
    subject_level: SubjectLevel
    subject_id: str
    area: str
    account_no: str | None
    opened_at: datetime
    updated_at: datetime
    assignee: str | None
    reason_code: str
    reason_en: str
    reason_hi: str
    evidence: Mapping[str, Any]
    staff_told: int | None = None
    """How many of the area's field staff its opening alerted (0: none on record there; None:
    its opening was to tell no field staff)."""

    @property
    def no_field_staff(self) -> bool:
        """Opened to tell the area's field staff, and none was on record to be told."""
        return self.staff_told == 0


NO_FIELD_STAFF_EN: Final = "no field staff on record for this area"


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseAction:
    """One audited step of a case: who, when, why, and the status before and after."""

    action_id: int
    case_id: str
    step: Step
    from_status: Status | None
    to_status: Status
    actor: str
    at: datetime
    reason: str
    assignee: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRequest:
    """A step someone asks for: `assignee` with ``assign``, a reason always."""

    step: Step
    actor: str
    reason: str
    assignee: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Moved:
    """What a step does to a case: its new status and assignee."""

    to_status: Status
    assignee: str | None


def take_step(case: Case, request: StepRequest) -> Moved:
    """The case after `request`, or `StepRefused` when the workflow forbids it from here (or
    the request lacks what the step needs)."""
    if request.step is Step.OPEN:
        raise StepRefused("a case is opened by the platform, not by a step")
    allowed_from, to_status = TRANSITIONS[request.step]
    if case.status not in allowed_from:
        froms = ", ".join(sorted(s.value for s in allowed_from))
        raise StepRefused(f"case {case.case_id} is {case.status.value}: {request.step.value} is taken from {froms}")
    if not request.reason.strip():
        raise StepRefused(f"{request.step.value} needs a reason")
    if len(request.reason) > MAX_NOTE:
        raise StepRefused(f"a reason has at most {MAX_NOTE} characters")
    assignee = case.assignee
    if request.step is Step.ASSIGN:
        if not request.assignee or not request.assignee.strip():
            raise StepRefused("assign names the assignee")
        assignee = request.assignee.strip()
    elif request.assignee is not None:
        raise StepRefused(f"{request.step.value} takes no assignee")
    if request.step is Step.REOPEN:
        assignee = None
    return Moved(to_status=to_status, assignee=assignee)
