"""API v1: the utility's daily reports (collection, silent meters, connectivity, usage)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from bijli.access.model import Permission
from bijli.kernel.time import ist_day
from bijli.mdm import reports
from bijli.web.api import PREFIX
from bijli.web.auth import Auth
from bijli.web.context import WebContext
from bijli.web.limits import (
    EDGE,
    MONTH_PATTERN,
    Day,
    Limit,
    Offset,
    Paged,
    invalid,
    page_of,
    window,
)


class CollectionReport(BaseModel):
    day: date = Field(description="The IST day.")
    meters: int = Field(description="Meters installed by the day's start and in service all day.")
    complete_within_8h: int
    complete_within_8h_pct: float = Field(description="Percent of `meters`, to two places.")
    complete_within_24h: int
    complete_within_24h_pct: float
    complete_now: int
    complete_with_estimates: int
    intervals_expected: int
    intervals_actual: int
    intervals_estimated: int


class SilentMeter(BaseModel):
    meter_id: str
    area: str
    transformer: str
    last_seen: datetime | None = Field(description="When last heard from; null if never.")
    operator: str | None
    sim: int | None = Field(description="The SIM slot last in use.")


class NonCommunicating(Paged):
    silent_for_hours: int
    count: int = Field(description="All the meters silent that long (every page).")
    items: list[SilentMeter] = Field(description="Longest silent first.")


class ConnectivityGroup(BaseModel):
    area: str
    operator: str | None
    meters: int
    online: int
    on_second_sim: int
    failovers: int
    average_rssi_dbm: float | None


class Connectivity(Paged):
    as_of: datetime
    groups: list[ConnectivityGroup] = Field(description="By area, then operator.")


def _absent(value: object) -> bool:
    return value is None


class UsageItem(BaseModel):
    """One meter, transformer, feeder or area: only the field of the asked `level` is present."""

    meter: str | None = Field(default=None, exclude_if=_absent)
    transformer: str | None = Field(default=None, exclude_if=_absent)
    feeder: str | None = Field(default=None, exclude_if=_absent)
    area: str | None = Field(default=None, exclude_if=_absent)
    kwh: str = Field(
        pattern=r"^\d+\.\d{3}$",
        description="Actual kWh over the days, exact to the Wh; above the meter, the consumers' meters' only.",
    )
    intervals: int
    supplied_kwh: str | None = Field(
        default=None,
        exclude_if=_absent,
        description="Above the meter: actual kWh the transformers' own meters measured going in "
        "(absent when none of them reported); never added to `kwh`.",
    )


class Usage(Paged):
    level: reports.Level
    from_: date = Field(alias="from")
    to: date
    items: list[UsageItem]


DayQuery = Annotated[Day | None, Query(description="An IST day, YYYY-MM-DD, 2000 to 2100.")]


def router(ctx: WebContext) -> APIRouter:
    """Report routes over one platform."""
    api = APIRouter(
        prefix=PREFIX,
        tags=["reports"],
        responses=EDGE,
        dependencies=[Depends(Auth(ctx).needs(Permission.READ_REPORTS))],
    )
    sql = ctx.platform.reports

    @api.get("/reports/collection", summary="Data-collection rate of one IST day", response_model=CollectionReport)
    def collection(day: DayQuery = None) -> dict[str, Any]:
        """Meters whose 96 intervals of the day were stored within 8 h and within 24 h of its end
        (default: yesterday), from each meter's day as settlement keeps it; as of at most 30 s ago."""
        now = ctx.clock.now()
        chosen = day or ist_day(now) - timedelta(days=1)
        return ctx.reads.collection(chosen).as_dict()

    @api.get("/reports/non-communicating", summary="Meters not heard from", response_model=NonCommunicating)
    def non_communicating(
        hours: Annotated[int, Query(ge=1, le=24 * 90, description="Silent for at least this many hours")] = 24,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> NonCommunicating:
        now, silent_for = ctx.clock.now(), timedelta(hours=hours)
        found, next_offset = page_of(sql.non_communicating(now, silent_for, limit + 1, offset), limit, offset)
        return NonCommunicating(
            silent_for_hours=hours,
            count=sql.count_silent(now, silent_for),
            items=[SilentMeter(**m) for m in found],
            limit=limit,
            offset=offset,
            next_offset=next_offset,
        )

    @api.get(
        "/fleet/connectivity",
        summary="Meters online, on their second SIM and failovers, by area and operator",
        response_model=Connectivity,
    )
    def connectivity(limit: Limit = 100, offset: Offset = 0) -> Connectivity:
        now = ctx.clock.now()
        groups, next_offset = window(sql.connectivity(now), limit, offset)
        return Connectivity(
            as_of=now,
            groups=[ConnectivityGroup(**g) for g in groups],
            limit=limit,
            offset=offset,
            next_offset=next_offset,
        )

    @api.get(
        "/usage",
        summary="Actual kWh per meter, transformer, feeder or area",
        response_model=Usage,
    )
    def usage(
        level: Annotated[reports.Level, Query()] = "area",
        day: DayQuery = None,
        month: Annotated[str | None, Query(pattern=MONTH_PATTERN, description="A month, YYYY-MM")] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        if (day is None) == (month is None):
            raise invalid("query", "day", "give either day=YYYY-MM-DD or month=YYYY-MM", day)
        if day is not None:
            first = last = day
        else:
            assert month is not None
            year, mon = int(month[:4]), int(month[5:])
            first = date(year, mon, 1)
            last = date(year + mon // 12, mon % 12 + 1, 1) - timedelta(days=1)
        found, next_offset = page_of(sql.usage(level, first, last, limit + 1, offset), limit, offset)
        return {
            "level": level,
            "from": first,
            "to": last,
            "items": found,
            "limit": limit,
            "offset": offset,
            "next_offset": next_offset,
        }

    return api
