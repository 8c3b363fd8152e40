"""REST API v1: the contract other utility systems call. Paths and fields here are a promise."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

import bijli
from bijli.access.model import Permission
from bijli.adapters.db.queries import MeterView
from bijli.kernel.time import INTERVAL
from bijli.kernel.unit import StoreUnavailable
from bijli.kernel.units import format_rupees, kwh
from bijli.mdm.vee import flag_names
from bijli.web.auth import Auth
from bijli.web.context import Relay, WebContext, relay_state
from bijli.web.limits import (
    EDGE,
    Limit,
    Moment,
    Offset,
    Paged,
    Problem,
    invalid,
    page_of,
    window,
)

PREFIX = "/api/v1"
MAX_SPAN = timedelta(days=31)
MILLI = Decimal("0.001")

Rupees = Annotated[
    str,
    Field(
        pattern=r"^-?\d+\.\d{2}$",
        examples=["1234.50"],
        description="Rupees as a decimal string with two places (never a float).",
    ),
]
Kwh = Annotated[
    str,
    Field(pattern=r"^\d+\.\d{3}$", examples=["0.125"], description="kWh as a decimal string, exact to the Wh."),
]
MeterId = Annotated[str, Path(description="The meter's id, e.g. KNCL0000001.", max_length=32)]
WindowStart = Annotated[
    Moment,
    Query(
        description="ISO 8601 with a time zone (Z or an offset), 2000 to 2100; intervals starting here on.",
    ),
]
WindowEnd = Annotated[
    Moment,
    Query(
        description="ISO 8601 with a time zone, 2000 to 2100; excluded. At most 31 days on.",
    ),
]
WINDOW_ITEMS = 31 * 96
"""The most intervals a window holds."""
WindowLimit = Annotated[
    int,
    Query(ge=1, le=WINDOW_ITEMS, description=f"Items per page, 1 to {WINDOW_ITEMS} (a whole 31-day window)."),
]


class Health(BaseModel):
    status: Literal["ok", "error"]
    database: Literal["ok", "unavailable"]
    version: str


class Meter(BaseModel):
    meter_id: str
    account_no: str | None
    consumer_name: str | None
    area: str
    feeder: str
    transformer: str
    status: str = Field(description="Lifecycle status: commissioned (in service) or decommissioned.")
    relay: Relay | None = Field(description="The load switch as last reported; null until the meter reports.")
    balance: Rupees | None = Field(description="Prepaid balance from the ledger; null for a meter without an account.")
    last_seen: datetime | None = Field(description="When the meter last sent an authentic frame (UTC).")
    online: bool = Field(description="Whether the meter was heard from in the last 30 minutes.")
    active_sim: int | None = Field(description="SIM slot in use, 1 or 2.")
    operator: str | None
    rssi_dbm: int | None
    last_interval: datetime | None = Field(description="Start of the latest stored 15-minute interval (UTC).")


class MeterPage(Paged):
    items: list[Meter]
    total: int


class Reading(BaseModel):
    interval_start: datetime
    kwh: Kwh = Field(description="Energy imported in the interval.")
    cumulative_kwh: Kwh = Field(description="The import register at the end of the interval.")
    quality: str = Field(examples=["actual"], description="actual (measured by the meter) or estimated.")
    flags: list[str] = Field(
        examples=[[]],
        description="Validation and estimation flags: spike, register-mismatch, zero-with-supply, clock-behind, "
        "estimated-linear, estimated-profile; empty for a reading that passed every check.",
    )


class Readings(Paged):
    meter_id: str
    start: datetime
    end: datetime
    interval_minutes: int = Field(examples=[15])
    items: list[Reading]


class EditedReading(BaseModel):
    """An interval's reading as an edit found or left it."""

    kwh: Kwh
    cumulative_kwh: Kwh
    quality: str
    flags: list[str]


EditAction = Literal["estimated", "replaced", "flagged"]


