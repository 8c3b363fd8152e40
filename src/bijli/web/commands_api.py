"""REST API v1 for commands to meters: ask for one, follow it, list a meter's. A contract."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from bijli.access.model import Permission
from bijli.headend.command_records import (
    CommandRecord,
    CommandRequest,
    IdempotencyConflict,
    InvalidCommand,
    MeterNotInService,
)
from bijli.headend.commands import DEFAULT_POLICY, Status, settled
from bijli.headend.handlers import submit_command
from bijli.mdm.meters import UnknownMeter
from bijli.web.api import PREFIX, MeterId
from bijli.web.auth import Auth, identity_of, needs_action
from bijli.web.context import WebContext
from bijli.web.limits import EDGE, Offset, Paged, Problem, audit_text, invalid, page_of

Action = Literal[
    "relay_connect",
    "relay_disconnect",
    "time_sync",
    "read_profile",
    "read_now",
    "credit",
    "hotspot_settings",
    "tariff",
]
ShownAction = Action | Literal["key_change", "cutoff_permit"]
"""A command as listed: also the key changes `bijli keys rotate` queues and the supply
service's cutoff permits (never asked here)."""
StatusName = Literal["queued", "sent", "acknowledged", "confirmed", "failed", "expired"]
MAX_EXPIRY_S = int(DEFAULT_POLICY.max_expiry.total_seconds())
MIN_EXPIRY_S = int(DEFAULT_POLICY.min_expiry.total_seconds())
DEFAULT_EXPIRY_S = int(DEFAULT_POLICY.default_expiry.total_seconds())


def no_requested_by(data: Any) -> Any:
    """Refuse a body that names who asks: that is whoever is signed in."""
    if isinstance(data, dict) and "requested_by" in data:
        raise ValueError("requested_by comes from who is signed in; leave it out of the body")
    return data


