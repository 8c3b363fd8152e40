"""The control room's cases and outages: the case queue (following the cases' live stream),
each case's page with its evidence and history, the workflow's next step taken with a reason,
and the outages (kept up to date from the outages' list while the page is open)."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from bijli.access.model import CASE_STEP_PERMISSION, Permission
from bijli.adapters.db.outages import OutageFilter
from bijli.network.outages import OutageLevel
from bijli.vigilance import handlers as vigilance
from bijli.vigilance.cases import TRANSITIONS, Severity, StepRefused, StepRequest, SubjectLevel
from bijli.vigilance.cases import Status as CaseStatus
from bijli.vigilance.cases import Step as CaseStep
from bijli.vigilance.ports import CaseFilter
from bijli.web.auth import Auth, form_token_ok, identity_of, needs_case_step
from bijli.web.cases_api import evidence_out, evidence_window
from bijli.web.context import WebContext
from bijli.web.control import (
    PAGE_SIZE,
    PageNo,
    Text,
    choice,
    exception_counts,
    fleet_page,
    form_fields,
    offset_of,
    render_page,
)
from bijli.web.pager import peeked

CASE_STATUSES = ("open", "all", *(s.value for s in CaseStatus))
CASE_KINDS = (
    "magnet",
    "cover_open",
    "bypass",
    "earth_load",
    "current_reverse",
    "neutral_missing",
    "neutral_disturbance",
    "comm_module_removed",
    "hooking",
)
"""The kinds the queue's filter offers."""
CaseId = Annotated[str, Path(pattern=r"^C-[0-9A-F]{12}$")]


def router(ctx: WebContext, templates: Jinja2Templates) -> APIRouter:
    """The case pages over one platform."""
    pages = APIRouter(include_in_schema=False)
    auth = Auth(ctx)
    control = ctx.reads.control

    render = partial(render_page, ctx, templates)

    case_viewer = [Depends(auth.needs(Permission.VIEW_CASES))]

    @pages.get("/operations/cases", response_class=HTMLResponse, dependencies=case_viewer)
    def case_queue(
        request: Request,
        status: Text = "open",
        kind: Text = "",
        area: Text = "",
        severity: Text = "",
        q: Text = "",
        page: PageNo = 1,
    ) -> HTMLResponse:
        """The case queue, newest first, following the cases' live stream."""
        wanted = choice(status, CASE_STATUSES, "status")
        level = choice(severity, ("", *(v.value for v in Severity)), "severity")
        where = CaseFilter(
            status=None if wanted in ("open", "all") else CaseStatus(wanted),
            open_only=wanted == "open",
            kind=kind or None,
            area=area or None,
            severity=level or None,
            subject_id=q.strip().upper() or None,
        )
        found = vigilance.cases(ctx.platform.store, where, PAGE_SIZE + 1, offset_of(page))
        shown, pager = peeked(found, page, PAGE_SIZE)
        now = ctx.clock.now()
        return render(
            request,
            "control_cases.html",
            {
                "active": "cases",
                "cases": shown,
                "pager": pager,
                "status": wanted,
                "kind": kind,
                "area": area,
                "severity": level,
                "q": q,
                "kinds": CASE_KINDS,
                "places": control.places(),
                "after": control.last_case_action(),
                "live_area": area,
                "counts": exception_counts(ctx, now),
            },
        )

    @pages.get("/operations/cases/{case_id}", response_class=HTMLResponse, dependencies=case_viewer)
    def case_page(request: Request, case_id: CaseId) -> HTMLResponse:
        """One case: why it opened, its evidence, its history and the next steps."""
        try:
            case, history = vigilance.case_with_history(ctx.platform.store, case_id)
        except vigilance.UnknownCase as e:
            raise HTTPException(status_code=404, detail=f"case {case_id} not found") from e
        seen = None
        if case.subject_level is SubjectLevel.METER:
            begin, end = evidence_window(case)
            seen = vigilance.surroundings(ctx.platform.store, case.subject_id, begin, end)
        who = identity_of(request)
        steps = [
            step.value
            for step, (froms, _) in TRANSITIONS.items()
            if case.status in froms and who.can(CASE_STEP_PERMISSION[step.value])
        ]
        return render(
            request,
            "control_case.html",
            {
                "active": "cases",
                "case": case,
                "history": history,
                "evidence": evidence_out(case, seen),
                "steps": steps,
                "meter": ctx.reads.meter(case.subject_id, balance=False)
                if case.subject_level is SubjectLevel.METER
                else None,
            },
        )

    @pages.post("/operations/cases/{case_id}/actions", dependencies=[Depends(auth.case_step_form())])
    async def case_step(request: Request, case_id: CaseId) -> RedirectResponse:
        """A step on a case from its page: the step, the reason (required), the assignee for assign."""
        fields = await form_fields(request)
        if not form_token_ok(request, fields.get("csrf", "")):
            raise HTTPException(status_code=403, detail="the form is out of date: reload the page and try again")
        who = identity_of(request)
        step = fields.get("action", "")
        if step not in CASE_STEP_PERMISSION:
            raise HTTPException(
                status_code=400, detail=f"step {step!r} is not one of {', '.join(CASE_STEP_PERMISSION)}"
            )
        needs_case_step(who, step)
        reason = " ".join(fields.get("reason", "").split())
        if not reason:
            raise HTTPException(status_code=400, detail="say why: a step on a case needs a reason, kept in its history")
        assignee = " ".join(fields.get("assignee", "").split()) or None
        asked = StepRequest(step=CaseStep(step), actor=who.name, reason=reason, assignee=assignee)
        try:
            vigilance.act(ctx.platform.store, case_id, asked, ctx.clock.now())
        except vigilance.UnknownCase as e:
            raise HTTPException(status_code=404, detail=f"case {case_id} not found") from e
        except StepRefused as e:
            raise HTTPException(status_code=409, detail=str(e)) from e
        return RedirectResponse(f"/operations/cases/{case_id}#history", status_code=303)

    @fleet_page(pages, auth, "/operations/outages")
    def outages(
        request: Request,
        level: Text = "",
        area: Text = "",
        state: Text = "all",
        page: PageNo = 1,
    ) -> HTMLResponse:
        """Outages, the latest begun first: a feeder's or transformer's supply off, or a network down in an area."""
        kind = choice(level, ("", *(v.value for v in OutageLevel)), "level")
        shown_state = choice(state, ("all", "ongoing", "ended"), "state")
        where = OutageFilter(
            level=kind or None,
            area=area or None,
            ongoing=None if shown_state == "all" else shown_state == "ongoing",
        )
        found = ctx.platform.outages.outages(where, PAGE_SIZE + 1, offset_of(page))
        shown, pager = peeked(found, page, PAGE_SIZE)
        now = ctx.clock.now()
        return render(
            request,
            "control_outages.html",
            {
                "active": "outages",
                "outages": shown,
                "pager": pager,
                "level": kind,
                "area": area,
                "state": shown_state,
                "places": control.places(),
                "counts": exception_counts(ctx, now),
            },
        )

    return pages
