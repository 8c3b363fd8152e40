"""Share links: the household makes a link for a family member (optionally named, "Papa"),
sees the links it made and revokes any; whoever opens a live link reads the account's view
(balance with its time, days left, today's usage, recent recharges; the consumer's name and
nothing else about them), in Hindi or English, and can change nothing. A revoked or expired
link says so and shows nothing. The token is in the link only: the store keeps its hash."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from bijli.access import sharing as use
from bijli.access.model import Permission
from bijli.access.sharing import DEFAULT_DAYS, LIFETIMES, MAX_NAME, ShareError, ShareLink
from bijli.adapters.db.queries import MeterView
from bijli.kernel.time import ist_day
from bijli.prepaid import handlers as prepaid
from bijli.web.auth import Auth, form_token_ok, identity_of
from bijli.web.consumer_pages import STALE_AFTER, age_parts, day_usage
from bijli.web.context import WebContext, relay_state

MeterId = Annotated[str, Path(max_length=32)]
Token = Annotated[str, Path(max_length=64)]
NO_STORE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}
"""A share page is nobody's to keep: not in a cache, not in a search engine."""


def router(ctx: WebContext, templates: Jinja2Templates) -> APIRouter:
    """The share links' pages over one platform."""
    pages = APIRouter(include_in_schema=False)
    auth = Auth(ctx)
    store = ctx.platform.store

    def account_meter(meter_id: str) -> MeterView:
        meter = ctx.reads.meter(meter_id, balance=False)
        if meter is None or meter.account_no is None:
            raise HTTPException(status_code=404, detail=f"meter {meter_id} has no prepaid account")
        return meter

    def links_page(
        request: Request, meter: MeterView, made: tuple[ShareLink, str] | None = None, problem: str | None = None
    ) -> HTMLResponse:
        assert meter.account_no is not None
        links = use.links_of(store, meter.account_no)
        new_url = None
        if made is not None:
            new_url = str(request.base_url).rstrip("/") + f"/shared/{made[1]}"
        return templates.TemplateResponse(
            request,
            "share.html",
            {
                "meter": meter,
                "links": links,
                "made": made[0] if made else None,
                "new_url": new_url,
                "problem": problem,
                "lifetimes": LIFETIMES,
                "default_days": DEFAULT_DAYS,
                "max_name": MAX_NAME,
                "now": ctx.clock.now(),
                "may_share": identity_of(request).can(Permission.READ_OWN),
            },
            status_code=400 if problem else 200,
            headers=NO_STORE,
        )

    @pages.get("/consumer/{meter_id}/share", response_class=HTMLResponse, dependencies=[Depends(auth.meter())])
    def share(request: Request, meter_id: MeterId) -> HTMLResponse:
        """The links the household made (live, revoked or expired) and the form for a new one."""
        return links_page(request, account_meter(meter_id))

    @pages.post(
        "/consumer/{meter_id}/share", response_class=HTMLResponse, dependencies=[Depends(auth.own_meter_form())]
    )
    async def make(
        request: Request,
        meter_id: MeterId,
        name: Annotated[str, Form(max_length=200)] = "",
        days: Annotated[int, Form(ge=1, le=366)] = DEFAULT_DAYS,
        csrf: Annotated[str, Form(max_length=128)] = "",
    ) -> HTMLResponse:
        """A new link, shown this once on the page that answers (it cannot be shown again)."""
        if not form_token_ok(request, csrf):
            raise HTTPException(status_code=403, detail="the form is out of date: open the page again")
        meter = account_meter(meter_id)
        assert meter.account_no is not None
        try:
            made = await run_in_threadpool(
                use.make_link,
                store,
                account_no=meter.account_no,
                meter_id=meter_id,
                name=name,
                made_by=identity_of(request).name,
                now=ctx.clock.now(),
                days=days,
            )
        except ShareError as e:
            return links_page(request, meter, problem=str(e))
        return links_page(request, meter, made=made)

    @pages.post("/consumer/{meter_id}/share/{link_id}/revoke", dependencies=[Depends(auth.own_meter_form())])
    async def revoke(
        request: Request,
        meter_id: MeterId,
        link_id: Annotated[int, Path(ge=1, le=2**62)],
        csrf: Annotated[str, Form(max_length=128)] = "",
    ) -> RedirectResponse:
        """End a link at once: whoever opens it from now on is told it was revoked."""
        if not form_token_ok(request, csrf):
            raise HTTPException(status_code=403, detail="the form is out of date: open the page again")
        meter = account_meter(meter_id)
        assert meter.account_no is not None
        try:
            use.revoke_link(store, meter.account_no, link_id, identity_of(request).name, ctx.clock.now())
        except LookupError as e:
            raise HTTPException(status_code=404, detail=str(e)) from None
        return RedirectResponse(f"/consumer/{meter_id}/share#link-{link_id}", status_code=303)

    @pages.get("/shared/{token}", response_class=HTMLResponse, dependencies=[Depends(auth.public())])
    def shared(request: Request, token: Token) -> Response:
        """What a family member sees: the account's view, read only; a link that is not (or no
        longer) live says so and shows nothing (404 unknown, 410 revoked or expired)."""
        now = ctx.clock.now()
        link, recharges = use.opened(store, token, now)
        state = "unknown" if link is None else link.state(now)
        values: dict[str, Any] = {"state": state, "link": link, "now": now}
        if link is None or state != "live":
            return templates.TemplateResponse(
                request, "shared.html", values, status_code=404 if link is None else 410, headers=NO_STORE
            )
        meter = ctx.reads.meter(link.meter_id, balance=False)
        if meter is None or meter.account_no != link.account_no:  # the meter was replaced: the account's new one
            meter = None
        balance = ctx.platform.queries.balance(link.account_no)
        outlook = None
        if balance is not None:
            today = ist_day(now)
            outlook = prepaid.forecasts(store, {link.account_no: balance.balance_paise}, today)[link.account_no]
        day: date | None = None
        usage = None
        if meter is not None:
            day = ist_day(meter.last_interval) if meter.last_interval else ist_day(now)
            usage = day_usage(ctx, meter.meter_id, day)
        last_seen = meter.last_seen if meter is not None else None
        return templates.TemplateResponse(
            request,
            "shared.html",
            {
                **values,
                "name": meter.consumer_name if meter is not None else None,
                "balance": balance,
                "as_of": last_seen or (balance.last_entry_at if balance else None),
                "stale": last_seen is None or now - last_seen > STALE_AFTER,
                "age": age_parts(last_seen, now) if last_seen is not None else None,
                "outlook": outlook,
                "relay": relay_state(meter.relay) if meter is not None else None,
                "day": day,
                "usage": usage,
                "recharges": recharges,
            },
            headers=NO_STORE,
        )

    return pages
