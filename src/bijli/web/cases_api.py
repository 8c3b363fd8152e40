"""Revenue-protection cases (API v1): the list, one case with its evidence bundle and history,
a workflow step, and the live stream the operations page and other systems follow
(server-sent events)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from bijli.access.model import Permission
from bijli.kernel.time import INTERVAL, ist_day, ist_midnight
from bijli.protocol.relay import RelayState, RelayWord
from bijli.vigilance import handlers as vigilance
from bijli.vigilance.cases import (
    NO_FIELD_STAFF_EN,
    Case,
    CaseAction,
    Status,
    Step,
    StepRefused,
    StepRequest,
    SubjectLevel,
)
from bijli.vigilance.ports import CaseFilter, Surroundings
from bijli.web.api import PREFIX
from bijli.web.auth import Auth, identity_of, needs_case_step
from bijli.web.case_chart import case_svg
from bijli.web.context import WebContext
from bijli.web.limits import EDGE, Limit, Offset, Paged, Problem, audit_text, page_of
from bijli.web.live import event_stream, resume_after, sse

LIVE_WAIT_S = 25
"""How long one live-stream response stays open (an EventSource then reconnects with the last
event id it saw)."""
LIVE_POLL_S = 0.5
AROUND = timedelta(hours=6)
"""The evidence takes the meter's intervals and events this long either side of the incident
(and the whole IST day it began in, for the chart)."""

CaseId = Annotated[str, Path(pattern=r"^C-[0-9A-F]{12}$", description="A case id: C- and 12 hex digits.")]
StatusName = Literal["new", "assigned", "inspected", "confirmed_theft", "false_alarm", "closed"]
StepName = Literal["assign", "inspect", "confirm", "false_alarm", "close", "reopen"]
Name = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[\w .:-]+$")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "No case has this id."}}


class CaseOut(BaseModel):
    case_id: str
    kind: str = Field(description="What it is about: magnet, cover_open, ..., hooking.")
    severity: Literal["low", "medium", "high"]
    status: StatusName
    subject_level: Literal["meter", "transformer"]
    subject_id: str = Field(description="The meter's or the transformer's id.")
    area: str
    account_no: str | None = Field(description="The account whose consumer was told (a meter's); null for none.")
    opened_at: datetime
    updated_at: datetime
    assignee: str | None
    reason_code: str
    reason_en: str
    reason_hi: str
    field_staff_told: int | None = Field(
        description="How many of the area's field staff its opening alerted (SMS, e-mail); "
        "0: none was on record for the area; null: its rule tells no field staff."
    )
    field_staff_note: str | None = Field(
        description=f'"{NO_FIELD_STAFF_EN}" when its opening found no one to tell; null otherwise.'
    )


class ActionOut(BaseModel):
    action_id: int
    step: Literal["open", "assign", "inspect", "confirm", "false_alarm", "close", "reopen"]
    from_status: StatusName | None
    to_status: StatusName
    actor: str = Field(description="Who took the step (platform for the opening).")
    at: datetime
    reason: str
    assignee: str | None


class IntervalOut(BaseModel):
    interval_start: datetime
    import_wh: int
    export_wh: int
    voltage_v: str = Field(description="Average voltage in volts, one decimal.")
    current_a: str = Field(description="Average current in amperes, three decimals.")
    quality: str


class EventOut(BaseModel):
    code: int
    occurred_at: datetime
    received_at: datetime


class EvidenceOut(BaseModel):
    found: dict[str, Any] = Field(description="What the detector saw when it opened the case.")
    events: list[EventOut] = Field(description="The meter's events around the incident (meter cases).")
    intervals: list[IntervalOut] = Field(description="Consumption, voltage and current around it (meter cases).")
    relay: RelayWord | None = Field(description="The meter's relay now.")
    last_seen: datetime | None
    chart_svg: str | None = Field(description="The incident's IST day as an SVG bar chart with its events marked.")


class CaseDetail(CaseOut):
    evidence: EvidenceOut
    history: list[ActionOut] = Field(description="Every step, oldest first: who, when, why.")


class CaseList(Paged):
    items: list[CaseOut] = Field(description="Newest first.")


class NewStep(BaseModel):
    """A step of the workflow on a case; who takes it is whoever is signed in."""

    model_config = ConfigDict(extra="forbid")

    action: StepName = Field(description="assign, inspect, confirm (theft), false_alarm, close or reopen.")
    reason: Annotated[str, audit_text(512, "Why (the inspection's finding, the decision's ground); kept in the audit.")]
    assignee: Annotated[str | None, audit_text(64, "With assign: who works the case.")] = None


class StepDone(BaseModel):
    case: CaseOut
    action: ActionOut


def case_out(c: Case) -> CaseOut:
    return CaseOut(
        case_id=c.case_id,
        kind=c.kind,
        severity=c.severity.value,
        status=c.status.value,
        subject_level=c.subject_level.value,
        subject_id=c.subject_id,
        area=c.area,
        account_no=c.account_no,
        opened_at=c.opened_at.astimezone(UTC),
        updated_at=c.updated_at.astimezone(UTC),
        assignee=c.assignee,
        reason_code=c.reason_code,
        reason_en=c.reason_en,
        reason_hi=c.reason_hi,
        field_staff_told=c.staff_told,
        field_staff_note=NO_FIELD_STAFF_EN if c.no_field_staff else None,
    )


def action_out(a: CaseAction) -> ActionOut:
    return ActionOut(
        action_id=a.action_id,
        step=a.step.value,
        from_status=None if a.from_status is None else a.from_status.value,
        to_status=a.to_status.value,
        actor=a.actor,
        at=a.at.astimezone(UTC),
        reason=a.reason,
        assignee=a.assignee,
    )


def incident_at(case: Case) -> datetime:
    """When the case's incident began (its opening, when the evidence does not say)."""
    said = case.evidence.get("incident_start")
    if isinstance(said, str):
        try:
            return datetime.fromisoformat(said).astimezone(UTC)
        except ValueError:
            pass
    return case.opened_at


