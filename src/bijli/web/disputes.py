"""Disputes: a household disputes a day's charge from its charges page (two taps: open,
send), the day's figures attached; staff list them by how soon the seven-day answer is due
(`GET /api/v1/disputes`) and answer them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from bijli.access.model import Permission
from bijli.accounts import disputes as use
from bijli.accounts.disputes import REASONS, Dispute, DisputeError
from bijli.web.api import PREFIX
from bijli.web.auth import Auth, form_token_ok, identity_of
from bijli.web.context import WebContext
from bijli.web.deductions import day_figures
from bijli.web.limits import DAY_PATTERN, EDGE, Limit, Offset, Problem, audit_text, page_of


class DisputeOut(BaseModel):
    dispute_id: int
    account_no: str
    meter_id: str
    day: date
    reason: str
    raised_by: str
    raised_at: datetime
    due_at: datetime = Field(description="Seven days after it was raised: when the answer is due.")
    overdue: bool
    evidence: dict[str, str | int | None] = Field(description="The day's figures as the household saw them.")
    answer: str | None
    answered_by: str | None
    answered_at: datetime | None


class DisputePage(BaseModel):
    items: list[DisputeOut]
    limit: int
    offset: int
    next_offset: int | None


class AnswerIn(BaseModel):
    answer: Annotated[str, audit_text(500, "The utility's answer, told to the household.")]


def dispute_out(d: Dispute, now: datetime) -> DisputeOut:
    return DisputeOut(
        dispute_id=d.dispute_id,
        account_no=d.account_no,
        meter_id=d.meter_id,
        day=d.day,
        reason=d.reason,
        raised_by=d.raised_by,
        raised_at=d.raised_at,
        due_at=d.due_at,
        overdue=d.overdue(now),
        evidence=dict(d.evidence),
        answer=d.answer,
        answered_by=d.answered_by,
        answered_at=d.answered_at,
    )


def router(ctx: WebContext) -> APIRouter:
    """The disputes' form and API routes."""
    routes = APIRouter()
    auth = Auth(ctx)
    store = ctx.platform.store

    @routes.post(
        "/consumer/{meter_id}/disputes", include_in_schema=False, dependencies=[Depends(auth.own_meter_form())]
    )
    async def raise_one(
        request: Request,
        meter_id: Annotated[str, Path(max_length=32)],
        day: Annotated[str, Form(pattern=DAY_PATTERN)],
        reason: Annotated[Literal["too_high", "not_home", "meter_fault", "other"], Form()] = "too_high",
        csrf: Annotated[str, Form(max_length=128)] = "",
    ) -> RedirectResponse:
        if not form_token_ok(request, csrf):
            raise HTTPException(status_code=403, detail="the form is out of date: open the page again")
        meter = ctx.reads.meter(meter_id, balance=False)
        if meter is None or meter.account_no is None:
            raise HTTPException(status_code=404, detail=f"meter {meter_id} has no prepaid account")
        shown = date.fromisoformat(day)
        figures = await run_in_threadpool(day_figures, ctx, meter.account_no, shown)
        now = ctx.clock.now()
        dispute = Dispute(
            dispute_id=0,
            account_no=meter.account_no,
            meter_id=meter_id,
            day=shown,
            reason=reason,
            raised_by=identity_of(request).name,
            raised_at=now,
            evidence=figures,
        )
        await run_in_threadpool(use.raise_dispute, store, dispute)
        return RedirectResponse(f"/consumer/{meter_id}/charges?day={shown.isoformat()}", status_code=303)

    @routes.get(
        f"{PREFIX}/disputes",
        response_model=DisputePage,
        responses=EDGE,
        tags=["v1"],
        dependencies=[Depends(auth.needs(Permission.READ_ACCOUNTS))],
    )
    def listed(
        state: Annotated[use.State, Query(description="open (oldest due first), answered or all.")] = "open",
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> DisputePage:
        """Households' disputes of a day's charge, each with the day's figures and its answer's due time."""
        found = use.disputes(store, state, limit + 1, offset)
        rows, next_offset = page_of(found, limit, offset)
        now = ctx.clock.now()
        return DisputePage(
            items=[dispute_out(d, now) for d in rows], limit=limit, offset=offset, next_offset=next_offset
        )

    @routes.post(
        f"{PREFIX}/disputes/{{dispute_id}}/answer",
        response_model=DisputeOut,
        responses={
            **EDGE,
            404: {"model": Problem, "description": "No such dispute."},
            409: {"model": Problem, "description": "The dispute was answered already."},
        },
        tags=["v1"],
        dependencies=[Depends(auth.needs(Permission.ANSWER_DISPUTES))],
    )
    def answer(request: Request, dispute_id: Annotated[int, Path(ge=1, le=2**62)], body: AnswerIn) -> DisputeOut:
        """Answer an open dispute (the household sees it on its charges page); 409 when answered already."""
        try:
            done = use.answer_dispute(store, dispute_id, body.answer, identity_of(request).name, ctx.clock.now())
        except LookupError as e:
            raise HTTPException(status_code=404, detail=str(e)) from None
        except DisputeError as e:
            raise HTTPException(status_code=409 if "already" in str(e) else 400, detail=str(e)) from None
        return dispute_out(done, ctx.clock.now())

    return routes


__all__ = ["REASONS", "router"]
