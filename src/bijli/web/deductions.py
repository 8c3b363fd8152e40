"""A day's charges item by item for the household: energy by slab of the month, the fixed
charge's daily share, duty, arrears recovered, each traced to its 15-minute intervals and the
tariff version that priced them. The itemisation is pure; the route reads the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from bijli.kernel.time import IST, ist_day, ist_midnight
from bijli.prepaid import handlers as prepaid
from bijli.prepaid.charging import IntervalCharge
from bijli.prepaid.tariff import TariffVersion
from bijli.web.auth import Auth
from bijli.web.context import WebContext
from bijli.web.limits import DAY_PATTERN

DAY_CHARGE = "day_charge"
ARREARS_RECOVERY = "arrears_recovery"


@dataclass(frozen=True, slots=True, kw_only=True)
class SlabShare:
    """The day's energy that fell in one slab of the month."""

    low_kwh: int
    high_kwh: int | None
    rate: Decimal
    wh: int


def slab_shares(version: TariffVersion, charges: Sequence[IntervalCharge]) -> list[SlabShare]:
    """Split each interval's energy over the month's slabs it fell in (by the month's energy
    before and after it), added up per slab; slabs the day did not reach are left out."""
    shares = []
    floor = 0
    for slab in version.slabs:
        top = slab.up_to_wh
        wh = 0
        for c in charges:
            low, high = c.month_wh_before, c.month_wh_before + c.wh
            wh += max(0, (high if top is None else min(high, top)) - max(low, floor))
        if wh:
            shares.append(
                SlabShare(low_kwh=floor // 1000, high_kwh=None if top is None else top // 1000, rate=slab.rate, wh=wh)
            )
        if top is None:
            break
        floor = top
    return shares


def router(ctx: WebContext, templates: Jinja2Templates) -> APIRouter:
    """The day's charges page."""
    pages = APIRouter(include_in_schema=False)

    @pages.get("/consumer/{meter_id}/charges", response_class=HTMLResponse, dependencies=[Depends(Auth(ctx).meter())])
    def charges(
        request: Request,
        meter_id: Annotated[str, Path(max_length=32)],
        day: Annotated[str | None, Query(pattern=DAY_PATTERN, description="An IST day, YYYY-MM-DD.")] = None,
    ) -> HTMLResponse:
        meter = ctx.reads.meter(meter_id, balance=False)
        if meter is None or meter.account_no is None:
            raise HTTPException(status_code=404, detail=f"meter {meter_id} has no prepaid account")
        today = ist_day(ctx.clock.now())
        shown = date.fromisoformat(day) if day else (ist_day(meter.last_interval) if meter.last_interval else today)
        start = ist_midnight(shown)
        found = prepaid.account_ledger(ctx.platform.store, meter.account_no, start, start + timedelta(days=1))
        if found is None:
            raise HTTPException(status_code=404, detail=f"account {meter.account_no} not found")
        intervals = found.intervals.get(shown, [])
        version = found.holder.tariff.on(shown)
        energy = sum(c.energy_paise for c in intervals)
        posted = [e for _, e in found.entries if e.kind == DAY_CHARGE and ist_day(e.at) == shown]
        if posted:
            charge: int | None = -sum(e.amount_paise for e in posted)
        else:  # a day not on the ledger yet: its running charge
            charge = prepaid.charge_history(ctx.platform.store, meter.account_no, shown, shown).get(shown, (None, 0))[0]
        duty = sum(e.duty_paise or 0 for e in posted) if posted else sum(c.duty_paise for c in intervals)
        fixed = None if charge is None else charge - energy - duty
        return templates.TemplateResponse(
            request,
            "deductions.html",
            {
                "meter": meter,
                "day": shown,
                "prev_day": shown - timedelta(days=1),
                "after_day": shown + timedelta(days=1),
                "next_day": shown + timedelta(days=1) if shown < today else None,
                "version": version,
                "tariff": found.holder.tariff,
                "shares": slab_shares(version, intervals),
                "intervals": intervals,
                "energy": energy,
                "fixed": fixed,
                "duty": duty,
                "charge": charge,
                "arrears": [e for _, e in found.entries if e.kind == ARREARS_RECOVERY],
                "entries": [e for _, e in found.entries],
                "ist": IST,
                "now": ctx.clock.now(),
            },
        )

    return pages
