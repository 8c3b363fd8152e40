"""The control room: the fleet by area, feeder and transformer on any day, the meters searched,
filtered, sorted and paged on the server, the exception views, a meter's whole story, and the
command console (every command with its reason, in the commands' audit trail)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from fastapi.types import DecoratedCallable

from bijli.access.model import ACTION_PERMISSION, Permission
from bijli.adapters.db.control_rows import (
    GROUP_SORTS,
    LEVELS,
    METER_EXCEPTIONS,
    METER_SORTS,
    Exception_,
    GroupSort,
    Level,
    MeterFilter,
    MeterSort,
)
from bijli.headend.command_records import CommandRequest, IdempotencyConflict, InvalidCommand, MeterNotInService
from bijli.headend.handlers import submit_command
from bijli.kernel.time import IST, ist_day, ist_midnight
from bijli.mdm.meters import UnknownMeter
from bijli.protocol.events import EventCode
from bijli.vigilance import handlers as vigilance
from bijli.vigilance.ports import CaseFilter
from bijli.web import pager as paging
from bijli.web.auth import Auth, form_token_ok, identity_of, needs_action
from bijli.web.chart import day_chart
from bijli.web.context import WebContext, relay_state
from bijli.web.display import day_text, kwh_text
from bijli.web.limits import asked_day
from bijli.web.pager import Pager as Pager  # the control room's pages take it from here
from bijli.web.pager import past_last
from bijli.web.ready import STUCK_AFTER as STUCK_AFTER  # the control room's pages take it from here
from bijli.web.texts_control import Texts, language_of

T = TypeVar("T")
PAGE_SIZE = 50
CONSOLE_ACTIONS = ("relay_disconnect", "relay_connect", "read_now", "time_sync")
"""What the console asks of one meter (actions with arguments go through the API)."""
MAX_REASON = 256
VIEWS = (*METER_EXCEPTIONS, "commands", "reconciliation")
Text = Annotated[str, Query(max_length=64)]
PageNo = Annotated[int, Query(ge=1)]
Descending = Annotated[int, Query(ge=0, le=1)]


def choice(value: str, allowed: tuple[T, ...], name: str) -> T:
    for a in allowed:
        if a == value:
            return a
    raise HTTPException(status_code=400, detail=f"{name} {value!r} is not one of {', '.join(map(str, allowed))}")


def offset_of(page: int) -> int:
    """The rows before page `page` of a control room list."""
    return paging.offset_of(page, PAGE_SIZE)


def fleet_page(pages: APIRouter, auth: Auth, path: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """A control-room page at `path` for whoever may read the fleet."""
    return pages.get(path, response_class=HTMLResponse, dependencies=[Depends(auth.needs(Permission.READ_FLEET))])


def counted(page: int, shown: int, total: int) -> Pager:
    """Where page `page` of a counted list stands, `shown` of its `total` rows on it; 404 past its last page."""
    pager = Pager.of(page, total, shown, PAGE_SIZE)
    past_last(page, pager)
    return pager


def exception_counts(ctx: WebContext, now: datetime) -> dict[str, int]:
    """How many meters, commands and items each exception view in the control room's bar lists at `now`."""
    return ctx.reads.control.exceptions(now, ctx.online_since(), STUCK_AFTER)


def _link(request: Request, **changes: object) -> str:
    """This page's address with some of its query parameters changed (None drops one)."""
    params: dict[str, Any] = dict(request.query_params)
    params.pop("lang", None)
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = str(value)
    query = urlencode(params)
    return request.url.path + (f"?{query}" if query else "")


