"""API v1 for who is signed in, actions on many meters at once (with a second person's
approval), and the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from bijli.access import bulk
from bijli.access.model import BULK_ACTIONS, ROLE_PERMISSIONS, Permission
from bijli.access.ports import BulkRequest
from bijli.protocol.topics import METER_ID_PATTERN
from bijli.web.api import PREFIX
from bijli.web.auth import Auth, identity_of, needs_action
from bijli.web.commands_api import no_requested_by
from bijli.web.context import WebContext
from bijli.web.limits import EDGE, Limit, Offset, Paged, Problem, audit_text, invalid, page_of

BulkAction = Literal["relay_disconnect", "relay_connect"]
assert set(BULK_ACTIONS) == {"relay_disconnect", "relay_connect"}
RequestId = Annotated[str, Path(max_length=40)]
BulkStatus = Literal["pending", "approved", "refused"]


class Me(BaseModel):
    name: str = Field(description="As the audit trail shows it: a user name, token:NAME, or a mobile number.")
    kind: Literal["staff", "consumer", "token"]
    role: str
    permissions: list[str]
    meter_ids: list[str] = Field(description="A consumer's own meters; empty for staff and tokens.")


class NewBulkRequest(BaseModel):
    """An action for many meters; nothing is sent until a second person approves."""

    model_config = ConfigDict(extra="forbid")

    action: BulkAction
    meter_ids: Annotated[
        list[Annotated[str, Field(pattern=METER_ID_PATTERN.pattern, examples=["KNCL0000001"])]],
        Field(min_length=1, max_length=bulk.MAX_METERS, description="The meters, each once (repeats are dropped)."),
    ]
    reason: Annotated[str, audit_text(bulk.MAX_REASON, "Why; kept in the audit trail of every command it makes.")]

    @model_validator(mode="before")
    @classmethod
    def who_asks_is_signed_in(cls, data: Any) -> Any:
        return no_requested_by(data)


class Refusal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str | None, audit_text(256, "Why it is refused; kept with the request.")] = None


class BulkItem(BaseModel):
    meter_id: str
    command_id: str | None
    problem: str = Field(description="Why no command was made for the meter; empty when one was.")


class BulkOut(BaseModel):
    request_id: str
    action: BulkAction
    meter_ids: list[str]
    reason: str
    requested_by: str
    requested_at: datetime
    status: BulkStatus
    decided_by: str | None
    decided_at: datetime | None
    note: str
    commands: list[BulkItem] = Field(description="Once approved: the command each meter got.")


class AuditItem(BaseModel):
    at: datetime
    who: str
    what: str = Field(examples=["command:relay_disconnect"])
    meter_id: str | None
    reference: str
    detail: str


class AuditPage(Paged):
    items: list[AuditItem]


class BulkPage(Paged):
    items: list[BulkOut] = Field(description="Newest first; each without its commands (ask for the request for those).")


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def bulk_out(r: BulkRequest, outcomes: list[bulk.BulkOutcome]) -> BulkOut:
    return BulkOut(
        request_id=r.request_id,
        action=r.action,  # type: ignore[arg-type]  # stored only after request_bulk checked it
        meter_ids=list(r.meter_ids),
        reason=r.reason,
        requested_by=r.requested_by,
        requested_at=r.requested_at.astimezone(UTC),
        status=r.status,  # type: ignore[arg-type]  # the three the table holds
        decided_by=r.decided_by,
        decided_at=_utc(r.decided_at),
        note=r.note,
        commands=[BulkItem(meter_id=o.meter_id, command_id=o.command_id, problem=o.problem) for o in outcomes],
    )


BULK_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such bulk request."},
    409: {"model": Problem, "description": "Decided already, or the approver is the person who asked."},
}


def router(ctx: WebContext) -> APIRouter:
    """The access routes over one platform."""
    api = APIRouter(prefix=PREFIX, tags=["v1", "access"], responses=EDGE)
    auth = Auth(ctx)
    store = ctx.platform.store
    bulk_rule = [Depends(auth.needs(Permission.BULK))]

    @api.get("/me", response_model=Me, dependencies=[Depends(auth.signed_in())])
    def me(request: Request) -> Me:
        """Who is signed in, with what role and permissions; a consumer's own meters."""
        who = identity_of(request)
        return Me(
            name=who.name,
            kind=who.kind.value,
            role=who.role.value,
            permissions=sorted(p.value for p in ROLE_PERMISSIONS[who.role]),
            meter_ids=sorted(who.meter_ids),
        )

    def found(request_id: str) -> tuple[BulkRequest, list[bulk.BulkOutcome]]:
        try:
            return bulk.bulk_request(store, request_id)
        except bulk.UnknownBulkRequest as e:
            raise HTTPException(status_code=404, detail=f"bulk request {request_id} not found") from e

    @api.post("/commands/bulk", response_model=BulkOut, status_code=202, dependencies=bulk_rule)
    def ask_bulk(body: NewBulkRequest, request: Request) -> BulkOut:
        """Ask for an action on many meters. It waits for a second person's approval
        (`…/approve`); nothing is sent before."""
        who = identity_of(request)
        needs_action(who, body.action)
        try:
            made = bulk.request_bulk(store, body.action, body.meter_ids, body.reason, who.name, ctx.clock.now())
        except ValueError as e:
            raise invalid("body", "meter_ids", str(e), body.meter_ids) from e
        return bulk_out(made, [])

    @api.get("/commands/bulk", response_model=BulkPage, dependencies=[Depends(auth.needs(Permission.READ_FLEET))])
    def bulk_list(
        status: Annotated[BulkStatus | None, Query(description="Only requests in this state.")] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> BulkPage:
        """Bulk requests, newest first: `status=pending` lists those waiting for a second person."""
        found, next_offset = page_of(bulk.bulk_requests(store, status, limit + 1, offset), limit, offset)
        return BulkPage(items=[bulk_out(r, []) for r in found], limit=limit, offset=offset, next_offset=next_offset)

    @api.get(
        "/commands/bulk/{request_id}",
        response_model=BulkOut,
        responses={404: BULK_ERRORS[404]},
        dependencies=[Depends(auth.needs(Permission.READ_FLEET))],
    )
    def bulk_one(request_id: RequestId) -> BulkOut:
        """A bulk request, its decision, and once approved the command each meter got."""
        return bulk_out(*found(request_id))

    @api.post(
        "/commands/bulk/{request_id}/approve", response_model=BulkOut, responses=BULK_ERRORS, dependencies=bulk_rule
    )
    def approve(request_id: RequestId, request: Request) -> BulkOut:
        """Approve someone else's bulk request: each meter gets its command (once, however
        often this is repeated by the same approver)."""
        who = identity_of(request)
        asked, _ = found(request_id)
        needs_action(who, asked.action)
        try:
            return bulk_out(*bulk.approve_bulk(store, request_id, who.name, ctx.clock.now()))
        except bulk.BulkRefused as e:
            raise HTTPException(status_code=409, detail=str(e)) from e

    @api.post(
        "/commands/bulk/{request_id}/refuse", response_model=BulkOut, responses=BULK_ERRORS, dependencies=bulk_rule
    )
    def refuse(request_id: RequestId, body: Refusal, request: Request) -> BulkOut:
        """Refuse a pending bulk request (the person who asked may withdraw it): nothing is sent."""
        found(request_id)
        who = identity_of(request)
        try:
            return bulk_out(bulk.refuse_bulk(store, request_id, who.name, body.note or "", ctx.clock.now()), [])
        except bulk.BulkRefused as e:
            raise HTTPException(status_code=409, detail=str(e)) from e

    @api.get("/audit", response_model=AuditPage, dependencies=[Depends(auth.needs(Permission.READ_AUDIT))])
    def audit(limit: Limit = 100, offset: Offset = 0) -> AuditPage:
        """Who asked for what: commands, status changes, bulk requests and their decisions, newest first."""
        items, next_offset = page_of(ctx.platform.audit.entries(limit + 1, offset), limit, offset)
        return AuditPage(
            items=[
                AuditItem(
                    at=e.at.astimezone(UTC),
                    who=e.who,
                    what=e.what,
                    meter_id=e.meter_id,
                    reference=e.reference,
                    detail=e.detail,
                )
                for e in items
            ],
            limit=limit,
            offset=offset,
            next_offset=next_offset,
        )

    return api
