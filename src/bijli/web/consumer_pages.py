"""The consumer app: a household's meter page (balance with its age, days left, usage by the
interval or by the day in kWh or rupees, alerts), the part of it that refreshes itself, and
the service worker that keeps its last figures for when the phone is offline."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from bijli.adapters.db.queries import MeterView
from bijli.alerts import handlers as alerts
from bijli.kernel.time import INTERVAL, INTERVALS_PER_DAY, IST, ist_day, ist_midnight
from bijli.prepaid import handlers as prepaid
from bijli.protocol.reporting import ONLINE_WITHIN
from bijli.web.alerts_api import alert_out
from bijli.web.auth import Auth
from bijli.web.chart import EN_DASH, DayChart, day_chart
from bijli.web.context import WebContext, relay_state
from bijli.web.display import MONTHS_EN
from bijli.web.language import Lang, lang_of
from bijli.web.limits import asked_day, in_calendar
from bijli.web.usage_chart import Unit, UsageChart, usage_chart

View = Literal["day", "month"]
RECENT_ALERTS = 10
"""Alerts the page lists (newer ones arrive on its live feed)."""
STALE_AFTER = ONLINE_WITHIN
"""A meter not heard from this long is offline; its balance is shown with a warning."""
SERVICE_WORKER = FilePath(__file__).parent / "static" / "consumer-sw.js"
MeterId = Annotated[str, Path(max_length=32)]
DayText = Annotated[str | None, Query(description="An IST day, YYYY-MM-DD.")]
ViewQuery = Annotated[View, Query(description="day: 15-minute bars; month: the month by day.")]
UnitQuery = Annotated[Unit, Query(description="kwh or rs (rupees).")]


def age_parts(since: datetime, now: datetime) -> tuple[str, int]:
    """How long ago, as a unit and a whole number: (``age_minutes``, 40), (``age_hours``, 5), (``age_days``, 2)."""
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 120:
        return "consumer.age_minutes", minutes
    if minutes < 48 * 60:
        return "consumer.age_hours", minutes // 60
    return "consumer.age_days", minutes // (24 * 60)


def _month_days(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def _day_labels(day: date) -> tuple[list[str], dict[int, str]]:
    """A day's 96 intervals as ``00:00-00:15`` (IST, an en dash between), and the chart's marks every three hours."""
    start = ist_midnight(day)
    begins = [(start + k * INTERVAL).astimezone(IST) for k in range(INTERVALS_PER_DAY + 1)]
    labels = [f"{begins[k]:%H:%M}{EN_DASH}{begins[k + 1]:%H:%M}" for k in range(INTERVALS_PER_DAY)]
    return labels, {k: labels[k][:5] for k in range(0, INTERVALS_PER_DAY, 12)}


def day_usage(ctx: WebContext, meter_id: str, day: date) -> tuple[UsageChart, DayChart]:
    """A meter's IST day in kWh by the 15 minutes (estimates marked), and the day's figures."""
    start = ist_midnight(day)
    readings = ctx.platform.queries.readings(meter_id, start, ist_midnight(day + timedelta(days=1)))
    labels, marks = _day_labels(day)
    slots = {int((r.interval_start - start) / INTERVAL): r for r in readings}
    slots = {k: r for k, r in slots.items() if 0 <= k < INTERVALS_PER_DAY}
    estimated = frozenset(k for k, r in slots.items() if r.quality == "estimated")
    chart = usage_chart(INTERVALS_PER_DAY, {k: r.import_wh for k, r in slots.items()}, "kwh", labels, marks, estimated)
    return chart, day_chart(day, readings)


def router(ctx: WebContext, templates: Jinja2Templates) -> APIRouter:
    """The consumer app's routes over one platform."""
    pages = APIRouter(include_in_schema=False)
    auth = Auth(ctx)
    platform = ctx.platform

    def today() -> date:
        return ist_day(ctx.clock.now())

    def usage(meter: MeterView, view: View, unit: Unit, shown: date, lang: Lang) -> dict[str, Any]:
        """The usage panel's figures and chart."""
        account = meter.account_no
        if unit == "rs" and account is None:
            unit = "kwh"
        if view == "day":
            if unit == "rs" and account is not None:
                start = ist_midnight(shown)
                end = ist_midnight(shown + timedelta(days=1))
                kwh_chart = day_chart(shown, platform.queries.readings(meter.meter_id, start, end))
                labels, marks = _day_labels(shown)
                found = prepaid.account_ledger(platform.store, account, start, end)
                charges = found.intervals.get(shown, []) if found is not None else []
                amounts = {int((c.interval_start - start) / INTERVAL): c.total_paise for c in charges}
                chart = usage_chart(INTERVALS_PER_DAY, amounts, "rs", labels, marks)
            else:
                chart, kwh_chart = day_usage(ctx, meter.meter_id, shown)
            return {"view": view, "unit": unit, "chart": chart, "day_stats": kwh_chart}
        first, last = _month_days(shown)
        history = {}
        if account is not None:
            history = prepaid.charge_history(platform.store, account, first, last)
        months = MONTHS_EN if lang == "en" else None
        labels = [f"{d:02d} {months[first.month - 1]}" if months else f"{d:02d}" for d in range(1, last.day + 1)]
        marks = {k: f"{k + 1}" for k in range(0, last.day, 5)}
        pick = 0 if unit == "rs" else 1
        amounts = {(d - first).days: figures[pick] for d, figures in history.items()}
        chart = usage_chart(last.day, amounts, unit, labels, marks)
        return {"view": view, "unit": unit, "chart": chart, "first": first, "last": last}

    def values(request: Request, meter_id: str, view: View, unit: Unit, day: str | None) -> dict[str, Any]:
        meter = ctx.reads.meter(meter_id, balance=False)  # the ledger is summed once, below
        if meter is None:
            raise HTTPException(status_code=404, detail=f"meter {meter_id} not found")
        now = ctx.clock.now()
        shown = asked_day(day) or (ist_day(meter.last_interval) if meter.last_interval else today())
        balance = platform.queries.balance(meter.account_no) if meter.account_no else None
        outlook = None
        if balance is not None:
            outlook = prepaid.forecasts(platform.store, {balance.account_no: balance.balance_paise}, today())[
                balance.account_no
            ]
        stale = meter.last_seen is None or now - meter.last_seen > STALE_AFTER
        age = age_parts(meter.last_seen, now) if meter.last_seen is not None else None
        if view == "month":
            first, _ = _month_days(shown)
            previous = first - timedelta(days=1)
            following = _month_days(first)[1] + timedelta(days=1)
        else:
            previous = shown - timedelta(days=1)
            following = shown + timedelta(days=1)
        return {
            "meter": meter,
            "online": ctx.is_online(meter),
            "relay": relay_state(meter.relay),
            "balance": balance,
            "outlook": outlook,
            "stale": stale,
            "age": age,
            "day": shown,
            "prev_day": previous if in_calendar(previous) else None,
            "next_day": following if following <= today() else None,
            "usage": usage(meter, view, unit, shown, lang_of(request)),
            "now": now,
        }

    @pages.get("/consumer/{meter_id}", response_class=HTMLResponse, dependencies=[Depends(auth.meter())])
    def consumer(
        request: Request, meter_id: MeterId, day: DayText = None, view: ViewQuery = "day", unit: UnitQuery = "kwh"
    ) -> HTMLResponse:
        found = values(request, meter_id, view, unit, day)
        account = found["meter"].account_no
        recent = [alert_out(a) for a in alerts.alerts_of(platform.store, account, RECENT_ALERTS, 0)] if account else []
        return templates.TemplateResponse(request, "consumer.html", {**found, "alerts": recent})

    @pages.get("/consumer/{meter_id}/live", response_class=HTMLResponse, dependencies=[Depends(auth.meter())])
    def live(
        request: Request, meter_id: MeterId, day: DayText = None, view: ViewQuery = "day", unit: UnitQuery = "kwh"
    ) -> HTMLResponse:
        """The page's balance and usage again, for the page to swap in without a reload."""
        return templates.TemplateResponse(request, "_consumer_live.html", values(request, meter_id, view, unit, day))

    @pages.get("/consumer-sw.js", dependencies=[Depends(auth.public())])
    def service_worker() -> Response:
        """The consumer app's service worker (its scope: /consumer/), from the site's root."""
        return Response(
            SERVICE_WORKER.read_bytes(),
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/consumer/"},
        )

    return pages