def router(ctx: WebContext, templates: Jinja2Templates) -> APIRouter:
    """The control room's pages over one platform."""
    pages = APIRouter(include_in_schema=False)
    auth = Auth(ctx)
    control = ctx.reads.control

    render = partial(render_page, ctx, templates)

    def shown_day(day: str | None) -> tuple[date | None, bool]:
        """The day asked for, else the newest with readings (True: it was chosen for the caller)."""
        asked = asked_day(day)
        if asked is not None:
            return asked, False
        return control.newest_day(), True

    @fleet_page(pages, auth, "/operations/fleet")
    def fleet(
        request: Request,
        by: Text = "area",
        day: Annotated[str | None, Query(max_length=10)] = None,
        q: Text = "",
        area: Text = "",
        sort: Text = "name",
        desc: Descending = 0,
        page: PageNo = 1,
    ) -> HTMLResponse:
        """The fleet grouped by area, feeder or transformer on a day."""
        level: Level = choice(by, LEVELS, "by")
        order: GroupSort = choice(sort, GROUP_SORTS, "sort")
        shown, chosen = shown_day(day)
        now = ctx.clock.now()
        rows, total = control.groups(
            level,
            shown or ist_day(now),
            ctx.online_since(),
            area=area,
            q=q.strip(),
            sort=order,
            descending=bool(desc),
            limit=PAGE_SIZE,
            offset=offset_of(page),
        )
        pager = counted(page, len(rows), total)
        return render(
            request,
            "control_fleet.html",
            {
                "active": "fleet",
                "level": level,
                "rows": rows,
                "pager": pager,
                "day": shown,
                "chosen": chosen,
                "q": q,
                "area": area,
                "sort": order,
                "desc": bool(desc),
                "places": control.places(),
            },
        )

    @fleet_page(pages, auth, "/operations/meters")
    def meters(
        request: Request,
        q: Text = "",
        area: Text = "",
        feeder: Text = "",
        transformer: Text = "",
        view: Text = "",
        sort: Text = "meter",
        desc: Descending = 0,
        page: PageNo = 1,
    ) -> HTMLResponse:
        """Every meter, or those an exception view lists, searched, filtered, sorted and paged."""
        exception: Exception_ | None = choice(view, METER_EXCEPTIONS, "view") if view else None
        order: MeterSort = choice(sort, METER_SORTS, "sort")
        now = ctx.clock.now()
        f = MeterFilter(q=q.strip(), area=area, feeder=feeder, transformer=transformer, exception=exception)
        found, total = control.meters(
            f,
            now,
            ctx.online_since(),
            sort=order,
            descending=bool(desc),
            limit=PAGE_SIZE,
            offset=offset_of(page),
        )
        pager = counted(page, len(found), total)
        rows = [
            {
                "meter": r.meter,
                "online": ctx.is_online(r.meter),
                "relay": relay_state(r.meter.relay),
                "failovers": r.failovers,
            }
            for r in found
        ]
        return render(
            request,
            "control_meters.html",
            {
                "active": view or "meters",
                "rows": rows,
                "pager": pager,
                "filter": f,
                "view": view,
                "sort": order,
                "desc": bool(desc),
                "places": control.places(),
                "counts": exception_counts(ctx, now),
            },
        )

    @fleet_page(pages, auth, "/operations/commands")
    def commands(request: Request, q: Text = "", page: PageNo = 1) -> HTMLResponse:
        """Commands that failed lately, or are stuck."""
        now = ctx.clock.now()
        rows, total = control.troubled_commands(now, STUCK_AFTER, q=q.strip(), limit=PAGE_SIZE, offset=offset_of(page))
        pager = counted(page, len(rows), total)
        return render(
            request,
            "control_commands.html",
            {
                "active": "commands",
                "rows": rows,
                "pager": pager,
                "q": q,
                "counts": exception_counts(ctx, now),
            },
        )

    @fleet_page(pages, auth, "/operations/reconciliation")
    def reconciliation(request: Request, q: Text = "", page: PageNo = 1) -> HTMLResponse:
        """Reconciliation items still open."""
        now = ctx.clock.now()
        rows, total = control.open_items(q=q.strip(), limit=PAGE_SIZE, offset=offset_of(page))
        pager = counted(page, len(rows), total)
        return render(
            request,
            "control_items.html",
            {
                "active": "reconciliation",
                "rows": rows,
                "pager": pager,
                "q": q,
                "counts": exception_counts(ctx, now),
            },
        )

    @fleet_page(pages, auth, "/operations/meters/{meter_id}")
    def meter(
        request: Request,
        meter_id: Annotated[str, Path(max_length=32)],
        day: Annotated[str | None, Query(max_length=10)] = None,
        asked: Annotated[str | None, Query(max_length=40)] = None,
    ) -> HTMLResponse:
        """One meter: its readings on a day, events, commands, ledger and the console."""
        m = ctx.reads.meter(meter_id)
        if m is None:
            raise HTTPException(status_code=404, detail=f"meter {meter_id} not found")
        who = identity_of(request)
        shown = asked_day(day) or (ist_day(m.last_interval) if m.last_interval else ist_day(ctx.clock.now()))
        readings = ctx.platform.queries.readings(meter_id, ist_midnight(shown), ist_midnight(shown + timedelta(days=1)))
        events = [{"row": e, "name": _event_name(e.code)} for e in ctx.platform.events.meter_events(meter_id, 50)]
        return render(
            request,
            "control_meter.html",
            {
                "active": "meters",
                "meter": m,
                "online": ctx.is_online(m),
                "relay": relay_state(m.relay),
                "day": shown,
                "prev_day": shown - timedelta(days=1),
                "next_day": shown + timedelta(days=1),
                "chart": day_chart(shown, readings),
                "days": control.days_of(meter_id, shown),
                "events": events,
                "commands": ctx.platform.queries.commands_of(meter_id, 20),
                "ledger": control.ledger_of(m.account_no) if m.account_no else [],
                "actions": [a for a in CONSOLE_ACTIONS if who.can(ACTION_PERMISSION[a])],
                "cases": vigilance.cases(ctx.platform.store, CaseFilter(subject_id=meter_id), 20, 0)
                if who.can(Permission.VIEW_CASES)
                else None,
                "asked": asked,
                "console_key": str(uuid.uuid4()),
            },
        )

    @pages.post("/operations/meters/{meter_id}/commands", dependencies=[Depends(auth.command_form())])
    async def console(request: Request, meter_id: Annotated[str, Path(max_length=32)]) -> RedirectResponse:
        """The command console: one command to one meter, with the reason the audit trail keeps."""
        fields = await form_fields(request)
        if not form_token_ok(request, fields.get("csrf", "")):
            raise HTTPException(status_code=403, detail="the form is out of date: reload the page and try again")
        who = identity_of(request)
        action = fields.get("action", "")
        if action not in ACTION_PERMISSION:
            raise HTTPException(status_code=400, detail=f"action {action!r} is not one of {', '.join(CONSOLE_ACTIONS)}")
        needs_action(who, action)
        if action not in CONSOLE_ACTIONS:
            raise HTTPException(
                status_code=400, detail=f"{action} takes arguments: ask for it through the API (docs/commands.md)"
            )
        reason = " ".join(fields.get("reason", "").split())
        if not reason:
            raise HTTPException(status_code=400, detail="say why: a command needs a reason, kept in the audit trail")
        if len(reason) > MAX_REASON:
            raise HTTPException(status_code=400, detail=f"the reason is longer than {MAX_REASON} characters")
        key = fields.get("key", "") or str(uuid.uuid4())
        request_ = CommandRequest(
            meter_id=meter_id,
            action=action,
            args={},
            reason=reason,
            requested_by=who.name,
            idempotency_key=key[:96],
            expires_in=timedelta(hours=1),
        )
        try:
            command, _ = submit_command(ctx.platform.store, request_, ctx.clock.now())
        except UnknownMeter as e:
            raise HTTPException(status_code=404, detail=f"meter {meter_id} not found") from e
        except (MeterNotInService, InvalidCommand, IdempotencyConflict) as e:
            raise HTTPException(status_code=409, detail=str(e)) from e
        return RedirectResponse(
            f"/operations/meters/{meter_id}?{urlencode({'asked': command.command_id})}#console", status_code=303
        )

    return pages