class Edit(BaseModel):
    interval_start: datetime
    action: EditAction = Field(
        description="estimated: a gap filled; replaced: the real reading took an estimate's place; "
        "flagged: validation marked the reading."
    )
    reason: str = Field(description="Why: the estimation method, the flags, or that the real reading arrived.")
    at: datetime = Field(description="When the edit was made (UTC).")
    before: EditedReading | None = Field(description="The reading before the edit; null when there was none.")
    after: EditedReading


class Edits(Paged):
    meter_id: str
    start: datetime
    end: datetime
    items: list[Edit]


class Balance(BaseModel):
    meter_id: str
    account_no: str
    balance: Rupees = Field(description="opening + recharges - arrears_recovered - charges + adjustments, exactly.")
    opening: Rupees
    recharges: Rupees = Field(description="Payments captured, less those refunded.")
    arrears_recovered: Rupees = Field(description="The share of the recharges that went to arrears (docs/payments.md).")
    charges: Rupees
    adjustments: Rupees
    currency: Literal["INR"]
    as_of: datetime = Field(description="When the latest ledger entry counted here was posted (UTC).")


NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "No such meter."}}


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def meter_out(ctx: WebContext, m: MeterView) -> Meter:
    return Meter(
        meter_id=m.meter_id,
        account_no=m.account_no,
        consumer_name=m.consumer_name,
        area=m.area,
        feeder=m.feeder,
        transformer=m.transformer,
        status=m.status,
        relay=relay_state(m.relay),
        balance=None if m.balance_paise is None else format_rupees(m.balance_paise),
        last_seen=_utc(m.last_seen),
        online=ctx.is_online(m),
        active_sim=m.active_sim,
        operator=m.operator,
        rssi_dbm=m.rssi_dbm,
        last_interval=_utc(m.last_interval),
    )


def _kwh(wh: int) -> str:
    """kWh to the Wh, as `Kwh` wants it: "0.125" (readings are never negative)."""
    if wh >= 0:
        return f"{wh // 1000}.{wh % 1000:03d}"
    return str(kwh(wh).quantize(MILLI))


def _edited(values: str) -> EditedReading:
    """A reading as the edit log keeps it (JSON: import_wh, import_wh_total, quality, flags)."""
    v = json.loads(values)
    return EditedReading(
        kwh=_kwh(v["import_wh"]),
        cumulative_kwh=_kwh(v["import_wh_total"]),
        quality=v["quality"],
        flags=flag_names(v["flags"]),
    )


