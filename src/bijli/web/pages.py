"""The pages: the operations dashboard and the consumer page, rendered on the server."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from bijli.access.model import Permission
from bijli.adapters.db.queries import MeterView
from bijli.kernel.time import ist_day
from bijli.web.auth import Auth, identity_of
from bijli.web.context import WebContext, relay_state
from bijli.web.limits import FIRST_DAY, LAST_DAY, in_calendar

PAGE_SIZE = 100
SILENT_FOR = timedelta(hours=24)
"""The dashboard counts meters silent this long (the non-communicating report's default)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterRow:
    """One line of the operations table."""

    meter: MeterView
    online: bool
    relay: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Pager:
    page: int
    pages: int
    total: int
    first: int
    last: int


def _day(text: str | None) -> date | None:
    if text is None or text == "":
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise HTTPException(status_code=400, detail=f"day {text!r} is not a date like 2026-11-02") from None
    if not in_calendar(day):
        raise HTTPException(status_code=400, detail=f"day {text} is outside {FIRST_DAY} to {LAST_DAY}")
    return day


def router(ctx: WebContext, templates: Jinja2Templates) -> APIRouter:
    """The pages' routes over one platform."""
    pages = APIRouter(include_in_schema=False)
    auth = Auth(ctx)
    control = ctx.reads.control

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
        pages_total = max(1, -(-fleet.meters // PAGE_SIZE))
        if page > pages_total:
            raise HTTPException(status_code=404, detail=f"page {page} is past the last page, {pages_total}")
        offset = (page - 1) * PAGE_SIZE
        meters = ctx.reads.meters(PAGE_SIZE, offset)
        rows = [MeterRow(meter=m, online=ctx.is_online(m), relay=relay_state(m.relay)) for m in meters]
        pager = Pager(page=page, pages=pages_total, total=fleet.meters, first=offset + 1, last=offset + len(rows))
        now = ctx.clock.now()
        asked = _day(day)
        yesterday = ist_day(now) - timedelta(days=1)
        shown = asked or yesterday
        newest = None
        if asked is None and not control.has_day(yesterday):  # old data: its newest whole day, said so
            newest = control.newest_day(before=ist_day(now))
            shown = newest or yesterday
        collection = ctx.reads.collection(shown, now)
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
            },
        )

    return pages