def render_page(
    ctx: WebContext, templates: Jinja2Templates, request: Request, name: str, values: dict[str, Any]
) -> HTMLResponse:
    """A control-room page in the request's language (remembered when `?lang=` chose it)."""
    lang = language_of(request)
    texts = Texts(lang)
    return templates.TemplateResponse(
        request,
        name,
        {
            **values,
            "lang": lang,
            "t": texts,
            "d": lambda day: day_text(day, lang),
            "at": lambda moment: moment_text(moment, lang),
            "kwh": energy_text,
            "known": texts,
            "event_name": _event_name,
            "link": lambda **c: _link(request, **c),
            "now": ctx.clock.now(),
        },
    )


async def form_fields(request: Request) -> dict[str, str]:
    """The console's fields from its form (or the same names as a JSON object)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            raise HTTPException(status_code=400, detail="the body is not JSON") from None
        if not isinstance(body, dict):
            raise HTTPException(status_code=400, detail="the body is not a JSON object")
        return {k: v for k, v in body.items() if isinstance(v, str)}
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _event_name(code: int) -> str:
    try:
        return EventCode(code).name.lower()
    except ValueError:
        return f"code {code}"


def energy_text(wh: int) -> str:
    """Integer Wh as kWh with three places, exactly."""
    return kwh_text(Decimal(wh) / 1000)


def moment_text(moment: datetime | None, lang: str) -> str:
    """A moment in IST as ``03 Nov 2026, 14:05`` (the month in Hindi in Hindi)."""
    if moment is None:
        return "—"
    local = moment.astimezone(IST)
    return f"{day_text(local.date(), lang)}, {local:%H:%M}"
