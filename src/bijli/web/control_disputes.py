"""The control room's disputes: households' disputes of a day's charge with their seven-day
answer clock (the overdue first, then the soonest due), the day's figures they carry, and the
answer given from the page (the same use case and permission as
`POST /api/v1/disputes/{dispute_id}/answer`); the household reads it on its charges page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from bijli.access.model import Permission
from bijli.accounts import disputes as use
from bijli.accounts.disputes import MAX_TEXT, DisputeError, State
from bijli.web.auth import Auth, form_token_ok, identity_of
from bijli.web.context import WebContext
from bijli.web.control import PAGE_SIZE, PageNo, Text, choice, exception_counts, form_fields, offset_of, render_page
from bijli.web.pager import peeked

STATES: tuple[State, ...] = ("open", "answered", "all")
DisputeId = Annotated[int, Path(ge=1, le=2**62)]


def router(ctx: WebContext, templates: Jinja2Templates) -> APIRouter:
    """The disputes' control-room pages over one platform."""
    pages = APIRouter(include_in_schema=False)
    auth = Auth(ctx)
    store = ctx.platform.store

    @pages.get(
        "/operations/disputes",
        response_class=HTMLResponse,
        dependencies=[Depends(auth.needs(Permission.READ_ACCOUNTS))],
    )
    def disputes(
        request: Request,
        state: Text = "open",
        q: Text = "",
        answered: Annotated[int | None, Query(ge=1, le=2**62)] = None,
        page: PageNo = 1,
    ) -> HTMLResponse:
        """Disputes, the open ones by their answer clock (overdue first), each with its figures
        and, for whoever may answer, the answer's form."""
        shown_state: State = choice(state, STATES, "state")
        found = use.disputes(store, shown_state, PAGE_SIZE + 1, offset_of(page), q.strip())
        shown, pager = peeked(found, page, PAGE_SIZE)
        now = ctx.clock.now()
        names = use.holders(store, [d.account_no for d in shown])
        return render_page(
            ctx,
            templates,
            request,
            "control_disputes.html",
            {
                "active": "disputes",
                "disputes": shown,
                "names": names,
                "pager": pager,
                "state": shown_state,
                "q": q,
                "answered": answered,
                "may_answer": identity_of(request).can(Permission.ANSWER_DISPUTES),
                "max_text": MAX_TEXT,
                "counts": exception_counts(ctx, now),
            },
        )

    @pages.post(
        "/operations/disputes/{dispute_id}/answer",
        dependencies=[Depends(auth.needs_form(Permission.ANSWER_DISPUTES))],
    )
    async def answer(request: Request, dispute_id: DisputeId) -> RedirectResponse:
        """The answer's form (`answer`, `csrf`): the household reads the answer on its charges
        page; a blank one is a 400 page, a second answer a 409 page, nothing written."""
        fields = await form_fields(request)
        if not form_token_ok(request, fields.get("csrf", "")):
            raise HTTPException(status_code=403, detail="the form is out of date: reload the page and try again")
        try:
            use.answer_dispute(store, dispute_id, fields.get("answer", ""), identity_of(request).name, ctx.clock.now())
        except LookupError as e:
            raise HTTPException(status_code=404, detail=str(e)) from None
        except DisputeError as e:
            raise HTTPException(status_code=409 if "already" in str(e) else 400, detail=str(e)) from None
        ctx.reads.control.forget()  # the open disputes' count, kept for half a minute
        return RedirectResponse(f"/operations/disputes?answered={dispute_id}#dispute-{dispute_id}", status_code=303)

    return pages