def evidence_window(case: Case) -> tuple[datetime, datetime]:
    """[begin, end): the incident's IST day and `AROUND` either side of its start."""
    at = incident_at(case)
    midnight = ist_midnight(ist_day(at))
    return min(midnight, at - AROUND), max(midnight + INTERVAL * 96, at + AROUND)


def evidence_out(case: Case, seen: Surroundings | None) -> EvidenceOut:
    if seen is None:
        return EvidenceOut(
            found=dict(case.evidence), events=[], intervals=[], relay=None, last_seen=None, chart_svg=None
        )
    relay = RelayState.of(seen.relay)
    return EvidenceOut(
        found=dict(case.evidence),
        events=[
            EventOut(code=e.code, occurred_at=e.occurred_at.astimezone(UTC), received_at=e.received_at.astimezone(UTC))
            for e in seen.events
        ],
        intervals=[
            IntervalOut(
                interval_start=i.start.astimezone(UTC),
                import_wh=i.import_wh,
                export_wh=i.export_wh,
                voltage_v=f"{i.voltage_dv // 10}.{i.voltage_dv % 10}",
                current_a=f"{i.current_ma // 1000}.{i.current_ma % 1000:03d}",
                quality=i.quality,
            )
            for i in seen.intervals
        ],
        relay=None if relay is None else relay.word,
        last_seen=None if seen.last_seen is None else seen.last_seen.astimezone(UTC),
        chart_svg=case_svg(
            incident_at(case),
            seen.intervals,
            seen.events,
            f"Meter {case.subject_id}: consumption on the day of case {case.case_id} (IST), its events marked",
        ),
    )