class NewCommand(BaseModel):
    """A command to ask of a meter; who asks is whoever is signed in."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def who_asks_is_signed_in(cls, data: Any) -> Any:
        return no_requested_by(data)

    action: Action
    args: dict[str, StrictInt] = Field(
        default_factory=dict,
        description='Per action: relay_disconnect {"for_credit": 0 | 1, "until": epoch} (optional), '
        'read_profile {"from": epoch, "to": epoch}, credit {"amount_paise": n}, '
        'hotspot_settings {"window_s": n}, tariff {"from": epoch of an IST midnight, "duty", "fixed", '
        '"r1".."r6", "s1".."s5"} in 1/10,000 rupee (docs/commands.md); none for the others.',
        examples=[{}],
    )
    reason: Annotated[str, audit_text(256, "Why; kept in the audit trail.")]
    idempotency_key: Annotated[
        str | None,
        audit_text(96, "Asking again with the same key returns the same command; default: a new key."),
    ] = None
    expires_in_s: Annotated[
        int,
        Field(ge=MIN_EXPIRY_S, le=MAX_EXPIRY_S, description="Seconds the command may take to be carried out."),
    ] = DEFAULT_EXPIRY_S


class HistoryEntry(BaseModel):
    at: datetime
    status: StatusName
    detail: str


class Command(BaseModel):
    command_id: str
    meter_id: str
    action: ShownAction
    args: dict[str, int]
    status: StatusName
    settled: bool = Field(description="Whether the status is final: nothing more will happen to the command.")
    requested_by: str
    reason: str
    idempotency_key: str
    attempts: int = Field(description="How many times it was sent to the meter.")
    detail: str = Field(description="The latest note: the meter's answer, the evidence, or why it failed.")
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    sent_at: datetime | None = Field(description="First sent.")
    last_sent_at: datetime | None
    acknowledged_at: datetime | None
    confirmed_at: datetime | None
    failed_at: datetime | None
    expired_at: datetime | None
    history: list[HistoryEntry] = Field(description="The audit trail, oldest first; the first entry says who and why.")


class CommandPage(Paged):
    items: list[Command]


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def command_out(c: CommandRecord) -> Command:
    return Command(
        command_id=c.command_id,
        meter_id=c.meter_id,
        action=c.action,  # type: ignore[arg-type]  # stored only after check_args
        args=c.args,
        status=c.status.value,
        settled=settled(c.action, c.status),
        requested_by=c.requested_by,
        reason=c.reason,
        idempotency_key=c.idempotency_key,
        attempts=c.attempts,
        detail=c.detail,
        created_at=c.created_at.astimezone(UTC),
        updated_at=c.updated_at.astimezone(UTC),
        expires_at=c.expires_at.astimezone(UTC),
        sent_at=_utc(c.first(Status.SENT)),
        last_sent_at=_utc(c.last_sent_at),
        acknowledged_at=_utc(c.first(Status.ACKNOWLEDGED)),
        confirmed_at=_utc(c.first(Status.CONFIRMED)),
        failed_at=_utc(c.first(Status.FAILED)),
        expired_at=_utc(c.first(Status.EXPIRED)),
        history=[HistoryEntry(at=h.at.astimezone(UTC), status=h.status.value, detail=h.detail) for h in c.history],
    )


ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such meter."},
    409: {"model": Problem, "description": "The idempotency key was used for a different request."},
}


def router(ctx: WebContext) -> APIRouter:
    """The command routes over one platform."""
    api = APIRouter(prefix=PREFIX, tags=["v1", "commands"], responses=EDGE)
    platform = ctx.platform
    auth = Auth(ctx)

    @api.post(
        "/meters/{meter_id}/commands",
        response_model=Command,
        status_code=202,
        responses={200: {"model": Command, "description": "Asked before with this key: the same command."}, **ERRORS},
        dependencies=[Depends(auth.command())],
    )
    def ask(
        meter_id: MeterId,
        body: NewCommand,
        response: Response,
        http: Request,
    ) -> Command:
        """Ask a meter to do something. The command is stored and sent when the meter is online.
        Each action needs its own permission (docs/api.md); the audit trail names who asked."""
        who = identity_of(http)
        needs_action(who, body.action)
        now = ctx.clock.now()
        request = CommandRequest(
            meter_id=meter_id,
            action=body.action,
            args=body.args,
            reason=body.reason,
            requested_by=who.name,
            idempotency_key=body.idempotency_key or str(uuid.uuid4()),
            expires_in=timedelta(seconds=body.expires_in_s),
        )
        try:
            command, new = submit_command(platform.store, request, now)
        except InvalidCommand as e:
            raise invalid("body", "args", str(e), body.args) from e
        except UnknownMeter as e:
            raise HTTPException(status_code=404, detail=f"meter {meter_id} not found") from e
        except MeterNotInService as e:
            raise HTTPException(status_code=409, detail=str(e)) from e
        except IdempotencyConflict as e:
            detail = f"{e}: command {e.existing.command_id}"
            raise HTTPException(status_code=409, detail=detail) from e
        if not new:
            response.status_code = 200
        return command_out(command)

    @api.get(
        "/commands/{command_id}",
        response_model=Command,
        responses={404: {"model": Problem, "description": "No such command."}},
        dependencies=[Depends(auth.needs(Permission.READ_FLEET))],
    )
    def one(command_id: Annotated[str, Path(max_length=40)]) -> Command:
        """A command with its lifecycle and audit trail."""
        command = platform.queries.command(command_id)
        if command is None:
            raise HTTPException(status_code=404, detail=f"command {command_id} not found")
        return command_out(command)

    @api.get(
        "/meters/{meter_id}/commands",
        response_model=CommandPage,
        responses={404: ERRORS[404]},
        dependencies=[Depends(auth.needs(Permission.READ_FLEET))],
    )
    def of_meter(
        meter_id: MeterId,
        limit: Annotated[int, Query(ge=1, le=500, description="How many, newest first.")] = 50,
        offset: Offset = 0,
    ) -> CommandPage:
        """The meter's commands, newest first."""
        if not ctx.reads.known(meter_id):
            raise HTTPException(status_code=404, detail=f"meter {meter_id} not found")
        found, next_offset = page_of(platform.queries.commands_of(meter_id, limit + 1, offset), limit, offset)
        return CommandPage(items=[command_out(c) for c in found], limit=limit, offset=offset, next_offset=next_offset)

    return api
