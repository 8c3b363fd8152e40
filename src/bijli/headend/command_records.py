"""Commands as requested and as stored, and the ways asking can fail. Pure."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bijli.headend.commands import Status
from bijli.protocol.frames import CommandFrame


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandRequest:
    """What an operator (or another system) asks for."""

    meter_id: str
    action: str
    args: Mapping[str, int]
    reason: str
    requested_by: str
    idempotency_key: str
    expires_in: timedelta


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    status: Status
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandRecord:
    """A command as stored, with its audit trail, oldest entry first."""

    command_id: str
    idempotency_key: str
    meter_id: str
    action: str
    args: dict[str, int]
    status: Status
    requested_by: str
    reason: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    attempts: int
    last_sent_at: datetime | None
    detail: str
    history: tuple[HistoryEntry, ...] = field(default_factory=tuple)

    def first(self, status: Status) -> datetime | None:
        """When the command first reached `status`, from its audit trail."""
        return next((h.at for h in self.history if h.status == status), None)

    def asks_the_same_as(self, request: CommandRequest) -> bool:
        return (
            self.meter_id == request.meter_id
            and self.action == request.action
            and self.args == dict(request.args)
            and self.reason == request.reason
            and self.requested_by == request.requested_by
            and self.expires_at - self.created_at == request.expires_in
        )

    @property
    def args_text(self) -> str:
        return args_text(self.args)


def args_text(args: Mapping[str, int]) -> str:
    """A command's arguments as the store keeps them."""
    return json.dumps(dict(args), sort_keys=True, separators=(",", ":"))


def new_command(request: CommandRequest, now: datetime) -> CommandRecord:
    """A queued command for `request`, with a new id and its first audit entry."""
    return CommandRecord(
        command_id=str(uuid.uuid4()),
        idempotency_key=request.idempotency_key,
        meter_id=request.meter_id,
        action=request.action,
        args=dict(request.args),
        status=Status.QUEUED,
        requested_by=request.requested_by,
        reason=request.reason,
        created_at=now,
        updated_at=now,
        expires_at=now + request.expires_in,
        attempts=0,
        last_sent_at=None,
        detail="",
        history=(HistoryEntry(now, Status.QUEUED, f"requested by {request.requested_by}: {request.reason}"),),
    )


@dataclass(frozen=True, slots=True)
class CommandState:
    """Where a stored command is: what a step needs to know to move it."""

    command_id: str
    meter_id: str
    action: str
    status: Status
    attempts: int


@dataclass(frozen=True, slots=True)
class Claimed:
    """What one sending round took: the frames to publish (already counted as sent)."""

    frames: list[CommandFrame]
    held: int
    """Left queued for the rate limits (or because another worker held the meter)."""
    gave_up: int
    key_versions: dict[str, int] = field(default_factory=dict)
    """The key version each frame's meter holds, where the store records one (otherwise the
    site's current version): what the frame is sealed with."""


class InvalidCommand(ValueError):
    """The action or its arguments are not something a meter could do."""


class MeterNotInService(RuntimeError):
    """The meter is registered but not commissioned; it takes no commands."""


class IdempotencyConflict(RuntimeError):
    """The idempotency key was used for a different request."""

    def __init__(self, existing: CommandRecord) -> None:
        super().__init__(f"idempotency key {existing.idempotency_key!r} was used for a different request")
        self.existing = existing
