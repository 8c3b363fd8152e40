"""The pages: the operations dashboard and the consumer page, rendered on the server."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from bijli.access.model import Permission
from bijli.adapters.db.queries import MeterView
from bijli.kernel.time import ist_day
from bijli.web.auth import Auth, identity_of
from bijli.web.context import WebContext, relay_state
from bijli.web.limits import asked_day
from bijli.web.pager import Pager, past_last
from bijli.web.ready import SILENT_FOR, dashboard_day
from bijli.web.texts_control import Texts, language_of

PAGE_SIZE = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterRow:
    """One line of the operations table."""

    meter: MeterView
    online: bool
    relay: str | None


def router(ctx: WebContext, templates: Jinja2Templates) -> APIRouter:
    """The pages' routes over one platform."""
    pages = APIRouter(include_in_schema=False)
    auth = Auth(ctx)

    def today() -> date:
        return ist_day(ctx.clock.now())

    @pages.get("/", dependencies=[Depends(auth.signed_in())])
    def home(request: Request) -> RedirectResponse:
        """Staff to the operations page, a consumer to their (first) meter's page."""
        who = identity_of(request)
        if who.can(Permission.READ_FLEET):
            return RedirectResponse("/operations", status_code=303)
        if not who.meter_ids:
            raise HTTPException(status_code=404, detail="no meter is registered to your mobile number")
        return RedirectResponse(f"/consumer/{min(who.meter_ids)}", status_code=303)

    @pages.get("/operations", response_class=HTMLResponse, dependencies=[Depends(auth.needs(Permission.READ_FLEET))])
    def operations(
        request: Request,
        page: Annotated[int, Query(ge=1)] = 1,
        day: Annotated[str | None, Query(max_length=10, description="An IST day, YYYY-MM-DD.")] = None,
    ) -> HTMLResponse:
        fleet = ctx.reads.fleet(ctx.online_since())
        past_last(page, Pager.of(page, fleet.meters, 0, PAGE_SIZE))  # before the store is asked for the rows
        meters = ctx.reads.meters(PAGE_SIZE, (page - 1) * PAGE_SIZE)
        rows = [MeterRow(meter=m, online=ctx.is_online(m), relay=relay_state(m.relay)) for m in meters]
        pager = Pager.of(page, fleet.meters, len(rows), PAGE_SIZE)
        now = ctx.clock.now()
        asked = asked_day(day)
        shown, newest = dashboard_day(ctx, asked)  # old data: its newest whole day, said so
        collection = ctx.reads.collection(shown)
        silent = ctx.reads.silent(now, SILENT_FOR)
        return templates.TemplateResponse(
            request,
            "operations.html",
            {
                "fleet": fleet,
                "rows": rows,
                "pager": pager,
                "now": now,
                "collection": collection,
                "silent": silent,
                "newest": newest,
                "day_asked": asked,
                "t": Texts(language_of(request)),  # the control room's words its lists share
            },
        )

    return pages
