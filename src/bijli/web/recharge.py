"""The consumer's Recharge page: pay through the development gateway (docs/payments.md), in
Hindi and English. The form's amount becomes a payment event signed exactly as the webhook
expects and goes through the same use case; the page then shows the token for the hotspot."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from bijli.adapters import dev_gateway
from bijli.kernel.units import PAISE_PER_RUPEE
from bijli.payments import handlers as payments
from bijli.payments.model import token_digits
from bijli.protocol.tokens import group
from bijli.web.auth import Auth, form_token_ok
from bijli.web.context import WebContext

AMOUNTS = (100, 200, 500, 1000)
"""The amounts offered at a tap, in rupees."""
MAX_RUPEES = 50_000


def router(ctx: WebContext, templates: Jinja2Templates) -> APIRouter:
    """The Recharge page's routes over one platform."""
    pages = APIRouter(include_in_schema=False)
    auth = Auth(ctx)
    platform = ctx.platform

    def page(request: Request, meter_id: str, status: int = 200, **values: Any) -> HTMLResponse:
        meter = ctx.reads.meter(meter_id, balance=True)
        if meter is None:
            raise HTTPException(status_code=404, detail=f"meter {meter_id} not found")
        return templates.TemplateResponse(
            request,
            "recharge.html",
            {
                "meter": meter,
                "amounts": AMOUNTS,
                "max_rupees": MAX_RUPEES,
                "gateway": platform.settings.dev_gateway and platform.settings.payment_secret is not None,
                "now": ctx.clock.now(),
                **values,
            },
            status_code=status,
        )

    @pages.get("/consumer/{meter_id}/recharge", response_class=HTMLResponse, dependencies=[Depends(auth.meter())])
    def recharge_form(request: Request, meter_id: Annotated[str, Path(max_length=32)]) -> HTMLResponse:
        return page(request, meter_id)

    @pages.post(
        "/consumer/{meter_id}/recharge", response_class=HTMLResponse, dependencies=[Depends(auth.own_meter_form())]
    )
    async def recharge(
        request: Request,
        meter_id: Annotated[str, Path(max_length=32)],
        rupees: Annotated[int, Form(ge=1, le=MAX_RUPEES)],
        csrf: Annotated[str, Form(max_length=128)] = "",
    ) -> HTMLResponse:
        if not form_token_ok(request, csrf):
            return page(request, meter_id, 403, error="stale")
        secret = platform.settings.payment_secret
        if not platform.settings.dev_gateway or secret is None:
            raise HTTPException(status_code=404, detail="this site takes payments through its gateway, not this page")
        meter = ctx.reads.meter(meter_id, balance=False)
        if meter is None or meter.account_no is None:
            raise HTTPException(status_code=404, detail=f"meter {meter_id} has no prepaid account")
        now: datetime = ctx.clock.now()
        body, signature = dev_gateway.signed_event(
            secret, meter.account_no, rupees * PAISE_PER_RUPEE, now, payment_id=dev_gateway.new_payment_id()
        )
        taken = await run_in_threadpool(
            payments.take_webhook, platform.store, body, signature, secret, platform.ring.site.current, now
        )
        paid = [
            {"token": tok, "digits": group(d) if (d := token_digits(platform.ring.site, tok)) else None}
            for tok in taken.tokens
        ]
        track = await run_in_threadpool(payments.tracked, platform.store, taken.payment_id)
        return page(request, meter_id, paid=paid, payment_id=taken.payment_id, rupees=rupees, track=track)

    return pages