def _window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[start, end) in UTC, or a 422 saying what is wrong with it."""
    for name, moment in (("start", start), ("end", end)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            message = f"{name} needs a time zone: add Z or an offset such as +05:30"
            raise invalid("query", name, message, moment.isoformat())
    if end <= start:
        raise invalid("query", "end", "end must be later than start", end.isoformat())
    if end - start > MAX_SPAN:
        raise invalid("query", "end", "end may be at most 31 days after start", end.isoformat())
    return start.astimezone(UTC), end.astimezone(UTC)


def router(ctx: WebContext) -> APIRouter:
    """The v1 API's routes over one platform."""
    api = APIRouter(prefix=PREFIX, tags=["v1"], responses=EDGE)
    auth = Auth(ctx)
    fleet = [Depends(auth.needs(Permission.READ_FLEET))]
    one_meter = [Depends(auth.meter())]

    def find(meter_id: str, balance: bool = True) -> MeterView:
        meter = ctx.reads.meter(meter_id, balance)
        if meter is None:
            raise HTTPException(status_code=404, detail=f"meter {meter_id} not found")
        return meter

    @api.get(
        "/health",
        response_model=Health,
        responses={503: {"model": Health, "description": "The database does not answer."}},
        dependencies=[Depends(auth.public())],
    )
    def health() -> Health | JSONResponse:
        """Whether the service and its database answer."""
        try:
            ctx.reads.ping()
        except StoreUnavailable:
            down = Health(status="error", database="unavailable", version=bijli.__version__)
            return JSONResponse(status_code=503, content=down.model_dump())
        return Health(status="ok", database="ok", version=bijli.__version__)

    @api.get("/meters", response_model=MeterPage, dependencies=fleet)
    def meters(limit: Limit = 100, offset: Offset = 0) -> MeterPage:
        """Meters in meter-id order, a page at a time."""
        found, next_offset = page_of(ctx.reads.meters(limit + 1, offset), limit, offset)
        return MeterPage(
            items=[meter_out(ctx, m) for m in found],
            total=ctx.platform.queries.count_meters(),
            limit=limit,
            offset=offset,
            next_offset=next_offset,
        )

    @api.get("/meters/{meter_id}", response_model=Meter, responses=NOT_FOUND, dependencies=one_meter)
    def meter(meter_id: MeterId) -> Meter:
        """One meter: its consumer, place in the network, connectivity, relay and balance."""
        return meter_out(ctx, find(meter_id))

    @api.get("/meters/{meter_id}/readings", response_model=Readings, responses=NOT_FOUND, dependencies=one_meter)
    def readings(
        meter_id: MeterId, start: WindowStart, end: WindowEnd, limit: WindowLimit = WINDOW_ITEMS, offset: Offset = 0
    ) -> Readings:
        """The meter's 15-minute interval readings starting in [start, end), oldest first."""
        start, end = _window(start, end)
        every = ctx.platform.queries.readings(meter_id, start, end)
        if not every and not ctx.reads.known(meter_id):  # a meter with readings is known
            raise HTTPException(status_code=404, detail=f"meter {meter_id} not found")
        rows, next_offset = window(every, limit, offset)
        return Readings(
            limit=limit,
            offset=offset,
            next_offset=next_offset,
            meter_id=meter_id,
            start=start,
            end=end,
            interval_minutes=int(INTERVAL.total_seconds() // 60),
            items=[
                Reading(
                    interval_start=r.interval_start.astimezone(UTC),
                    kwh=_kwh(r.import_wh),
                    cumulative_kwh=_kwh(r.import_wh_total),
                    quality=r.quality,
                    flags=flag_names(r.flags) if r.flags else [],
                )
                for r in rows
            ],
        )

    @api.get("/meters/{meter_id}/edits", response_model=Edits, responses=NOT_FOUND, dependencies=one_meter)
    def edits(meter_id: MeterId, start: WindowStart, end: WindowEnd, limit: Limit = 1000, offset: Offset = 0) -> Edits:
        """The edit log of the meter's intervals starting in [start, end): estimates, replacements
        by the real readings, validation flags; by interval, oldest edit first."""
        start, end = _window(start, end)
        if not ctx.reads.known(meter_id):
            raise HTTPException(status_code=404, detail=f"meter {meter_id} not found")
        found, next_offset = window(ctx.platform.queries.edits(meter_id, start, end), limit, offset)
        items = [
            Edit(
                interval_start=e.interval_start.astimezone(UTC),
                action=cast(EditAction, e.action),
                reason=e.reason,
                at=e.at.astimezone(UTC),
                before=None if e.before is None else _edited(e.before),
                after=_edited(e.after),
            )
            for e in found
        ]
        return Edits(
            meter_id=meter_id, start=start, end=end, items=items, limit=limit, offset=offset, next_offset=next_offset
        )

    @api.get("/meters/{meter_id}/balance", response_model=Balance, responses=NOT_FOUND, dependencies=one_meter)
    def balance(meter_id: MeterId) -> Balance:
        """The prepaid balance from the ledger, with what makes it up."""
        m = find(meter_id, balance=False)  # the breakdown below sums the ledger, once
        if m.account_no is None:
            raise HTTPException(status_code=404, detail=f"meter {meter_id} has no prepaid account")
        b = ctx.platform.queries.balance(m.account_no)
        return Balance(
            meter_id=meter_id,
            account_no=b.account_no,
            balance=format_rupees(b.balance_paise),
            opening=format_rupees(b.opening_paise),
            recharges=format_rupees(b.recharges_paise),
            arrears_recovered=format_rupees(b.arrears_recovered_paise),
            charges=format_rupees(b.charges_paise),
            adjustments=format_rupees(b.adjustments_paise),
            currency="INR",
            as_of=(b.last_entry_at or ctx.clock.now()).astimezone(UTC),
        )

    return api
