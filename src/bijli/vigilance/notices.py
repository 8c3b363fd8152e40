"""Who hears of a case, and what they are told: the consumer of a meter's tamper, the area's
field staff of every case their rule names them for, the assignee of a case handed to them.
Pure: the alerts are built here and raised in the case's own transaction (the outbox)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from bijli.alerts.model import Alert, AlertKind, Fact
from bijli.vigilance.cases import Case, CaseOpening, SubjectLevel

CASE_PAGE: Final = "/operations/cases/{case_id}"
"""The case's page in the control room: the link path a staff alert carries."""


def consumer_notice(o: CaseOpening, case_id: str, at: datetime) -> Alert | None:
    """The consumer's `tamper_reported` alert of a meter's case, if its rule tells them."""
    if not (o.notify_consumer and o.account_no and o.subject_level is SubjectLevel.METER):
        return None
    return Alert(
        account_no=o.account_no,
        kind=AlertKind.TAMPER_REPORTED,
        fact_key=f"case:{case_id}",
        facts={
            "case_id": case_id,
            "meter_id": o.subject_id,
            "what_en": str(o.evidence.get("what_en", o.kind)),
            "what_hi": str(o.evidence.get("what_hi", o.kind)),
        },
        raised_at=at,
    )


def case_facts(
    *, case_id: str, kind: str, severity: str, subject_id: str, area: str, evidence: Mapping[str, Any]
) -> dict[str, Fact]:
    """What a staff alert says of a case: its id, subject, kind, severity, place and page."""
    place = ", ".join(p for p in (area, str(evidence.get("transformer") or "")) if p)
    words = kind.replace("_", " ")
    return {
        "case_id": case_id,
        "subject_id": subject_id,
        "case_kind": kind,
        "severity": severity,
        "place": place,
        "path": CASE_PAGE.format(case_id=case_id),
        "what_en": str(evidence.get("what_en") or words),
        "what_hi": str(evidence.get("what_hi") or words),
    }


def staff_notices(o: CaseOpening, case_id: str, staff: Sequence[str], at: datetime) -> list[Alert]:
    """A `case_opened` alert to each of the area's field staff, if the case's rule tells them."""
    if not o.notify_field_staff:
        return []
    facts = case_facts(
        case_id=case_id,
        kind=o.kind,
        severity=o.severity.value,
        subject_id=o.subject_id,
        area=o.area,
        evidence=o.evidence,
    )
    return [
        Alert(
            staff=name, kind=AlertKind.CASE_OPENED, fact_key=f"case:{case_id}:staff:{name}", facts=facts, raised_at=at
        )
        for name in staff
    ]


def assignee_notice(case: Case, action_id: int, at: datetime) -> Alert | None:
    """A `case_assigned` alert to whom the case was handed (one per assignment)."""
    if case.assignee is None:
        return None
    facts = case_facts(
        case_id=case.case_id,
        kind=case.kind,
        severity=case.severity.value,
        subject_id=case.subject_id,
        area=case.area,
        evidence=case.evidence,
    )
    return Alert(
        staff=case.assignee,
        kind=AlertKind.CASE_ASSIGNED,
        fact_key=f"case:{case.case_id}:assigned:{action_id}",
        facts=facts,
        raised_at=at,
    )
