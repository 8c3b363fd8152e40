"""REST API v1 for a meter's lifecycle: take it out of service, put it back, read its status history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from bijli.access.model import Identity, Permission
from bijli.accounts.handlers import change_status
from bijli.mdm.meters import MAX_REASON, MeterStatus, RefusedChange, UnknownMeter
from bijli.web.api import NOT_FOUND, PREFIX, Meter, MeterId, meter_out
from bijli.web.auth import Auth, identity_of
from bijli.web.commands_api import no_requested_by
from bijli.web.context import WebContext
from bijli.web.limits import EDGE, Limit, Offset, Paged, Problem, audit_text, window


class StatusChangeRequest(BaseModel):
    """Why a meter is taken out of service or put back; who does it is whoever is signed in."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def who_asks_is_signed_in(cls, data: Any) -> Any:
        return no_requested_by(data)

    reason: Annotated[str, audit_text(MAX_REASON, "Why; kept in the status history.")]


class StatusChangeEntry(BaseModel):
    at: datetime
    from_status: str
    to_status: str
    changed_by: str
    reason: str


class StatusHistory(Paged):
    meter_id: str
    status: str = Field(description="The meter's status now.")
    items: list[StatusChangeEntry] = Field(description="Every status change, newest first.")


ERRORS: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    409: {"model": Problem, "description": "The meter cannot make that change (e.g. it is decommissioned already)."},
}


def router(ctx: WebContext) -> APIRouter:
    """The meter lifecycle routes over one platform."""
    api = APIRouter(prefix=PREFIX, tags=["v1", "meters"], responses=EDGE)
    platform = ctx.platform
    auth = Auth(ctx)
    decommissioner = [Depends(auth.needs(Permission.DECOMMISSION))]

    def change(meter_id: str, to: MeterStatus, body: StatusChangeRequest, who: Identity) -> Meter:
        try:
            change_status(platform.store, meter_id, to, changed_by=who.name, reason=body.reason, now=ctx.clock.now())
        except UnknownMeter as e:
            raise HTTPException(status_code=404, detail=f"meter {meter_id} not found") from e
        except RefusedChange as e:
            raise HTTPException(status_code=409, detail=str(e)) from e
        meter = ctx.reads.meter(meter_id)
        assert meter is not None  # meters are never deleted
        return meter_out(ctx, meter)

    @api.post("/meters/{meter_id}/decommission", response_model=Meter, responses=ERRORS, dependencies=decommissioner)
    def decommission(meter_id: MeterId, body: StatusChangeRequest, request: Request) -> Meter:
        """Take the meter out of service: its frames are quarantined from now on, its commands
        not settled yet fail, it takes no new ones, and the reports leave it out."""
        return change(meter_id, MeterStatus.DECOMMISSIONED, body, identity_of(request))

    @api.post("/meters/{meter_id}/recommission", response_model=Meter, responses=ERRORS, dependencies=decommissioner)
    def recommission(meter_id: MeterId, body: StatusChangeRequest, request: Request) -> Meter:
        """Put a decommissioned meter back in service: its frames are stored again, it takes commands."""
        return change(meter_id, MeterStatus.COMMISSIONED, body, identity_of(request))

    @api.get(
        "/meters/{meter_id}/status-history",
        response_model=StatusHistory,
        responses=NOT_FOUND,
        dependencies=[Depends(auth.needs(Permission.READ_FLEET))],
    )
    def status_history(meter_id: MeterId, limit: Limit = 100, offset: Offset = 0) -> StatusHistory:
        """Who took the meter out of service or put it back, when and why; newest first."""
        found = platform.queries.status_history(meter_id)
        if found is None:
            raise HTTPException(status_code=404, detail=f"meter {meter_id} not found")
        current, every = found
        changes, next_offset = window(every, limit, offset)
        return StatusHistory(
            meter_id=meter_id,
            status=current,
            limit=limit,
            offset=offset,
            next_offset=next_offset,
            items=[
                StatusChangeEntry(
                    at=c.at.astimezone(UTC),
                    from_status=c.from_status,
                    to_status=c.to_status,
                    changed_by=c.changed_by,
                    reason=c.reason,
                )
                for c in changes
            ],
        )

    return api
