"""API v1: energy accounting: a transformer's, feeder's or area's balance of a day, and every
balance of a day, flagged transformers first."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.types import DecoratedCallable
from pydantic import BaseModel, Field

from bijli.access.model import Permission
from bijli.adapters.db.energy import SqlEnergy
from bijli.kernel.time import INTERVAL, ist_day, ist_midnight
from bijli.network.balance import Balance, Level, added_up, kwh, transformer_balance, trend
from bijli.network.ports import StoredDay
from bijli.web.api import PREFIX
from bijli.web.auth import Auth
from bijli.web.context import WebContext
from bijli.web.limits import EDGE, Day, Limit, Offset, Paged, Problem, window

TREND_DAYS = 7
NO_BALANCE: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No balance of that name on that day (yet)."}
}
KWH = r"^-?\d+\.\d{3}$"


class Interval(BaseModel):
    start: datetime
    supplied_wh: int | None = Field(description="The transformer's meter; null: no reading.")
    supplied_estimated: bool
    billed_wh: int = Field(description="Its consumers' meters, estimates included.")
    billed_estimated_wh: int
    loss_wh: int | None
    consumers_reporting: int


class TrendDay(BaseModel):
    day: date
    loss_pct: str | None


class Trend(BaseModel):
    days: list[TrendDay] = Field(description=f"The loss share of the {TREND_DAYS} days up to the day.")
    points_per_day: str | None = Field(description="Least-squares slope of the loss share, percentage points a day.")


class BalanceOut(BaseModel):
    level: Level
    subject: str = Field(description="The transformer, feeder or area.")
    day: date
    transformers: int = Field(description="Metered transformers added up.")
    supplied_kwh: str = Field(pattern=KWH, description="Energy in, from the transformers' own meters.")
    supplied_estimated_kwh: str = Field(pattern=KWH)
    billed_kwh: str = Field(pattern=KWH, description="Energy the consumers' meters recorded, estimates included.")
    billed_estimated_kwh: str = Field(pattern=KWH, description="Of `billed_kwh`, estimates.")
    loss_kwh: str = Field(pattern=KWH)
    loss_pct: str | None = Field(description="Loss as a share of the energy in, to two places; null: none went in.")
    estimated: bool = Field(description="Estimates are in either side.")
    complete: bool = Field(description="Every interval of every meter is in.")
    coverage: str = Field(description="Share of the consumers' meter-intervals in, 0 to 1.")
    flagged: int = Field(description="Transformers flagged as losing more than the network explains.")
    excess_w: int | None = Field(
        default=None, description="A transformer: watts lost beyond its own usual days (evening or round the clock)."
    )
    unexplained_w: int | None = Field(default=None, description="A transformer: fitted round-the-clock loss, watts.")
    night_w: int | None = Field(
        default=None, description="A transformer: fitted night-only loss (street lights), watts."
    )
    trend: Trend
    intervals: list[Interval] | None = Field(default=None, description="A transformer's 96 intervals.")


class BalanceItem(BaseModel):
    level: Level
    subject: str
    day: date
    supplied_kwh: str = Field(pattern=KWH)
    billed_kwh: str = Field(pattern=KWH)
    loss_kwh: str = Field(pattern=KWH)
    loss_pct: str | None
    estimated: bool
    complete: bool
    flagged: int
    excess_w: int | None = None


class Balances(Paged):
    level: Level
    day: date
    items: list[BalanceItem] = Field(description="Flagged first, then by loss share, largest first.")


Subject = Annotated[str, Path(min_length=1, max_length=64, description="Its name, e.g. CL-F01-DT01.")]
DayQuery = Annotated[Day | None, Query(description="An IST day, YYYY-MM-DD (default: yesterday).")]


def _pct(b: Balance) -> str | None:
    pct = b.loss_pct
    return None if pct is None else str(pct)


def _summary(b: Balance, flagged: int) -> dict[str, Any]:
    return {
        "level": b.level,
        "subject": b.subject,
        "day": b.day,
        "supplied_kwh": kwh(b.supplied_wh),
        "billed_kwh": kwh(b.billed_wh),
        "loss_kwh": kwh(b.loss_wh),
        "loss_pct": _pct(b),
        "estimated": b.estimated,
        "complete": b.complete,
        "flagged": flagged,
    }


def _of(level: Level, subject: str, day: date, rows: Iterable[StoredDay]) -> tuple[Balance, int]:
    rs = list(rows)
    parts = [transformer_balance(r.day) for r in rs]
    b = parts[0] if level == "transformer" and len(parts) == 1 else added_up(level, subject, day, parts)
    return b, sum(r.flagged for r in rs)


def _key(level: Level) -> Callable[[StoredDay], str]:
    if level == "transformer":
        return lambda r: r.day.transformer
    if level == "feeder":
        return lambda r: r.day.feeder
    return lambda r: r.day.area


def router(ctx: WebContext) -> APIRouter:
    """Energy accounting routes over one platform."""
    api = APIRouter(
        prefix=PREFIX,
        tags=["energy"],
        responses=EDGE,
        dependencies=[Depends(Auth(ctx).needs(Permission.READ_REPORTS))],
    )

    def stored(first: date, last: date, **subject: str | None) -> list[StoredDay]:
        with ctx.reads.engine.connect() as conn:
            return SqlEnergy(conn).stored(first, last, **subject)

    def balance(level: Level, subject: str, day: date | None) -> BalanceOut:
        chosen = day or ist_day(ctx.clock.now()) - timedelta(days=1)
        rows = stored(chosen - timedelta(days=TREND_DAYS - 1), chosen, **{level: subject})
        today = [r for r in rows if r.day.day == chosen]
        if not today:
            raise HTTPException(status_code=404, detail=f"no balance of {level} {subject} on {chosen.isoformat()}")
        b, flagged = _of(level, subject, chosen, today)
        history: list[tuple[date, Any]] = []
        days = []
        for n in range(TREND_DAYS - 1, -1, -1):
            d = chosen - timedelta(days=n)
            those = [r for r in rows if r.day.day == d]
            if those:
                pct = _of(level, subject, d, those)[0].loss_pct
                days.append(TrendDay(day=d, loss_pct=None if pct is None else str(pct)))
                if pct is not None:
                    history.append((d, pct))
        slope = trend(history)
        out = BalanceOut(
            **_summary(b, flagged),
            transformers=b.transformers,
            supplied_estimated_kwh=kwh(b.supplied_estimated_wh),
            billed_estimated_kwh=kwh(b.billed_estimated_wh),
            coverage=str(b.coverage),
            trend=Trend(days=days, points_per_day=None if slope is None else str(slope)),
        )
        if level == "transformer":
            one = today[0]
            start = ist_midnight(chosen)
            out.excess_w, out.unexplained_w, out.night_w = one.excess_w, one.unexplained_w, one.night_w
            out.intervals = [
                Interval(
                    start=start + n * INTERVAL,
                    supplied_wh=s.supplied_wh,
                    supplied_estimated=s.supplied_estimated,
                    billed_wh=s.billed_wh,
                    billed_estimated_wh=s.billed_estimated_wh,
                    loss_wh=None if s.supplied_wh is None else s.supplied_wh - s.billed_wh,
                    consumers_reporting=s.reporting,
                )
                for n, s in enumerate(one.day.slots)
            ]
        return out

    def balance_route(path: str, summary: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
        """A route answering one subject's balance of one IST day (404 when the day has none)."""
        return api.get(path, summary=summary, response_model=BalanceOut, responses=NO_BALANCE)

    @balance_route("/transformers/{transformer_id}/balance", "A transformer's energy balance of one IST day")
    def transformer(transformer_id: Subject, day: DayQuery = None) -> BalanceOut:
        """Energy in (its own meter) against energy billed (its consumers' meters) per interval
        and for the day, the loss and its split, the trend over the last days. 404 when the day
        has no balance (yet)."""
        return balance("transformer", transformer_id, day)

    @balance_route("/feeders/{feeder_id}/balance", "A feeder's energy balance of one IST day")
    def feeder(feeder_id: Subject, day: DayQuery = None) -> BalanceOut:
        """Its metered transformers' balances added up."""
        return balance("feeder", feeder_id, day)

    @balance_route("/areas/{area}/balance", "An area's energy balance of one IST day")
    def area(area: Subject, day: DayQuery = None) -> BalanceOut:
        """Its metered transformers' balances added up."""
        return balance("area", area, day)

    @api.get(
        "/balances", summary="Every transformer's, feeder's or area's balance of one IST day", response_model=Balances
    )
    def balances(
        level: Annotated[Level, Query()] = "transformer",
        day: DayQuery = None,
        flagged: Annotated[bool, Query(description="Only those with a flagged transformer.")] = False,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> Balances:
        chosen = day or ist_day(ctx.clock.now()) - timedelta(days=1)
        groups: dict[str, list[StoredDay]] = {}
        key = _key(level)
        for r in stored(chosen, chosen):
            groups.setdefault(key(r), []).append(r)
        items = []
        for subject, rows in groups.items():
            b, n = _of(level, subject, chosen, rows)
            if flagged and not n:
                continue
            item = BalanceItem(**_summary(b, n))
            if level == "transformer":
                item.excess_w = rows[0].excess_w
            items.append(item)
        items.sort(key=lambda i: (-i.flagged, -float(i.loss_pct or "-1e9"), i.subject))
        found, next_offset = window(items, limit, offset)
        return Balances(level=level, day=chosen, items=found, limit=limit, offset=offset, next_offset=next_offset)

    return api
