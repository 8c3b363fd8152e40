"""Actions on many meters at once: asked by one person, carried out only once a second
person approves; each meter then gets its own command, under a key that makes it once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from bijli.access.model import BULK_ACTIONS
from bijli.access.ports import BulkRequest, BulkUnit, bulk_meter_list
from bijli.headend.command_records import CommandRequest, MeterNotInService
from bijli.headend.commands import DEFAULT_POLICY
from bijli.headend.handlers import submit_command
from bijli.kernel.unit import Transactions
from bijli.mdm.meters import UnknownMeter

MAX_METERS = 1000
MAX_REASON = 200
"""The reason, with the request and the approver added, fits a command's 256 characters."""


class BulkRefused(Exception):
    """The request cannot be decided so: the same person, or decided already (the message says)."""


class UnknownBulkRequest(LookupError):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkOutcome:
    meter_id: str
    command_id: str | None
    problem: str = ""
    """Why no command was made for this meter (unknown, out of service)."""


def request_bulk(
    store: Transactions[BulkUnit], action: str, meter_ids: list[str], reason: str, requested_by: str, now: datetime
) -> BulkRequest:
    """Ask for `action` on many meters; nothing is sent until a second person approves.
    ValueError for an action that cannot be asked in bulk, no meters or too many, no reason."""
    if action not in BULK_ACTIONS:
        raise ValueError(f"{action} cannot be asked of many meters at once; one of {', '.join(BULK_ACTIONS)}")
    meters = bulk_meter_list(meter_ids)
    if not 1 <= len(meters) <= MAX_METERS:
        raise ValueError(f"a bulk request names 1 to {MAX_METERS} meters")
    if not reason.strip() or len(reason) > MAX_REASON:
        raise ValueError(f"a reason of 1 to {MAX_REASON} characters is needed")
    request = BulkRequest(
        request_id=str(uuid.uuid4()),
        action=action,
        meter_ids=meters,
        reason=reason,
        requested_by=requested_by,
        requested_at=now,
        status="pending",
    )
    with store.transaction() as uow:
        uow.bulk.add(request)
    return request


def _get(uow: BulkUnit, request_id: str) -> BulkRequest:
    found = uow.bulk.get(request_id)
    if found is None:
        raise UnknownBulkRequest(request_id)
    return found


def bulk_request(store: Transactions[BulkUnit], request_id: str) -> tuple[BulkRequest, list[BulkOutcome]]:
    """A request, and once approved the command each meter got."""
    with store.transaction() as uow:
        request = _get(uow, request_id)
        if request.status != "approved":
            return request, []
        outcomes = []
        for meter_id in request.meter_ids:
            command = uow.commands.by_key(_key(request, meter_id))
            problem = "" if command is not None else "no command: the meter was unknown or out of service"
            command_id = None if command is None else command.command_id
            outcomes.append(BulkOutcome(meter_id=meter_id, command_id=command_id, problem=problem))
    return request, outcomes


def bulk_requests(store: Transactions[BulkUnit], status: str | None, limit: int, offset: int) -> list[BulkRequest]:
    """Bulk requests (of one status, or all), newest first."""
    with store.transaction() as uow:
        return uow.bulk.page(status, limit, offset)


def _key(request: BulkRequest, meter_id: str) -> str:
    return f"bulk:{request.request_id}:{meter_id}"


def approve_bulk(
    store: Transactions[BulkUnit], request_id: str, approved_by: str, now: datetime
) -> tuple[BulkRequest, list[BulkOutcome]]:
    """Approve a pending request (never the person who asked) and ask each meter for the
    action. Approving again, by the same approver, asks again for what is missing (after a
    crash midway) and makes nothing twice. UnknownBulkRequest, BulkRefused."""
    with store.transaction() as uow:
        request = _get(uow, request_id)
        if request.requested_by == approved_by:
            raise BulkRefused(f"{approved_by} asked for this; a second person must approve it")
        if request.status == "pending":
            if not uow.bulk.decide(request_id, "approved", approved_by, now, ""):
                raise BulkRefused("the request was decided meanwhile; look at it again")
        elif not (request.status == "approved" and request.decided_by == approved_by):
            raise BulkRefused(f"the request is {request.status} already (by {request.decided_by})")
        request = _get(uow, request_id)
    outcomes = []
    for meter_id in request.meter_ids:
        asked = CommandRequest(
            meter_id=meter_id,
            action=request.action,
            args={},
            reason=f"{request.reason} (bulk {request.request_id[:8]}, approved by {approved_by})",
            requested_by=request.requested_by,
            idempotency_key=_key(request, meter_id),
            expires_in=DEFAULT_POLICY.default_expiry,
        )
        try:
            command, _ = submit_command(store, asked, now)
        except UnknownMeter:
            outcomes.append(BulkOutcome(meter_id=meter_id, command_id=None, problem=f"meter {meter_id} not found"))
            continue
        except MeterNotInService as e:
            outcomes.append(BulkOutcome(meter_id=meter_id, command_id=None, problem=str(e)))
            continue
        outcomes.append(BulkOutcome(meter_id=meter_id, command_id=command.command_id))
    return request, outcomes


def refuse_bulk(
    store: Transactions[BulkUnit], request_id: str, refused_by: str, note: str, now: datetime
) -> BulkRequest:
    """Refuse (or, for the person who asked, withdraw) a pending request: nothing is sent."""
    with store.transaction() as uow:
        _get(uow, request_id)
        if not uow.bulk.decide(request_id, "refused", refused_by, now, note):
            found = _get(uow, request_id)
            raise BulkRefused(f"the request is {found.status} already (by {found.decided_by})")
        return _get(uow, request_id)