def router(ctx: WebContext) -> APIRouter:
    """The cases' routes."""
    api = APIRouter(prefix=PREFIX, tags=["v1"], responses=EDGE)
    auth = Auth(ctx)
    view = [Depends(auth.needs(Permission.VIEW_CASES))]
    store = ctx.platform.store

    @api.get("/cases", response_model=CaseList, dependencies=view)
    def list_cases(
        limit: Limit = 100,
        offset: Offset = 0,
        status: Annotated[StatusName | None, Query(description="Only cases in this status.")] = None,
        open: Annotated[
            bool, Query(description="Only cases someone still works on: new, assigned, inspected.")
        ] = False,
        kind: Name | None = None,
        area: Name | None = None,
        severity: Annotated[Literal["low", "medium", "high"] | None, Query()] = None,
        subject: Annotated[
            str | None, Query(min_length=1, max_length=32, description="A meter or transformer id.")
        ] = None,
    ) -> CaseList:
        """Revenue-protection cases, newest first, by status, kind, area, severity or subject."""
        where = CaseFilter(
            status=None if status is None else Status(status),
            kind=kind,
            area=area,
            severity=severity,
            subject_id=subject,
            open_only=open,
        )
        rows = vigilance.cases(store, where, limit + 1, offset)
        page, next_offset = page_of(rows, limit, offset)
        return CaseList(items=[case_out(c) for c in page], limit=limit, offset=offset, next_offset=next_offset)

    @api.get("/cases/live", include_in_schema=False, dependencies=view)
    async def live(
        after: Annotated[int, Query(ge=0, le=2**62, description="The last action id seen.")] = 0,
        area: Name | None = None,
        wait: Annotated[int, Query(ge=0, le=60, description="Seconds to stay open.")] = LIVE_WAIT_S,
        last_event_id: Annotated[str | None, Header(max_length=20)] = None,
    ) -> StreamingResponse:
        """Cases as they open and move, as server-sent events: event ``case`` with the case and
        the step (id = the step's action id), for `wait` seconds; a reconnecting client resumes
        after the `Last-Event-ID` it sends; `area` keeps one area's (its field staff's view)."""
        seen = resume_after(last_event_id, after)

        def poll() -> list[str]:
            nonlocal seen
            found = vigilance.live_actions(store, seen, area)
            seen = max([seen, *(action.action_id for action, _ in found)])
            return [
                sse(
                    "case",
                    {
                        "case": case_out(case).model_dump(mode="json"),
                        "action": action_out(action).model_dump(mode="json"),
                    },
                    action.action_id,
                )
                for action, case in found
            ]

        return event_stream(poll, LIVE_POLL_S, wait)

    @api.get("/cases/{case_id}", response_model=CaseDetail, responses=NOT_FOUND, dependencies=view)
    def one_case(case_id: CaseId) -> CaseDetail:
        """A case with its evidence bundle (what the detector saw; for a meter, its events,
        consumption, voltage and current around the incident, its relay now, and a chart of the
        day) and its history of steps."""
        try:
            case, history = vigilance.case_with_history(store, case_id)
        except vigilance.UnknownCase as e:
            raise HTTPException(status_code=404, detail=f"case {case_id} not found") from e
        seen = None
        if case.subject_level is SubjectLevel.METER:
            begin, end = evidence_window(case)
            seen = vigilance.surroundings(store, case.subject_id, begin, end)
        return CaseDetail(
            **case_out(case).model_dump(), evidence=evidence_out(case, seen), history=[action_out(a) for a in history]
        )

    @api.post(
        "/cases/{case_id}/actions",
        response_model=StepDone,
        responses={
            **NOT_FOUND,
            409: {"model": Problem, "description": "The workflow does not allow this step from the case's status."},
        },
        dependencies=[Depends(auth.case_step())],
    )
    def take(case_id: CaseId, body: NewStep, http: Request) -> StepDone:
        """Take a step of the workflow: new -> assigned -> inspected -> confirmed_theft |
        false_alarm -> closed (reopen: closed -> new). Each step needs its own permission
        (docs/api.md) and a reason; the history names who took it."""
        who = identity_of(http)
        needs_case_step(who, body.action)
        request = StepRequest(step=Step(body.action), actor=who.name, reason=body.reason, assignee=body.assignee)
        try:
            case, action = vigilance.act(store, case_id, request, ctx.clock.now())
        except vigilance.UnknownCase as e:
            raise HTTPException(status_code=404, detail=f"case {case_id} not found") from e
        except StepRefused as e:
            raise HTTPException(status_code=409, detail=str(e)) from e
        return StepDone(case=case_out(case), action=action_out(action))

    return api
