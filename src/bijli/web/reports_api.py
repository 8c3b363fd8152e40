"""API v1: the utility's daily reports (collection, silent meters, connectivity, usage)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from bijli.access.model import Permission
from bijli.kernel.time import ist_day
from bijli.mdm import reports
from bijli.web.api import PREFIX
from bijli.web.auth import Auth
from bijli.web.context import WebContext


def router(ctx: WebContext) -> APIRouter:
    """Report routes over one platform."""
    api = APIRouter(prefix=PREFIX, tags=["reports"], dependencies=[Depends(Auth(ctx).needs(Permission.READ_REPORTS))])
    sql = ctx.platform.reports

    @api.get("/reports/collection", summary="Data-collection rate of one IST day")
    def collection(
        day: Annotated[date | None, Query(description="IST day, YYYY-MM-DD (default: yesterday)")] = None,
    ) -> dict[str, Any]:
        """Meters whose 96 intervals of the day were stored within 8 h and within 24 h of its end."""
        chosen = day or ist_day(ctx.clock.now()) - timedelta(days=1)
        return sql.collection(chosen).as_dict()

    @api.get("/reports/non-communicating", summary="Meters not heard from")
    def non_communicating(
        hours: Annotated[int, Query(ge=1, le=24 * 90, description="Silent for at least this many hours")] = 24,
    ) -> dict[str, Any]:
        items = sql.non_communicating(ctx.clock.now(), timedelta(hours=hours))
        return {"silent_for_hours": hours, "count": len(items), "items": items}

    @api.get("/fleet/connectivity", summary="Meters online, on their second SIM and failovers, by area and operator")
    def connectivity() -> dict[str, Any]:
        return {"as_of": ctx.clock.now().isoformat(), "groups": sql.connectivity(ctx.clock.now())}

    @api.get("/usage", summary="Actual kWh per meter, transformer, feeder or area")
    def usage(
        level: Annotated[reports.Level, Query()] = "area",
        day: Annotated[date | None, Query(description="One IST day")] = None,
        month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="A month, YYYY-MM")] = None,
    ) -> dict[str, Any]:
        if (day is None) == (month is None):
            raise HTTPException(status_code=422, detail="give either day=YYYY-MM-DD or month=YYYY-MM")
        if day is not None:
            first = last = day
        else:
            assert month is not None
            year, mon = int(month[:4]), int(month[5:])
            if not 1 <= mon <= 12:
                raise HTTPException(status_code=422, detail=f"no month {month}")
            first = date(year, mon, 1)
            last = date(year + mon // 12, mon % 12 + 1, 1) - timedelta(days=1)
        return {
            "level": level,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "items": sql.usage(level, first, last),
        }

    return api
